"""One protocol session per WebSocket, in plain ASGI.

Kept small because a server holds thousands of these: no Starlette ``WebSocket`` object and no
task of its own while idle. The ASGI handler's own task reads (frames -> :meth:`Hub.receive`).
Where the ASGI server offers :data:`SEND_NOW_EXTENSION` (SyncKit's uvicorn protocol does),
frames are written at once while the socket takes them; a writer task exists only while the
connection has frames the socket did not take (a full buffer, or the close), and sends them
one at a time, so a frame stays counted in the connection's queue
(:class:`~synckit.server.Limits`) until the ASGI server has taken it. Under uvicorn that
happens only while the transport's write buffer is below its high-water mark: a client that
stops reading makes the server hold at most its queue limit plus that buffer, is told
``SLOW_CONSUMER`` once the queue overflows, and is dropped when a frame could not be sent
within ``send_timeout`` (its transport aborted, see :data:`ABORT_EXTENSION`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from synckit.protocol import Error, ErrorCode
from synckit.server._connection import Connection
from synckit.server._hub import Hub

__all__ = [
    "ABORT_EXTENSION",
    "FRAME_LIMIT_EXTENSION",
    "READ_BUDGET_EXTENSION",
    "RECEIVE_NOW_EXTENSION",
    "SEND_NOW_EXTENSION",
    "STOP_MESSAGE",
    "Link",
    "serve_socket",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: ASGI scope extension under which the server may offer a callable that drops the
#: connection at once, buffered bytes and all (SyncKit's uvicorn protocol does). Without it a
#: stuck connection's handler is cancelled instead, and the ASGI server closes it in its time.
ABORT_EXTENSION = "synckit.abort"

#: ASGI scope extension under which the server may offer ``send_now(frames) -> bool``: write
#: a list of binary WebSocket frames synchronously, all in one write, or return False (none
#: written) when it cannot now (its write buffer is full, or the socket is closing).
SEND_NOW_EXTENSION = "synckit.send_now"

#: ASGI scope extension under which the server may offer ``receive_now(on_bytes)``: from then
#: on, each binary message is handed to ``on_bytes(data) -> bool`` as soon as it is parsed,
#: instead of being queued as an ASGI ``websocket.receive`` message (a message dict, a queue,
#: a task switch and a pause and resume of reading each). Only while nothing else waits in
#: the queue, so that messages still reach the app in the order they came. ``on_bytes``
#: returns False once the app is done with the connection: the server stops handing it
#: messages and queues :data:`STOP_MESSAGE` for the app's next ``receive()``.
RECEIVE_NOW_EXTENSION = "synckit.receive_now"

#: ASGI scope extension under which the server may offer ``read_budget(charge)``: from then
#: on it calls ``charge(seconds) -> float`` with the event-loop time each slice of the
#: connection's incoming frames took to handle, and stops reading from it for the seconds
#: ``charge`` returns (see ``Limits.read_share``).
READ_BUDGET_EXTENSION = "synckit.read_budget"

#: ASGI scope extension under which the server may offer ``frame_limit(n)``: from then on,
#: messages from the client larger than ``n`` bytes close the connection (WebSocket 1009)
#: before they are read; ``frame_limit(None)`` restores the server's configured limit. Until
#: its Hello is accepted a client may send nothing but that Hello, so a connection starts
#: with a small limit (``Limits.hello_frame_bytes``): someone with no token cannot make the
#: server read, unmask and parse a message of the full frame limit on every connection.
FRAME_LIMIT_EXTENSION = "synckit.frame_limit"

#: The ``type`` of the message that follows ``on_bytes`` returning False.
STOP_MESSAGE = "synckit.stop"

# WebSocket close codes for the error that ended a session.
CLOSE_CODES = {
    ErrorCode.FRAME_TOO_LARGE: 1009,
    ErrorCode.SLOW_CONSUMER: 1013,
    ErrorCode.SHUTTING_DOWN: 1001,
    ErrorCode.INTERNAL: 1011,
}


class Link:
    """The I/O side of one connection: writes its queued frames to the ASGI ``send``."""

    __slots__ = (
        "_abort",
        "_frame_limit",
        "_send",
        "_send_now",
        "_task",
        "_timeout",
        "conn",
        "gone",
        "writer",
    )

    def __init__(
        self,
        send: Send,
        send_timeout: float,
        abort: Callable[[], None] | None,
        send_now: Callable[[list[bytes]], bool] | None = None,
        frame_limit: Callable[[int | None], None] | None = None,
    ) -> None:
        self._send = send
        self._send_now = send_now
        #: The transport's frame_limit while the handshake's smaller limit holds.
        self._frame_limit = frame_limit
        self._timeout = send_timeout
        self._abort = abort
        self._task = asyncio.current_task()
        self.conn: Connection | None = None
        #: The transport is gone (or given up on): nothing more is sent.
        self.gone = False
        #: The task sending frames, while there are any.
        self.writer: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Frames were queued (or the session ended): write them now where the socket takes
        them, else make sure a writer is running."""
        if self.writer is not None or self.gone:
            return
        conn, send_now = self.conn, self._send_now
        if self._frame_limit is not None and conn is not None and conn.principal is not None:
            # The Hello was accepted (its Welcome is queued): frames of any allowed size
            # may follow, and the limit is the configured one before the client can send one.
            self._frame_limit(None)
            self._frame_limit = None
        if send_now is not None and conn is not None and not conn.closed:
            if conn.outbox and send_now(conn.outbox):
                conn.take_frames()  # written, all in one go
            if not conn.outbox:
                return
        self.writer = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        conn = self.conn
        assert conn is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as deadline:
                while (frame := conn.pop_frame()) is not None:
                    deadline.reschedule(loop.time() + self._timeout)
                    await self._send({"type": "websocket.send", "bytes": frame})
                if conn.closed:
                    self.gone = True
                    error = conn.session.error
                    code = 1000 if error is None else CLOSE_CODES.get(error.code, 1008)
                    reason = "" if error is None else error.message[:120]
                    deadline.reschedule(loop.time() + self._timeout)
                    await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (TimeoutError, OSError, RuntimeError):
            # The client is gone or stuck: drop the connection; it resyncs when it returns.
            self.drop()
        finally:
            self.writer = None

    def drop(self) -> None:
        """Give up on the transport: the session ends and the handler stops reading."""
        self.gone = True
        if self.conn is not None:
            self.conn.session.close()
            self.conn.take_frames()  # never to be sent
        if self._abort is not None:
            self._abort()  # the handler reads the disconnect that follows
        elif self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()


