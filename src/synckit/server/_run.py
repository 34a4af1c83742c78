"""Running the app with uvicorn: from the command line, or inside an asyncio program."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from synckit.errors import SyncKitError
from synckit.server._http_protocol import HttpProtocol
from synckit.server._limits import Limits
from synckit.server._ws_protocol import WebSocketProtocol

__all__ = ["bind", "running", "uvicorn_config"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        OSError: the address is taken or invalid.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it Nagle + delayed ACKs hold small frames back for ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    return f"http://{shown}:{port}"


def uvicorn_config(
    app: Any,
    *,
    log_level: str = "warning",
    factory: bool = False,
    max_frame_bytes: int = 0,
    handshake_timeout: float = 0.0,
    max_head_bytes: int = 0,
    min_body_rate: int = 0,
    send_timeout: float = 0.0,
) -> uvicorn.Config:
    """The uvicorn settings SyncKit runs with. ``app``: the app, or (with ``factory``) the
    ``module:function`` that makes it in each worker process, whose limits are then given
    here (``max_frame_bytes``, ``handshake_timeout``, ``max_head_bytes``,
    ``min_body_rate``, ``send_timeout``; otherwise read from the app)."""
    server = getattr(getattr(app, "state", None), "synckit", None)
    limits = server.hub.limits if server is not None else Limits()
    frame_limit = max_frame_bytes or limits.max_frame_bytes
    head_timeout = handshake_timeout or limits.handshake_timeout
    head_bytes = max_head_bytes or limits.max_head_bytes
    body_rate = min_body_rate or limits.min_body_rate
    stuck = send_timeout or (server.send_timeout if server is not None else 10.0)
    return uvicorn.Config(
        app,
        factory=factory,
        log_level=log_level,
        lifespan="on",
        # A connection whose request head is not complete within the handshake timeout, or
        # grows past max_head_bytes, or whose body comes slower than min_body_rate, is
        # closed (uvicorn's own keep-alive timeout only runs between requests; neither it
        # nor httptools bounds a head's size or a body's time).
        http=functools.partial(  # type: ignore[arg-type]
            HttpProtocol,
            head_timeout=head_timeout,
            max_head_bytes=head_bytes,
            min_body_rate=body_rate,
            send_timeout=stuck,
        ),
        # Frames over our own limit get a protocol error from the server, not a bare close.
        ws_max_size=frame_limit * 2,
        ws=WebSocketProtocol,
        # Frames are protobuf, mostly already compact; a zlib compressor and decompressor per
        # connection would cost more memory than all the rest of an idle connection.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )


@contextlib.asynccontextmanager
async def running(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop; yield its base URL; shut down on exit.

    ``async with running(create_app(path)) as url: ...`` — port 0 picks a free port.
    """
    sock = bind(host, port)
    url = base_url(sock)
    server = uvicorn.Server(uvicorn_config(app, log_level=log_level))
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    break
                await asyncio.sleep(0.005)
            if not server.started:
                raise SyncKitError(f"uvicorn did not start on {url}; is the address usable?")
            yield url
        finally:
            server.should_exit = True
    sock.close()
