"""The uvicorn HTTP protocol SyncKit runs with: uvicorn's ``httptools`` one, with a deadline
and a size limit for each request head, a least rate for each request body, and a deadline for
each response's progress.

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

Nor does anything bound how long a request body may take: a POST announcing 1,000 bytes and
sending two was held for good, a connection and a task each, from anyone. Here a body must
have arrived at ``min_body_rate`` bytes a second on average, counted from ``head_timeout``
seconds after its head (a slow but honest link sends far faster: 8 MiB at 1 KiB/s would take
two hours), or it gets ``408 Request Timeout`` and the connection is closed. While the server
itself holds the body back (uvicorn stops reading until the app takes what it has), it is not
counted against the sender.

And nothing dropped a client that stops reading its response: the whole response sits in the
transport's buffer until it is read (forty requests for a 5 MB JSON view, never read, took the
server from 86 to 476 MiB, for good). Here a response whose unsent bytes have not gone down for
``send_timeout`` seconds while the transport holds them back (the same rule as a WebSocket
frame's) aborts the connection, and its buffer goes with it.
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


_BODY_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 27\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request body came too slow\n"
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
        min_body_rate: int = 1024,
        send_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._max_head_bytes = max_head_bytes
        self._head_bytes = 0  # read while the awaited head was not complete
        self._min_body_rate = min_body_rate
        # The body being read: when its head completed, its bytes so far, and the check of
        # its rate (None: no body awaited).
        self._body_since = 0.0
        self._body_bytes = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_grace = True
        # While writing is paused: the bytes the transport held at the last look, and the
        # next look.
        self._send_timeout = send_timeout
        self._unsent = 0
        self._send_timer: asyncio.TimerHandle | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # bytes of the awaited head arrived
        self._head_grace = True  # the timer, once due, waits one round of reads more

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        self._disarm_send_timer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        transport = self.transport
        if self._send_timer is None and transport is not None:
            self._unsent = transport.get_write_buffer_size()
            self._send_timer = self.loop.call_later(self._send_timeout, self._check_sending)

    def resume_writing(self) -> None:
        self._disarm_send_timer()
        super().resume_writing()

    def _disarm_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _check_sending(self) -> None:
        """Abort the connection if the bytes it holds back did not go down for
        ``send_timeout`` seconds; else look again in as long."""
        self._send_timer = None
        transport = self.transport
        # (A closing transport counts too: a response written whole and closed after waits
        # in its buffer until it is read, and the transport closes only then.)
        if transport is None or transport.get_protocol() is not self:
            return
        unsent = transport.get_write_buffer_size()
        if unsent < self._unsent:
            self._unsent = unsent
            self._send_timer = self.loop.call_later(self._send_timeout, self._check_sending)
            return
        transport.abort()  # its buffer goes with it; the app sees the client gone

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
        if not self.parser.should_upgrade():  # (an upgrade has no body: its protocol goes on)
            self._disarm_body_timer()
            self._body_since = self.loop.time()
            self._body_bytes = 0
            self._body_grace = True
            self._body_timer = self.loop.call_later(self._head_timeout, self._check_body_rate)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm_body_timer()
        super().on_message_complete()

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _check_body_rate(self) -> None:
        """Close the connection (408) if its body came slower than ``min_body_rate`` since
        ``head_timeout`` seconds after its head; else look again when it would be late."""
        self._body_timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or transport.get_protocol() is not self:
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return  # answered already (the app did not wait for the rest)
        elapsed = self.loop.time() - self._body_since
        rate = self._min_body_rate
        owed = (elapsed - self._head_timeout) * rate - self._body_bytes
        if owed <= 0 or self.flow.read_paused:
            # On time (or held back by this server, not the sender): look again once the
            # bytes so far no longer cover the time.
            wait = max(1.0, self._head_timeout + self._body_bytes / rate - elapsed)
            self._body_timer = self.loop.call_later(wait, self._check_body_rate)
            return
        if self._body_grace:  # (bytes that came in time may be unread yet: see below)
            self._body_grace = False
            self._body_timer = self.loop.call_later(0.05, self._check_body_rate)
            return
        if not cycle.response_started:
            transport.write(_BODY_TIMEOUT_RESPONSE)
        transport.close()

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
