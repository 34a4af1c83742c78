"""The uvicorn HTTP protocol SyncKit runs with: uvicorn's ``httptools`` one, with a deadline
and a size limit for each request head.

uvicorn's ``timeout_keep_alive`` only runs between requests: a connection that sends nothing
after connecting, or sends part of a request head and stops (a slow-loris client, or an
upgrade request cut short), is held open for ever, a file descriptor and a protocol object
each. Here every request head must be complete within ``head_timeout`` seconds of the
connection opening (the first request) or of its first byte (a later request on a kept-alive
connection); adding bytes slowly does not move that deadline. A connection that sent nothing
is closed; one that sent part of a head gets ``408 Request Timeout`` and is closed.

Neither httptools nor uvicorn bounds a request head's size: one request with a 10 MB header
was read whole and its headers kept for the request's life, and a head may grow as fast as the
sender can send for ``head_timeout`` seconds, on as many connections as it opens. Here a head
that grows past ``max_head_bytes`` gets ``431 Request Header Fields Too Large`` and the
connection is closed. (Counted in reads: the read that completes a head is not counted, one
that starts a pipelined request's head counts whole, so a head is refused between
``max_head_bytes`` and that plus one read, 256 KiB, past it.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpProtocol"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 27\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request head took too long\n"
)


def _too_large_response(limit: int) -> bytes:
    body = f"request head larger than {limit} bytes (max_head_bytes)\n".encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\n"
        b"connection: close\r\n"
        b"\r\n" % len(body)
    ) + body


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request head is late or too
    large.

    uvicorn makes one per connection with its own keyword arguments; bind ``head_timeout``
    and ``max_head_bytes`` with :func:`functools.partial` (see
    :func:`synckit.server._run.uvicorn_config`).
    """

    def __init__(
        self,
        *args: Any,
        head_timeout: float = 5.0,
        max_head_bytes: int = 64 * 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._max_head_bytes = max_head_bytes
        self._head_bytes = 0  # read while the awaited head was not complete
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # bytes of the awaited head arrived
        self._head_grace = True  # the timer, once due, waits one round of reads more

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        if self._head_timer is None:  # a later request on a kept-alive connection
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._head_started = False
        self._head_bytes = 0
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._head_started:
            return
        self._head_bytes += len(data)
        if self._head_bytes > self._max_head_bytes:
            transport = self.transport
            if transport is not None and not transport.is_closing():
                self._disarm_head_timer()
                transport.write(_too_large_response(self._max_head_bytes))
                transport.close()

    def _arm_head_timer(self) -> None:
        self._head_grace = True
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        if self._head_grace:
            # uvloop runs due timers before it reads the sockets: after the loop was held up
            # past the deadline, a head that did arrive in time may still be unread. One more
            # short wait lets one round of reads happen first.
            self._head_grace = False
            self._head_timer = self.loop.call_later(0.05, self._head_timed_out)
            return
        self._head_timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._head_started:
            transport.write(_TIMEOUT_RESPONSE)
        transport.close()
