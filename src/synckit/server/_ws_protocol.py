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

Once the app gave a charge through :data:`~synckit.server._socket.READ_BUDGET_EXTENSION`,
the frames of each read are handled in slices of at most :data:`SLICE_SECONDS`, each at its
own turn of the loop, with reading paused while frames wait or the sender owes time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from synckit.server._socket import (
    ABORT_EXTENSION,
    FRAME_LIMIT_EXTENSION,
    READ_BUDGET_EXTENSION,
    RECEIVE_NOW_EXTENSION,
    SEND_NOW_EXTENSION,
    STOP_MESSAGE,
)

#: Seconds of handling one connection's incoming frames at one turn of the event loop at
#: most: one read can hold tens of thousands of small frames (256 KiB of Pings is 20,000),
#: which handled at once would hold every other connection for the better part of a second.
SLICE_SECONDS = 0.005

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
        #: The app's ``charge`` (see READ_BUDGET_EXTENSION); None: frames handled as read.
        self.charge_read: Callable[[float], float] | None = None
        # Frames parsed and not handled yet (with charge_read; None when there are none: an
        # empty deque costs an idle connection 600 bytes), and the call that handles the next
        # slice of them (while it is due, reading is paused).
        self._unhandled: deque[Request | Response | Frame] | None = None
        self._next_slice: asyncio.TimerHandle | asyncio.Handle | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][ABORT_EXTENSION] = self._abort_transport
            scope["extensions"][SEND_NOW_EXTENSION] = self._send_now
            scope["extensions"][RECEIVE_NOW_EXTENSION] = self._receive_now
            scope["extensions"][READ_BUDGET_EXTENSION] = self._read_budget
            scope["extensions"][FRAME_LIMIT_EXTENSION] = self._frame_limit
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

    def _read_budget(self, charge: Callable[[float], float]) -> None:
        self.charge_read = charge

    def _frame_limit(self, limit: int | None) -> None:
        """Messages larger than ``limit`` bytes (None: the configured ``ws_max_size``)
        close the connection (1009) as soon as their header says so."""
        configured = self.config.ws_max_size
        self.conn.max_message_size = configured if limit is None else min(limit, configured)

    # -- incoming frames in slices, within the sender's budget --------------------------

    def handle_events(self) -> None:
        if self.charge_read is None:
            super().handle_events()
            return
        events = self.conn.events_received()
        if self._unhandled is None:
            self._unhandled = deque(events)
        else:
            self._unhandled.extend(events)
        if self._next_slice is None:  # (else reading resumed early: the slice due goes on)
            self._handle_slice()
        else:
            self._hold_reading()

    def _handle_slice(self) -> None:
        """Handle the frames read and not handled yet for at most :data:`SLICE_SECONDS`,
        charge the time, and while frames are left or the sender owes time, pause reading
        and come back at the next turn of the loop or once the time is repaid."""
        self._next_slice = None
        charge, unhandled = self.charge_read, self._unhandled
        if charge is None or self.transport.is_closing():
            self._unhandled = None
            return
        if unhandled is None:  # (a slice that waited for the time owed: read on if repaid)
            unhandled = deque()
        started = time.perf_counter()
        elapsed = 0.0
        while unhandled and elapsed < SLICE_SECONDS:
            self._handle_event(unhandled.popleft())
            elapsed = time.perf_counter() - started
        wait = charge(elapsed)
        if self.transport.is_closing():
            unhandled.clear()
        if not unhandled:
            self._unhandled = None
        if self.transport.is_closing():
            return
        if wait > 0.0:
            self._hold_reading()
            self._next_slice = self.loop.call_later(wait, self._handle_slice)
        elif unhandled:
            self._hold_reading()
            self._next_slice = self.loop.call_soon(self._handle_slice)
        elif self.read_paused and self.queue.empty():
            # Paused here (uvicorn pauses only while a message waits in its queue): read on.
            self.read_paused = False
            self.transport.resume_reading()

    def _hold_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _handle_event(self, event: Request | Response | Frame) -> None:
        """What uvicorn's ``handle_events`` does with one event."""
        if isinstance(event, Request):
            self.handle_connect(event)
            return
        if not isinstance(event, Frame):
            return  # (a Response: a server is never sent one)
        opcode = event.opcode
        if opcode == Opcode.BINARY:
            self.handle_bytes(event)
        elif opcode == Opcode.TEXT:
            self.handle_text(event)
        elif opcode == Opcode.CONT:
            self.handle_cont(event)
        elif opcode == Opcode.PING:
            self.handle_ping()
        elif opcode == Opcode.PONG:
            self.handle_pong(event)
        elif opcode == Opcode.CLOSE:
            self.handle_close(event)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._next_slice is not None:
            self._next_slice.cancel()
            self._next_slice = None
        if self._unhandled is not None:
            self._unhandled.clear()  # (a slice being handled stops at its next frame)
            self._unhandled = None
        super().connection_lost(exc)

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
