"""The asyncio client: a thin shell that moves frames between a WebSocket and a SyncEngine.

``async with connect(url, store=...) as client`` opens the store and starts one background
task (owned by the client's TaskGroup) that connects, reconnects with exponential back-off and
full jitter, and shuttles frames. Everything else is decided by :class:`SyncEngine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from synckit.client._engine import SyncEngine
from synckit.client._store import MemoryStore, SQLiteStore, Store
from synckit.core import Document
from synckit.errors import (
    AuthError,
    LimitExceededError,
    LocalProtocolError,
    ProtocolError,
    SyncTimeoutError,
)
from synckit.protocol import Error, ErrorCode

__all__ = ["Client", "StatusCallback", "connect", "sync_url"]

#: ``callback(online)``: called when the client goes online or offline.
StatusCallback = Callable[[bool], object]


def sync_url(url: str) -> str:
    """The WebSocket URL of the sync endpoint under a server's base URL.

    ``http://h:8080`` and ``ws://h:8080`` become ``ws://h:8080/v1/sync``; https/wss become wss.
    A URL already ending in ``/v1/sync`` is kept.
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(
            f"server URL must be http(s):// or ws(s)://host[:port][/path], got {url!r}"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/sync"):
        path += "/v1/sync"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def _error_to_exception(error: Error) -> Exception:
    text = f"{error.code.name}: {error.message}"
    if error.code is ErrorCode.AUTH_FAILED:
        return AuthError(text)
    if error.code in (ErrorCode.DOC_TOO_LARGE, ErrorCode.FRAME_TOO_LARGE):
        return LimitExceededError(text)
    return ProtocolError(text)


class Client:
    """A SyncKit client; build it with :func:`connect` and use it with ``async with``.

    Args:
        url: the server's base URL (http, https, ws or wss).
        store: a SQLite file path, a :class:`Store`, or None to keep everything in memory.
        client_id: names this replica (the actor id adds a per-store suffix); random if None.
        token: sent to the server in the handshake.
        backoff_base, backoff_max: reconnect delays are uniform in
            ``[0, min(backoff_max, backoff_base * 2**failures)]``.
        response_timeout, ping_interval: see :class:`SyncEngine`.
        rng: randomness for back-off jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        url: str,
        *,
        store: str | Path | Store | None = None,
        client_id: str | None = None,
        token: str | None = None,
        backoff_base: float = 0.05,
        backoff_max: float = 5.0,
        response_timeout: float = 20.0,
        ping_interval: float = 10.0,
        connect_timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = sync_url(url)
        self._store_arg = store
        self.client_id = client_id or secrets.token_hex(8)
        self._token = token or ""
        self._backoff = (backoff_base, backoff_max)
        self._timeouts = (response_timeout, ping_interval, connect_timeout)
        self._rng = rng or random.Random()
        self._engine: SyncEngine | None = None
        self._store: Store | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._progress = asyncio.Event()
        self._status_callbacks: list[StatusCallback] = []
        self._online = False
        self._owns_store = False
        #: Successful handshakes so far (a reconnect counts again).
        self.connections = 0

    # -- lifetime -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._engine is not None:
            raise LocalProtocolError("this client is already open")
        store = self._store_arg
        self._owns_store = not isinstance(store, MemoryStore | SQLiteStore) and (
            store is None or isinstance(store, str | Path)
        )
        if store is None:
            self._store = MemoryStore()
        elif isinstance(store, str | Path):
            self._store = SQLiteStore(store)
        else:
            self._store = store
        response_timeout, ping_interval, _ = self._timeouts
        self._engine = SyncEngine(
            self._store,
            self._store.actor_id(self.client_id),
            token=self._token,
            response_timeout=response_timeout,
            ping_interval=ping_interval,
            wake=self._kick.set,
        )
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self._runner = self._tasks.create_task(self._run(), name=f"synckit-client {self.url}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tasks is not None and self._runner is not None
        self._runner.cancel()
        try:
            await self._tasks.__aexit__(None, None, None)
        finally:
            engine, store = self._engine, self._store
            self._engine = None
            if engine is not None:
                engine.close()
            if store is not None and self._owns_store:
                store.close()
            self._set_online(False)

    @property
    def engine(self) -> SyncEngine:
        if self._engine is None:
            raise LocalProtocolError("use the client inside `async with`")
        return self._engine

    @property
    def actor_id(self) -> str:
        """The client id this replica's documents write under."""
        return self.engine.actor_id

    # -- documents ----------------------------------------------------------------------

    async def open(self, doc_id: str) -> Document:
        """The document ``doc_id``, at once from the store; it syncs in the background.

        Raises:
            ValueError: invalid document id.
            StorageError, DecodeError: the store failed or holds corrupt data.
        """
        doc = self.engine.open(doc_id)
        self._kick.set()
        return doc

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Return once the server has acknowledged every local edit of every open document.

        Raises:
            SyncTimeoutError: ``timeout`` seconds passed first.
            AuthError, LimitExceededError, ProtocolError: the server refused the connection or
                an edit, so waiting longer would not help.
        """
        engine = self.engine
        try:
            async with asyncio.timeout(timeout):
                while True:
                    error = engine.sync_error()
                    if error is not None:
                        raise _error_to_exception(error)
                    if not engine.unsynced():
                        return
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            raise SyncTimeoutError(
                f"not synced after {timeout} s: unacknowledged edits in {engine.unsynced()}"
                f" ({'online' if self.online else 'offline'})"
            ) from None

    # -- status -------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Connected, and the server accepted the handshake."""
        return self._online

    def on_status(self, callback: StatusCallback) -> Callable[[], None]:
        """Call ``callback(online)`` whenever :attr:`online` changes; returns an unsubscribe."""
        self._status_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._status_callbacks:
                self._status_callbacks.remove(callback)

        return unsubscribe

    def _set_online(self, online: bool) -> None:
        if online == self._online:
            return
        self._online = online
        self._progress.set()
        for callback in tuple(self._status_callbacks):
            callback(online)

    # -- the connection loop ------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        base, cap = self._backoff
        while True:
            engine = self.engine
            if engine.terminal_error is not None:
                self._progress.set()
                await asyncio.Event().wait()  # refused for good: stay offline until closed
            before = self.connections
            try:
                async with ws_connect(
                    self.url,
                    open_timeout=self._timeouts[2],
                    max_size=None,
                    compression=None,
                    ping_interval=None,  # liveness is the engine's Ping/Pong
                    close_timeout=2,
                ) as ws:
                    await self._serve(ws)
            except (OSError, TimeoutError, WebSocketException):
                pass
            finally:
                engine.connection_lost()
                self._set_online(False)
            if self.connections > before:
                failures = 0
            delay = self._rng.uniform(0, min(cap, base * 2**failures))
            failures += 1
            await asyncio.sleep(delay)

    async def _serve(self, ws: ClientConnection) -> None:
        engine = self.engine
        loop = asyncio.get_running_loop()
        engine.connection_made(loop.time())
        self._kick.set()
        async with asyncio.TaskGroup() as tg:
            writer = tg.create_task(self._write(ws))
            ticker = tg.create_task(self._tick(ws))
            try:
                async for frame in ws:
                    if isinstance(frame, str):
                        break  # not our protocol
                    engine.receive(frame, loop.time())
                    if engine.online and not self._online:
                        self.connections += 1
                        self._set_online(True)
                    if engine.has_data_to_send or engine.closing:
                        self._kick.set()  # answers or pushes (local edits wake it themselves)
                    self._progress.set()
            except ConnectionClosed:
                pass  # the server went away or closed after an error: reconnect
            finally:
                writer.cancel()
                ticker.cancel()

    async def _write(self, ws: ClientConnection) -> None:
        engine = self.engine
        with contextlib.suppress(WebSocketException, OSError):
            while True:
                await self._kick.wait()
                self._kick.clear()
                engine.flush()
                if engine.sync_error() is not None:
                    self._progress.set()  # a waiter must learn that waiting is pointless
                for frame in engine.data_to_send():
                    await ws.send(frame)
                if engine.closing:
                    await ws.close()
                    return

    async def _tick(self, ws: ClientConnection) -> None:
        engine = self.engine
        loop = asyncio.get_running_loop()
        interval = min(engine.ping_interval, engine.response_timeout) / 4
        while True:
            await asyncio.sleep(interval)
            if not engine.tick(loop.time()):
                with contextlib.suppress(WebSocketException, OSError):
                    await ws.close(1001, "no answer from the server")
                return
            self._kick.set()


def connect(
    url: str,
    *,
    store: str | Path | Store | None = None,
    client_id: str | None = None,
    token: str | None = None,
    backoff_base: float = 0.05,
    backoff_max: float = 5.0,
    response_timeout: float = 20.0,
    ping_interval: float = 10.0,
    connect_timeout: float = 10.0,
    rng: random.Random | None = None,
) -> Client:
    """A client of the server at ``url``; use it with ``async with``. Never waits on the network.

    ``store`` is a SQLite file path (None keeps everything in memory); see :class:`Client` for
    the other options.
    """
    return Client(
        url,
        store=store,
        client_id=client_id,
        token=token,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        response_timeout=response_timeout,
        ping_interval=ping_interval,
        connect_timeout=connect_timeout,
        rng=rng,
    )