async def serve_socket(
    hub: Hub, scope: Scope, receive: Receive, send: Send, *, send_timeout: float
) -> None:
    """Serve one WebSocket (an ASGI ``websocket`` scope) until it closes."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    extensions = scope.get("extensions") or {}
    frame_limit = extensions.get(FRAME_LIMIT_EXTENSION)
    frame_limit = frame_limit if callable(frame_limit) else None
    if frame_limit is not None:  # (before the accept: the client says Hello once accepted)
        frame_limit(hub.limits.hello_frame_bytes)
    await send({"type": "websocket.accept"})
    abort, send_now = extensions.get(ABORT_EXTENSION), extensions.get(SEND_NOW_EXTENSION)
    link = Link(
        send,
        send_timeout,
        abort if callable(abort) else None,
        send_now if callable(send_now) else None,
        frame_limit,
    )
    conn = link.conn = hub.connect(link.wake)
    read_budget = extensions.get(READ_BUDGET_EXTENSION)
    if callable(read_budget):
        read_budget(lambda seconds: hub.charge_read(conn, seconds))
    failure: list[BaseException] = []
    receive_now = extensions.get(RECEIVE_NOW_EXTENSION)
    if callable(receive_now):

        def on_bytes(data: bytes) -> bool:
            try:
                hub.receive(conn, data)
            except BaseException as exc:  # raised in this task, as the queued path would
                failure.append(exc)
                return False
            return not conn.closed

        receive_now(on_bytes)
    try:
        while not conn.closed:
            message = await receive()
            kind = message["type"]
            if kind == STOP_MESSAGE:
                if failure:
                    raise failure[0]
                continue  # the connection is closed: the loop ends
            if kind == "websocket.disconnect":
                link.gone = True
                conn.session.close()
                break
            data = message.get("bytes")
            if data is None:
                refusal = "text frames are not part of the protocol: send binary frames"
                hub.refuse(conn, Error(ErrorCode.BAD_FRAME, refusal, fatal=True))
                break
            hub.receive(conn, data)
        # The session ended on our side: let the writer send what is left, then the close.
        link.wake()
        if link.writer is not None:
            await link.writer
    except asyncio.CancelledError:
        if not link.gone:
            raise
    finally:
        writer = link.writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        hub.disconnect(conn)
