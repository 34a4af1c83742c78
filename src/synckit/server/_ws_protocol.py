"""The uvicorn WebSocket protocol SyncKit runs with: uvicorn's sans-I/O ``websockets`` one
(the smallest per connection of uvicorn's implementations), made smaller still and able to
drop a stuck connection at once.

A server holds thousands of idle connections, so what each keeps matters: the handshake's
request's headers and the response are let go once the WebSocket is accepted, and the
receive queue and the writable flag are small slotted objects instead of an
``asyncio.Queue`` (three deques) and an ``asyncio.Event`` (one deque). The app may call the
scope extension :data:`~synckit.server._socket.ABORT_EXTENSION` to abort the transport,
discarding its write buffer (a plain close waits for a client that never reads), and
:data:`~synckit.server._socket.SEND_NOW_EXTENSION` to write a binary frame at once, without
an ASGI ``send`` (a task switch and a message dict per frame): a broadcast to a thousand
connections then costs a thousand socket writes and little else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from synckit.server._socket import (
    ABORT_EXTENSION,
    RECEIVE_NOW_EXTENSION,
    SEND_NOW_EXTENSION,
    STOP_MESSAGE,
)

__all__ = ["WebSocketProtocol"]


class _Mailbox:
    """What uvicorn's protocol uses of an ``asyncio.Queue``, for one consumer."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Flag:
    """What uvicorn's protocol uses of an ``asyncio.Event``."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, lighter per connection and abortable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Mailbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        #: The app's ``on_bytes`` (see RECEIVE_NOW_EXTENSION); None: every message is queued.
        self.on_bytes: Callable[[bytes], bool] | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][ABORT_EXTENSION] = self._abort_transport
            scope["extensions"][SEND_NOW_EXTENSION] = self._send_now
            scope["extensions"][RECEIVE_NOW_EXTENSION] = self._receive_now
        del self.request  # only the handshake needed it
        # websockets' parser keeps the request alive (a local of its generator) for the
        # connection's lifetime; its headers were copied into the scope above.
        event.headers.clear()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and hasattr(self, "response"):
            del self.response  # sent: only the handshake needed it

    def _receive_now(self, on_bytes: Callable[[bytes], bool]) -> None:
        self.on_bytes = on_bytes

    def send_receive_event_to_app(self) -> None:
        on_bytes = self.on_bytes
        if (
            on_bytes is None
            or self.curr_msg_data_type != "bytes"
            or self.close_sent
            or not self.queue.empty()  # the app has messages to take first
        ):
            super().send_receive_event_to_app()
            return
        frames, self.frames = self.frames, []
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if not on_bytes(data):
            self.on_bytes = None
            stop: Any = {"type": STOP_MESSAGE}  # not an ASGI message: SyncKit's own
            self.queue.put_nowait(stop)

    def _send_now(self, frames: list[bytes]) -> bool:
        """Write ``frames`` as binary frames now, in one write; False (nothing written) when
        the socket's buffer is full (flow control paused writing), the handshake is not
        complete, or the WebSocket is closing: the caller then sends them through ASGI,
        which waits."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        conn = self.conn
        if conn.state is not State.OPEN or conn.expect_continuation_frame or conn.extensions:
            for data in frames:
                conn.send_binary(data)  # raises where a frame may not be sent; never so far
            self.transport.write(b"".join(conn.data_to_send()))
            return True
        # A server's unmasked, unfragmented binary frames with no extension: their headers,
        # written here instead of through websockets Frames (the same bytes, less work).
        parts: list[bytes] = []
        if conn.writes:  # bytes websockets queued and nobody wrote yet (none so far)
            parts.append(b"".join(conn.data_to_send()))
        for data in frames:
            size = len(data)
            if size < 126:
                parts.append(bytes((0x82, size)))
            elif size < 65536:
                parts.append(b"\x82\x7e" + size.to_bytes(2, "big"))
            else:
                parts.append(b"\x82\x7f" + size.to_bytes(8, "big"))
            parts.append(data)
        self.transport.write(b"".join(parts))
        return True

    def _abort_transport(self) -> None:
        self.transport.abort()
