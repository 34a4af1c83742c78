"""The ASGI shell: a Starlette app that moves bytes between WebSockets and a :class:`Hub`.

Each WebSocket gets a reader (frames -> :meth:`Hub.receive`) and a writer (the connection's
queued frames -> the socket), both owned by the connection's handler in one TaskGroup. The hub
decides everything else; this module only does I/O, timeouts and HTTP framing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from synckit.errors import DecodeError, StorageError
from synckit.protocol import Error, ErrorCode, check_doc_id
from synckit.server._hub import Authenticator, Connection, Hub, Limits
from synckit.server._store import MemoryStore, SQLiteStore, Store
from synckit.v1 import protocol_pb2 as pb

__all__ = ["SyncServer", "create_app", "open_store"]

DB_FILE = "synckit.db"

# WebSocket close codes for the error that ended a session.
_CLOSE_CODES = {
    ErrorCode.FRAME_TOO_LARGE: 1009,
    ErrorCode.SLOW_CONSUMER: 1013,
    ErrorCode.SHUTTING_DOWN: 1001,
    ErrorCode.INTERNAL: 1011,
}


def open_store(store: Store | str | Path | None) -> Store:
    """A store from what :func:`create_app` accepts: a Store as is, a directory (SQLite file
    ``synckit.db`` inside, created when missing), a ``.db``/``.sqlite`` file, or None (memory).
    """
    if store is None:
        return MemoryStore()
    if isinstance(store, str | Path):
        path = Path(store)
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            path.parent.mkdir(parents=True, exist_ok=True)
            return SQLiteStore(path)
        path.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(path / DB_FILE)
    return store


class SyncServer:
    """The I/O around one :class:`Hub`: WebSocket and HTTP endpoints.

    Args:
        store: see :func:`open_store`.
        limits: see :class:`Limits`.
        authenticate: see :class:`Hub`.
        send_timeout: seconds one frame may take to send before the client counts as gone.
    """

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
        send_timeout: float = 10.0,
    ) -> None:
        self.hub = Hub(open_store(store), limits=limits, authenticate=authenticate)
        self.send_timeout = send_timeout
        self._handlers = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- WebSocket --------------------------------------------------------------------

    async def sync_endpoint(self, ws: WebSocket) -> None:
        """``/v1/sync``: one protocol session per WebSocket."""
        await ws.accept()
        wake = asyncio.Event()
        conn = self.hub.connect(wake.set)
        self._handlers += 1
        self._idle.clear()
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._write(ws, conn, wake))
                if await self._read(ws, conn):  # the client went away: nothing more to send
                    writer.cancel()
        finally:
            self.hub.disconnect(conn)
            self._handlers -= 1
            if not self._handlers:
                self._idle.set()

    async def _read(self, ws: WebSocket, conn: Connection) -> bool:
        """Feed frames to the hub until the session ends (False: the writer has frames to
        flush, then closes) or the client disconnects (True)."""
        while not conn.closed:
            message = await ws.receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                conn.session.close()
                return True
            data = message.get("bytes")
            if data is None:
                self.hub.refuse(
                    conn,
                    Error(
                        ErrorCode.BAD_FRAME,
                        "text frames are not part of the protocol: send binary frames",
                        fatal=True,
                    ),
                )
                return False
            self.hub.receive(conn, data)
        return False

    async def _write(self, ws: WebSocket, conn: Connection, wake: asyncio.Event) -> None:
        try:
            while True:
                await wake.wait()
                wake.clear()
                frames = conn.take_frames()
                if frames:
                    # One timer per batch, not per frame: the fan-out path is hot.
                    async with asyncio.timeout(self.send_timeout):
                        for frame in frames:
                            await ws.send_bytes(frame)
                if conn.closed and not conn.outbox:
                    error = conn.session.error
                    code = 1000 if error is None else _CLOSE_CODES.get(error.code, 1008)
                    reason = "" if error is None else error.message[:120]
                    await ws.close(code, reason)
                    return
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            # The client is gone or stuck: drop the connection; it resyncs when it returns.
            conn.session.close()
            with contextlib.suppress(Exception):
                await ws.close(1011)

    # -- HTTP -------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        """``GET /health``."""
        return JSONResponse(
            {
                "status": "ok",
                "connections": len(self.hub.connections),
                "open_documents": len(self.hub.open_doc_ids),
            }
        )

    async def get_doc(self, request: Request) -> Response:
        """``GET /v1/docs/{doc_id}``: the document's JSON view, 404 when unknown."""
        doc_id = request.path_params["doc_id"]
        problem = check_doc_id(doc_id)
        if problem is not None:
            return _json_error(400, ErrorCode.INVALID_DOC_ID, problem)
        try:
            view = self.hub.doc_json(doc_id)
        except (StorageError, DecodeError) as exc:
            return _json_error(500, ErrorCode.INTERNAL, f"cannot read document: {exc}")
        if view is None:
            return JSONResponse(
                {"error": "NOT_FOUND", "message": f"no document {doc_id!r}"}, status_code=404
            )
        return JSONResponse(view)

    async def post_sync(self, request: Request) -> Response:
        """``POST /v1/docs/{doc_id}/sync``: the HTTP fallback (protobuf in and out)."""
        limit = self.hub.limits.max_frame_bytes
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                status, data = (
                    413,
                    _pb_error(
                        ErrorCode.FRAME_TOO_LARGE, f"body exceeds the limit of {limit} bytes"
                    ),
                )
                break
        else:
            status, data = self.hub.http_sync(request.path_params["doc_id"], bytes(body))
        return Response(data, status_code=status, media_type="application/x-protobuf")

    # -- lifetime ---------------------------------------------------------------------

    async def aclose(self, timeout: float = 5.0) -> None:
        """Graceful shutdown: tell clients, let writers flush, snapshot rooms, close store."""
        for conn in self.hub.connections:
            self.hub.refuse(conn, self.hub.shutting_down_error())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        self.hub.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    def routes(self) -> list[Any]:
        return [
            WebSocketRoute("/v1/sync", self.sync_endpoint),
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/docs/{doc_id}", self.get_doc, methods=["GET"]),
            Route("/v1/docs/{doc_id}/sync", self.post_sync, methods=["POST"]),
        ]


def create_app(
    store: Store | str | Path | None = None,
    *,
    limits: Limits | None = None,
    authenticate: Authenticator | None = None,
    send_timeout: float = 10.0,
) -> Starlette:
    """The SyncKit server as a Starlette (ASGI) app.

    Serves ``WS /v1/sync``, ``GET /health``, ``GET /v1/docs/{id}`` and
    ``POST /v1/docs/{id}/sync``. The :class:`SyncServer` is ``app.state.synckit``; the app's
    lifespan closes it. Mounted inside another app (whose lifespan Starlette does not run for
    mounted apps), call ``await app.state.synckit.aclose()`` from the outer app's lifespan.

    Args:
        store: a :class:`Store`, a data directory (SQLite inside), or None for memory.
    """
    server = SyncServer(store, limits=limits, authenticate=authenticate, send_timeout=send_timeout)
    app = Starlette(routes=server.routes(), lifespan=server.lifespan)
    app.state.synckit = server
    return app


def _pb_error(code: ErrorCode, message: str) -> bytes:
    return pb.Error(
        code=pb.ErrorCode.ValueType(code), message=message, fatal=True
    ).SerializeToString()


def _json_error(status: int, code: ErrorCode, message: str) -> Response:
    return JSONResponse({"error": code.name, "message": message}, status_code=status)
