"""The ASGI shell: a Starlette app that moves bytes between sockets, the :class:`Hub` and
storage.

Each WebSocket is served in plain ASGI by :mod:`._socket` (a reader, and a writer task only
while frames wait to be sent). An HTTP
sync request or JSON view is played on the hub as a short session
(:class:`~synckit.protocol.ServerHttpExchange`). One storage task performs the hub's queued
storage work, in order, against an :class:`AsyncStore`. A JSON view is decoded and
serialised in a worker thread, off the event loop. The hub decides everything else; this
module only does I/O, timeouts, and maps protocol errors to HTTP status codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.core import SnapshotKey, VersionVector
from synckit.errors import (
    AuthError,
    DecodeError,
    InvalidValueError,
    LimitExceededError,
    StorageError,
    TokenExpiredError,
)
from synckit.protocol import (
    HTTP_MEDIA_TYPE,
    Error,
    ErrorCode,
    HttpSyncAnswer,
    ServerHttpExchange,
    check_doc_id,
    encode_http_answer,
    encode_http_error,
)
from synckit.server._access import AccessFeed, AccessRules, LocalAccessFeed
from synckit.server._hub import Authenticator, Authorizer, Hub
from synckit.server._limits import Limits
from synckit.server._log import log_event
from synckit.server._metrics import METRICS_PATH, Metrics, MetricsListener, metrics_response
from synckit.server._offload import Offloader
from synckit.server._redis_bus import RedisChangeBus
from synckit.server._redis_presence import RedisPresenceBus
from synckit.server._rooms import Claim, Commit, Compact, Erase, IoOp, IoResult, Load
from synckit.server._socket import Receive, Scope, Send, serve_socket
from synckit.server._store import (
    AsyncStore,
    Durability,
    InlineStore,
    MemoryStore,
    SQLiteStore,
    Store,
)

__all__ = ["SyncServer", "create_app", "http_status", "open_store"]

DB_FILE = "synckit.db"
SYNC_PATH = "/v1/sync"
# How often the hub looks for tokens that expired during a session.
_TICK_SECONDS = 0.5
# With several servers: how often each reads its open documents from storage, whatever Redis did.
CATCH_UP_SECONDS = 30.0

# HTTP status codes for the error that ended an HTTP exchange (400 for the rest).
_HTTP_STATUS = {
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.PERMISSION_CHANGED: 403,
    ErrorCode.NOT_AUTHOR: 403,
    ErrorCode.EQUIVOCATION: 409,
    ErrorCode.DOC_DELETED: 410,
    ErrorCode.CLOCK_SKEW: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_MANY: 429,
    ErrorCode.HANDSHAKE_TIMEOUT: 408,
    ErrorCode.FRAME_TOO_LARGE: 413,
    ErrorCode.DOC_TOO_LARGE: 413,
    ErrorCode.SLOW_CONSUMER: 503,
    ErrorCode.SHUTTING_DOWN: 503,
    ErrorCode.INTERNAL: 500,
}


def http_status(error: Error) -> int:
    """The HTTP status code of an answer reporting ``error``."""
    return _HTTP_STATUS.get(error.code, 400)


def open_store(
    store: AsyncStore | Store | str | Path | None, *, durability: Durability = "full"
) -> AsyncStore:
    """The server's store from what :func:`create_app` accepts: an :class:`AsyncStore` as is, a
    synchronous :class:`Store` called on the loop (:class:`InlineStore`), a directory (SQLite
    file ``synckit.db`` inside, created when missing), a ``.db``/``.sqlite`` file, or None
    (memory). ``durability`` is the SQLite file's (see :class:`SQLiteStore`): ``"full"``
    survives a power loss, ``"process"`` only a crash of the process.
    """
    if store is None:
        return InlineStore(MemoryStore())
    if isinstance(store, str | Path):
        path = Path(store)
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            path.parent.mkdir(parents=True, exist_ok=True)
            return InlineStore(SQLiteStore(path, durability=durability))
        path.mkdir(parents=True, exist_ok=True)
        return InlineStore(SQLiteStore(path / DB_FILE, durability=durability))
    if inspect.iscoroutinefunction(store.load):
        return cast(AsyncStore, store)
    return InlineStore(cast(Store, store))


def _lacking(stored: StoredDoc, key: SnapshotKey | None, since: VersionVector) -> bytes:
    """What the document ``stored`` holds beyond ``since`` (run in a worker thread)."""
    return LoggedDocument.restore(stored, key=key).doc.changes(since)


async def _perform(op: IoOp, store: AsyncStore) -> IoResult:
    """Perform one storage operation; a failure is returned for the hub, not raised."""
    try:
        match op:
            case Load(doc_id=doc_id):
                return await store.load(doc_id)
            case Claim():
                return await store.claim_actor(op.actor_id, op.principal, op.limit)
            case Commit(batches=batches, views=views):
                if views:
                    dead = await store.append_many(batches, views)  # type: ignore[call-arg]
                elif batches:
                    dead = await store.append_many(batches)
                else:
                    dead = None
                return frozenset(dead) if dead else None
            case Compact():
                if op.tag is not None and getattr(store, "keeps_tags", False):
                    await store.compact(op.doc_id, op.snapshot, op.covered, op.tag)
                else:
                    await store.compact(op.doc_id, op.snapshot, op.covered)
            case Erase():
                await store.delete_doc(op.doc_id, op.principal)
    except (StorageError, LimitExceededError) as exc:
        return exc
    except Exception as exc:  # a backend's own error type: the same as a storage failure
        return StorageError(f"{type(exc).__name__}: {exc}")
    return None


class SyncServer:
    """The I/O around one :class:`Hub`: WebSocket and HTTP endpoints, and the storage task.

    Args:
        store: see :func:`open_store`.
        limits: see :class:`Limits`.
        authenticate, authorize: see :class:`Hub`; they guard every endpoint. Without
            ``authorize``, the principal's token grants decide, overridden per principal by
            :attr:`access_rules` (changed at run time with ``PUT /v1/admin/access/{principal}``).
        send_timeout: seconds one frame may take to send before the client counts as gone.
        answer_timeout: seconds an HTTP request may wait for its answer (storage included).
        access_feed: where changes of access are published (see :mod:`._access`); every
            server on the feed tells its affected connections at once. In-process when None.
        metrics_address: ``(host, port)`` (or a bound socket) on which to serve
            ``GET /metrics`` without authentication, besides the admin-only ``/metrics`` of
            the app itself; bind it to a private interface. None: no such listener.
        change_bus: with several servers on one storage (PostgreSQL), carries each committed
            change to the others (see :mod:`._redis_bus`). None: clients of another server
            see this one's changes only when they subscribe again.
        catch_up_seconds: with a change bus, how often the open documents are read from
            storage whatever the bus did (a message Redis lost, or Redis down).
        presence_bus: carries presence to and from the other servers of one deployment (see
            :mod:`._redis_presence`). None: clients see the presence of this server's
            clients only.
        offload: snapshot documents of ``limits.offload_bytes`` or more in a worker process,
            and decode them in a thread when loaded, instead of on the event loop (see
            :mod:`._offload`). False: everything on the loop (every client of the server
            waits while a large document is snapshotted or loaded).
        snapshot_key: the secret (or :class:`SnapshotKey`) whose tag the server stores beside
            each snapshot it writes, so that it loads them again without the checks only a
            hostile author needs (``docs/server.md``, "Snapshot key"). None: the store's own
            (``snapshot_key()``: SQLite and PostgreSQL keep one made at random, shared by
            every server on the database), else one made at random for this process.
    """

    def __init__(
        self,
        store: AsyncStore | Store | str | Path | None = None,
        *,
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
        authorize: Authorizer | None = None,
        send_timeout: float = 10.0,
        answer_timeout: float = 30.0,
        access_feed: AccessFeed | None = None,
        metrics_address: tuple[str, int] | socket.socket | None = None,
        change_bus: RedisChangeBus | None = None,
        catch_up_seconds: float = CATCH_UP_SECONDS,
        presence_bus: RedisPresenceBus | None = None,
        offload: bool = True,
        snapshot_key: SnapshotKey | bytes | None = None,
    ) -> None:
        if not catch_up_seconds > 0:
            raise InvalidValueError(f"catch_up_seconds must be positive, got {catch_up_seconds!r}")
        self.catch_up_seconds = catch_up_seconds
        self.store = open_store(store)
        #: This server's metrics (``GET /metrics``), in a registry of its own.
        self.metrics = Metrics()
        self._io_wake = asyncio.Event()
        self._presence_wake = asyncio.Event()
        self.access_feed: AccessFeed = access_feed or LocalAccessFeed()
        #: The server-side grants the admin endpoint changes (None with an ``authorize`` hook:
        #: the application decides, and publishes its changes on ``access_feed`` itself).
        self.access_rules = AccessRules(self.access_feed) if authorize is None else None
        #: Where large documents are snapshotted and decoded (None: on the loop).
        self.offloader = offloader = Offloader() if offload else None
        self.hub = Hub(
            limits=limits,
            authenticate=authenticate,
            authorize=authorize if authorize is not None else self.access_rules,
            wake_io=self._io_wake.set,
            observer=self.metrics,
            wake_presence=self._presence_wake.set,
            offload=None if offloader is None else offloader.snapshot,
            offload_load=None if offloader is None else offloader.restore,
            offload_ready=None if offloader is None else lambda: offloader.ready,
        )
        self.metrics.hub = self.hub
        if isinstance(snapshot_key, bytes | bytearray):
            snapshot_key = SnapshotKey(bytes(snapshot_key))
        self.hub.snapshot_key = snapshot_key
        # A store with a table of JSON views (PostgreSQL's) gets them with every commit.
        self.hub.views_wanted = bool(getattr(self.store, "keeps_views", False))
        self.change_bus = change_bus
        if change_bus is not None:
            self.hub.on_commit = change_bus.publish
            change_bus.subscribe(self.hub.merge_remote)
            self.hub.on_deleted = change_bus.publish_deleted
            change_bus.subscribe_deleted(self._deletion_heard)
            change_bus.on_subscribed(self._catch_up_soon)
            self.hub.on_behind = self._catch_up_soon
        self.presence_bus = presence_bus
        if presence_bus is not None:
            presence = self.hub.presence
            presence.on_relay = presence_bus.publish
            presence_bus.subscribe(lambda relay: presence.merge_relay(relay, time.monotonic()))
            presence_bus.on_subscribed(lambda: presence_bus.publish(presence.full_relay()))
        self._presence_task: asyncio.Task[None] | None = None
        self._catching_up: asyncio.Task[None] | None = None
        # Deletions heard on the change bus, being checked against storage.
        self._confirming: set[asyncio.Task[None]] = set()
        # Documents to catch up on next (None: every open one).
        self._catch_up_docs: set[str] | None = set()
        self._metrics_listener = (
            None if metrics_address is None else MetricsListener(self.metrics, metrics_address)
        )
        #: ``http://host:port`` of the unauthenticated metrics listener, once started.
        self.metrics_url: str | None = None
        self._unsubscribe_feed = self.access_feed.subscribe(self.hub.access_changed)
        self._tick_task: asyncio.Task[None] | None = None
        self.send_timeout = send_timeout
        self.answer_timeout = answer_timeout
        self._io_task: asyncio.Task[None] | None = None
        self._handlers = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    # -- storage ----------------------------------------------------------------------

    def _start_storage(self) -> None:
        if self._io_task is None:
            loop = asyncio.get_running_loop()
            self._io_task = loop.create_task(self._storage_task(), name="synckit-storage")
            self._tick_task = loop.create_task(self._ticker(), name="synckit-tick")
            self._presence_task = loop.create_task(
                self._presence_flusher(), name="synckit-presence"
            )

    def _catch_up_soon(self, doc_id: str | None = None) -> None:
        """The change bus may have missed messages: read from storage what this server lacks
        of its open documents (of ``doc_id`` only, when given: a client showed that this
        server is behind on it)."""
        if doc_id is None:
            self._catch_up_docs = None
        elif self._catch_up_docs is not None:
            self._catch_up_docs.add(doc_id)
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        """Read what storage holds beyond the open documents and merge it in (the hub tells
        their subscribers), until no more catch-up was asked for meanwhile."""
        while self._catch_up_docs is None or self._catch_up_docs:
            wanted, self._catch_up_docs = self._catch_up_docs, set()
            open_ids = self.hub.open_doc_ids
            doc_ids = open_ids if wanted is None else [d for d in open_ids if d in wanted]
            try:
                for doc_id in sorted(await self._deleted_among(doc_ids)):
                    self.hub.deleted_remote(doc_id)  # a deletion the change bus lost
                found = await self._read_new(doc_ids)
            except StorageError as exc:
                log_event(logging.WARNING, "catch_up_failed", docs=len(doc_ids), why=str(exc))
                continue
            for doc_id, stored in found.items():
                if stored.snapshot is None:
                    for batch in stored.changes:
                        self.hub.merge_remote(doc_id, batch)
                    continue
                # Everything stored (another server compacted the log): rebuilt in a thread,
                # and only what the open document lacks merged on the loop. On the loop, a
                # whole rebuild and merge held it 1.9 s for 5.5 million characters.
                since = self.hub.version_of(doc_id)
                if since is None:
                    continue  # not open (or loading) here: it is read from storage then
                try:
                    key = self.hub.snapshot_key
                    changes = await asyncio.to_thread(_lacking, stored, key, since)
                except DecodeError as exc:
                    log_event(logging.WARNING, "catch_up_failed", doc=doc_id, why=str(exc))
                    continue
                self.hub.merge_remote(doc_id, changes)

    def _deletion_heard(self, doc_id: str) -> None:
        """The change bus says another server deleted ``doc_id``. Storage is the truth, not
        Redis: clients drop their copies on DOC_DELETED, so the deletion is acted on only
        once storage shows the tombstone (a forged or garbled message changes nothing)."""
        if check_doc_id(doc_id) is not None or self.hub.is_deleted(doc_id):
            return
        task = asyncio.get_running_loop().create_task(self._confirm_deleted(doc_id))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _confirm_deleted(self, doc_id: str) -> None:
        try:
            if await self._deleted_among([doc_id]):
                deleted = True
            else:
                stored = await self._read_stored(doc_id)
                deleted = stored is not None and stored.deleted
        except StorageError as exc:
            # The periodic catch-up asks storage again for every open document.
            log_event(logging.WARNING, "catch_up_failed", doc=doc_id, why=str(exc))
            return
        if deleted:
            self.hub.deleted_remote(doc_id)
        else:
            log_event(logging.WARNING, "deletion_not_in_storage", doc=doc_id)

    async def _deleted_among(self, doc_ids: list[str]) -> frozenset[str]:
        """Which of ``doc_ids`` storage holds a tombstone of (with a store that can say:
        PostgreSQL's ``deleted_among``; a store of one server learns nothing new here)."""
        deleted_among = getattr(self.store, "deleted_among", None)
        if deleted_among is None or not doc_ids:
            return frozenset()
        found: frozenset[str] = await deleted_among(doc_ids)
        return found

    async def _read_new(self, doc_ids: list[str]) -> dict[str, StoredDoc]:
        """What storage holds of ``doc_ids`` beyond what the hub's documents hold: only that
        with a store that keeps track (PostgreSQL's ``read_new``), else everything stored."""
        read_new = getattr(self.store, "read_new", None)
        if read_new is not None:
            found: dict[str, StoredDoc] = await read_new(doc_ids)
            return found
        everything = {}
        for doc_id in doc_ids:
            stored = await self._read_stored(doc_id)
            if stored is not None:
                everything[doc_id] = stored
        return everything

    async def _read_stored(self, doc_id: str) -> StoredDoc | None:
        """What storage holds for ``doc_id``, read for someone other than the hub: with the
        store's ``read`` where it has one (off the loop for SQLite; ``load`` is the hub's,
        and PostgresStore remembers what the hub's document holds from it)."""
        read = getattr(self.store, "read", None)
        if read is not None:
            stored: StoredDoc | None = await read(doc_id)
            return stored
        return await self.store.load(doc_id)

    async def _ticker(self) -> None:
        """Expire tokens that ran out during a session, twice a second; with a change bus,
        read the open documents from storage every ``catch_up_seconds`` (a message Redis
        lost without the subscription dropping is caught up then)."""
        loop = asyncio.get_running_loop()
        next_catch_up = loop.time() + self.catch_up_seconds
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            self.hub.tick()
            if self.change_bus is not None and loop.time() >= next_catch_up:
                next_catch_up = loop.time() + self.catch_up_seconds
                self._catch_up_soon()

    async def _presence_flusher(self) -> None:
        """Flush presence when it changed, at most once per ``presence_tick`` (counted from
        the start of the last flush): a change after a quiet spell goes out at once, and under
        a stream of changes everything changed since the last flush goes out together, one
        frame per member of each changed room. A flush that takes longer than a tick makes
        the ticks longer (and the frames fuller), never more frequent."""
        wake, hub = self._presence_wake, self.hub
        loop = asyncio.get_running_loop()
        next_at = 0.0
        while True:
            await wake.wait()
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            wake.clear()
            next_at = loop.time() + hub.limits.presence_tick
            hub.presence.flush()

    async def _ensure_snapshot_key(self) -> None:
        """Give the hub its snapshot key, before any document is loaded: the configured one,
        else the store's, else (a store without one, or one that failed) a random one for
        this process (its snapshots then load with every check after a restart)."""
        if self.hub.snapshot_key is not None:
            return
        secret: bytes | None = None
        make = getattr(self.store, "snapshot_key", None)
        if make is not None:
            try:
                secret = await make()
            except Exception as exc:  # a storage failure: correct without, only slower
                log_event(logging.WARNING, "snapshot_key_unavailable", why=str(exc))
        if self.hub.snapshot_key is None:
            self.hub.snapshot_key = SnapshotKey(secret or os.urandom(32))

    async def _storage_task(self) -> None:
        """Perform the hub's storage work, one operation at a time, in order."""
        hub, metrics = self.hub, self.metrics
        await self._ensure_snapshot_key()
        while True:
            op = hub.next_io()
            if op is None:
                await self._io_wake.wait()
                self._io_wake.clear()
                continue
            if type(op) is Commit and op.batches:
                started = time.perf_counter()
                result = await _perform(op, self.store)
                metrics.committed(time.perf_counter() - started, len(op.batches))
            else:
                result = await _perform(op, self.store)
            hub.io_done(op, result)

    async def _drain_storage(self) -> None:
        while not self.hub.io_idle or self.hub.rooms.building:
            self._start_storage()
            await asyncio.sleep(0.005)

    # -- WebSocket --------------------------------------------------------------------

    async def sync_socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/v1/sync`` in plain ASGI: one protocol session per WebSocket (see
        :mod:`._socket`)."""
        self._start_storage()
        self._handlers += 1
        self._idle.clear()
        try:
            await serve_socket(self.hub, scope, receive, send, send_timeout=self.send_timeout)
        finally:
            self._handlers -= 1
            if not self._handlers:
                self._idle.set()

    async def sync_endpoint(self, ws: WebSocket) -> None:
        """``/v1/sync`` for a Starlette WebSocket that was not accepted yet (the routes use
        :meth:`sync_socket`, which needs no Starlette object)."""
        await self.sync_socket(ws.scope, ws._receive, ws._send)

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

    async def _play(self, exchange: ServerHttpExchange) -> HttpSyncAnswer | Error:
        """Play an HTTP exchange on the hub and wait for its answer."""
        self._start_storage()
        hub = self.hub
        wake = asyncio.Event()
        conn = hub.start_exchange(exchange, wake.set)
        if conn is None and isinstance(exchange.result, Error):  # refused before any frame
            self.metrics.refused(exchange.result.code)
        try:
            async with asyncio.timeout(self.answer_timeout):
                while not hub.advance_exchange(exchange, conn):
                    await wake.wait()
                    wake.clear()
        except TimeoutError:
            if conn is not None:
                hub.disconnect(conn)
            self.metrics.refused(ErrorCode.INTERNAL)
            return Error(
                ErrorCode.INTERNAL,
                f"no answer within {self.answer_timeout} s (storage is slow)",
                retryable=True,
            )
        assert exchange.result is not None
        return exchange.result

    async def get_doc(self, request: Request) -> Response:
        """``GET /v1/docs/{doc_id}``: the document's JSON view, 404 when unknown.

        Guarded like every other way in: the token comes from ``Authorization: Bearer ...``
        and the client id from ``X-SyncKit-Client`` (default ``viewer``; a view writes
        nothing, so that id is not registered to the principal).
        """
        token = _bearer(request)
        client_id = request.headers.get("x-synckit-client", "") or "viewer"
        doc_id = request.path_params["doc_id"]
        access = self.hub.view_access(doc_id, client_id, token)
        if isinstance(access, Error):
            refused = self._refusal(http_status(access), access.code, access.message)
            if access.retry_after_ms:
                refused.headers["Retry-After"] = str(-(-access.retry_after_ms // 1000))
            return refused
        # What storage holds is every acknowledged change. It is read as it is, without
        # opening the document in a room (off the loop where the store allows it), then
        # decoded and serialised in a thread: a large document stalls nobody else for long.
        try:
            stored = await self._read_stored(doc_id)
            if stored is not None and stored.deleted:
                return self._refusal(410, ErrorCode.DOC_DELETED, f"document {doc_id!r} was deleted")
            timed = (
                None
                if stored is None
                else await asyncio.to_thread(_timed_view_body, stored, self.hub.snapshot_key)
            )
        except (StorageError, DecodeError) as exc:
            return self._refusal(500, ErrorCode.INTERNAL, f"cannot read document: {exc}")
        body = None if timed is None else timed[0]
        if timed is not None:
            self.hub.view_sent(access, len(timed[0] or b""), timed[1])
        if body is None:
            return JSONResponse(
                {"error": "NOT_FOUND", "message": f"no document {doc_id!r}"}, status_code=404
            )
        return Response(body, media_type="application/json")

    async def post_sync(self, request: Request) -> Response:
        """``POST /v1/docs/{doc_id}/sync``: the HTTP fallback (protobuf in and out)."""
        return await self._exchange(request, delete=False)

    async def delete_doc(self, request: Request) -> Response:
        """``DELETE /v1/docs/{doc_id}`` with an ``HttpSyncRequest`` body (client id, token):
        delete the document for everyone, played as a short session (``Hello``,
        ``DeleteDoc``); 200 with an empty ``HttpSyncResponse`` once the tombstone is
        committed, or the ``Error`` (403 without admin access)."""
        return await self._exchange(request, delete=True)

    async def _exchange(self, request: Request, *, delete: bool) -> Response:
        limit = self.hub.limits.max_frame_bytes
        body = bytearray()
        result: HttpSyncAnswer | Error | None = None
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    result = Error(
                        ErrorCode.FRAME_TOO_LARGE, f"body exceeds the limit of {limit} bytes"
                    )
                    self.metrics.refused(result.code)
                    break
        except ClientDisconnect:
            # Gone before its body was whole (or closed for sending it too slowly: see
            # Limits.min_body_rate): nothing was played, and nobody is left to answer.
            return Response(status_code=499)
        if result is None:
            exchange = ServerHttpExchange(
                request.path_params["doc_id"], bytes(body), max_body_bytes=limit, delete=delete
            )
            result = await self._play(exchange)
        if isinstance(result, Error):
            headers = {}
            if result.retry_after_ms:
                headers["Retry-After"] = str(-(-result.retry_after_ms // 1000))
            return Response(
                encode_http_error(result),
                status_code=http_status(result),
                media_type=HTTP_MEDIA_TYPE,
                headers=headers,
            )
        return Response(encode_http_answer(result), media_type=HTTP_MEDIA_TYPE)

    async def put_access(self, request: Request) -> Response:
        """``PUT /v1/admin/access/{principal}`` with ``{"docs": {pattern: level}}``: replace
        the principal's server-side grants (``DELETE``: back to its token's). Needs a token
        whose ``synckit.admin`` claim is true (any caller on an open server). The principal's
        open connections learn of the change at once."""
        principal_id = request.path_params["principal"]
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        rules = self.access_rules
        if rules is None:
            return self._refusal(
                409,
                ErrorCode.PERMISSION_DENIED,
                "this server's permissions come from its authorize hook; change them there "
                "and publish an AccessChange on the server's access feed",
            )
        docs = None
        if request.method != "DELETE":
            try:
                docs = json.loads(await request.body())["docs"]
                text = AccessRules.encode(docs)
            except (ValueError, KeyError, TypeError) as exc:
                return self._refusal(
                    400,
                    ErrorCode.BAD_FRAME,
                    'the body must be {"docs": {"<document-id pattern>": '
                    f'"none"|"read"|"write"|"admin"}}}}: {exc}',
                )
        try:  # stored first: a change that was answered survives a restart
            await self.store.set_access_rules(principal_id, None if docs is None else text)
        except StorageError as exc:
            return self._refusal(500, ErrorCode.INTERNAL, f"cannot store the access rules: {exc}")
        rules.set(principal_id, docs)
        return JSONResponse({"principal": principal_id, "docs": docs})

    def _refusal(self, status: int, code: ErrorCode, message: str) -> Response:
        """A JSON error answer, counted in the metrics."""
        self.metrics.refused(code)
        return _json_error(status, code, message)

    async def get_metrics(self, request: Request) -> Response:
        """``GET /metrics``: the server's metrics in Prometheus's text format, for an
        administrator's token (as ``PUT /v1/admin/access``; anyone on an open server).
        Without a token, serve them on an address of their own (``metrics_address``)."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        return metrics_response(self.metrics)

    def _admin_refusal(self, request: Request) -> Response | None:
        """None when the request carries an administrator's token, else the error answer."""
        try:
            principal = self.hub.authenticate("admin", _bearer(request))
        except TokenExpiredError as exc:  # as every other way in answers it
            return self._refusal(401, ErrorCode.TOKEN_EXPIRED, str(exc))
        except AuthError as exc:
            return self._refusal(401, ErrorCode.AUTH_FAILED, str(exc))
        claim = principal.claims.get("synckit")
        if principal.id and not (isinstance(claim, dict) and claim.get("admin") is True):
            return self._refusal(
                403,
                ErrorCode.PERMISSION_DENIED,
                f"principal {principal.id!r} is not an administrator "
                "(its token needs the claim synckit.admin = true)",
            )
        return None

    # -- lifetime ---------------------------------------------------------------------

    async def aclose(self, timeout: float = 5.0) -> None:
        """Graceful shutdown: tell clients, let writers flush, store what is queued (and
        snapshots of open documents), close the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for conn in self.hub.connections:
            self.hub.refuse(conn, self.hub.shutting_down_error())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        self.hub.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._drain_storage()
        self._unsubscribe_feed()
        close = getattr(self.access_feed, "aclose", None)
        if close is not None and inspect.iscoroutinefunction(close):
            await close()
        for task in (self._io_task, self._tick_task, self._presence_task, *self._confirming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.change_bus is not None:
            await self.change_bus.aclose()
        if self.presence_bus is not None:
            await self.presence_bus.aclose()
        await self.store.close()
        if self.offloader is not None:
            self.offloader.close()
        if self._metrics_listener is not None:
            await self._metrics_listener.aclose()

    async def start(self) -> None:
        """Read what the server keeps besides documents (the access rules). The app's lifespan
        calls it; mounted in another app, call it from that app's lifespan.

        Also starts the metrics listener (``metrics_address``).

        Raises:
            StorageError: the store cannot be read, or holds bad access rules.
            OSError: the metrics address cannot be bound.
        """
        start = getattr(self.access_feed, "start", None)
        if start is not None and inspect.iscoroutinefunction(start):
            await start()  # a feed over a message bus connects in the running loop
        if self.change_bus is not None:
            await self.change_bus.start()
        if self.presence_bus is not None:
            await self.presence_bus.start()
        await self._ensure_snapshot_key()
        if self.access_rules is not None:
            try:
                self.access_rules.load(await self.store.access_rules())
            except ValueError as exc:
                raise StorageError(str(exc)) from None
        if self._metrics_listener is not None and self.metrics_url is None:
            self.metrics_url = await self._metrics_listener.start()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.aclose()

    def routes(self) -> list[Any]:
        return [
            WebSocketRoute(SYNC_PATH, _SocketEndpoint(self)),
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/docs/{doc_id}", self.get_doc, methods=["GET"]),
            Route("/v1/docs/{doc_id}", self.delete_doc, methods=["DELETE"]),
            Route("/v1/docs/{doc_id}/sync", self.post_sync, methods=["POST"]),
            Route("/v1/admin/access/{principal}", self.put_access, methods=["PUT", "DELETE"]),
            Route(METRICS_PATH, self.get_metrics, methods=["GET"]),
        ]


def create_app(
    store: AsyncStore | Store | str | Path | None = None,
    *,
    limits: Limits | None = None,
    authenticate: Authenticator | None = None,
    authorize: Authorizer | None = None,
    send_timeout: float = 10.0,
    access_feed: AccessFeed | None = None,
    metrics_address: tuple[str, int] | socket.socket | None = None,
    change_bus: RedisChangeBus | None = None,
    catch_up_seconds: float = CATCH_UP_SECONDS,
    presence_bus: RedisPresenceBus | None = None,
    offload: bool = True,
    snapshot_key: SnapshotKey | bytes | None = None,
) -> Starlette:
    """The SyncKit server as a Starlette (ASGI) app.

    Serves ``WS /v1/sync``, ``GET /health``, ``GET|DELETE /v1/docs/{id}``,
    ``POST /v1/docs/{id}/sync``, ``PUT|DELETE /v1/admin/access/{principal}`` and
    ``GET /metrics`` (an administrator's; unauthenticated on ``metrics_address`` when given);
    ``authenticate`` and ``authorize`` guard all but ``/health``. The :class:`SyncServer` is
    ``app.state.synckit``; the app's lifespan starts and closes it. Mounted inside another app
    (whose lifespan Starlette does not run for mounted apps), call
    ``await app.state.synckit.start()`` and ``await app.state.synckit.aclose()`` from the
    outer app's lifespan.

    Args:
        store: an :class:`AsyncStore`, a :class:`Store`, a data directory (SQLite inside), or
            None for memory (see :func:`open_store`).
    """
    server = SyncServer(
        store,
        limits=limits,
        authenticate=authenticate,
        authorize=authorize,
        send_timeout=send_timeout,
        access_feed=access_feed,
        metrics_address=metrics_address,
        change_bus=change_bus,
        catch_up_seconds=catch_up_seconds,
        presence_bus=presence_bus,
        offload=offload,
        snapshot_key=snapshot_key,
    )
    app = _App(routes=server.routes(), lifespan=server.lifespan)
    app.state.synckit = server
    app.sync_socket = server.sync_socket
    return app


class _App(Starlette):
    """Starlette, except that ``WS /v1/sync`` goes straight to :meth:`SyncServer.sync_socket`
    instead of through the middleware and router, each of which would keep objects alive for
    the whole life of every connection. (Middleware added to the app therefore does not see
    the sync WebSocket; a server mounted in another app goes through its route as usual.)"""

    sync_socket: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.sync_socket is not None:
            path: str = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path == SYNC_PATH:
                await self.sync_socket(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _SocketEndpoint:
    """The ``/v1/sync`` route's ASGI app (an object, not a function: Starlette passes it the
    raw ASGI scope instead of building a ``WebSocket``)."""

    __slots__ = ("_server",)

    def __init__(self, server: SyncServer) -> None:
        self._server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._server.sync_socket(scope, receive, send)


def _timed_view_body(stored: StoredDoc, key: SnapshotKey | None) -> tuple[bytes | None, float]:
    """:func:`_stored_view_body` and the seconds it took (on this thread's clock)."""
    started = time.thread_time()
    body = _stored_view_body(stored, key)
    return body, time.thread_time() - started


def _stored_view_body(stored: StoredDoc, key: SnapshotKey | None) -> bytes | None:
    """The JSON bytes of a stored document (None: it holds nothing); run in a thread, on a
    document of the thread's own."""
    logged = LoggedDocument.restore(stored, key=key)
    if not logged.doc.version():
        return None
    return _json_bytes(logged.doc.to_json())


# Items per json.dumps call when a view is serialised: each call holds the GIL throughout,
# so a large document is written in slices and the event loop's thread gets its turns.
_JSON_SLICE = 512


def _json_bytes(value: object) -> bytes:
    """``value`` as compact JSON, a large dict or list serialised a slice at a time."""
    dump = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if isinstance(value, dict) and len(value) > _JSON_SLICE:
        items = list(value.items())
        parts = [
            dump(dict(items[i : i + _JSON_SLICE]))[1:-1] for i in range(0, len(items), _JSON_SLICE)
        ]
        return ("{" + ",".join(parts) + "}").encode()
    if isinstance(value, list) and len(value) > _JSON_SLICE:
        parts = [dump(value[i : i + _JSON_SLICE])[1:-1] for i in range(0, len(value), _JSON_SLICE)]
        return ("[" + ",".join(parts) + "]").encode()
    return dump(value).encode()


def _bearer(request: Request) -> str:
    """The token of an ``Authorization: Bearer ...`` header ("" without one)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _json_error(status: int, code: ErrorCode, message: str) -> Response:
    return JSONResponse({"error": code.name, "message": message}, status_code=status)
