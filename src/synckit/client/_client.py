"""The asyncio client: a thin shell that moves bytes between the network and a SyncEngine.

``async with connect(url, store=...) as client`` opens the store and starts one background
task (owned by the client's TaskGroup). Over a WebSocket it connects, reconnects with
exponential back-off and full jitter, and shuttles frames; over HTTP (``transport="http"``, or
``"auto"`` once the WebSocket upgrade is refused) it polls the server's
``POST /v1/docs/{id}/sync`` for every open document. Everything else is decided by
:class:`SyncEngine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, get_args
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHeader,
    InvalidProxyStatus,
    InvalidStatus,
    WebSocketException,
)

from synckit.client._engine import HTTP_MEDIA_TYPE, HttpOutcome, SyncEngine
from synckit.client._presence import Presence
from synckit.client._store import MemoryStore, SQLiteStore, Store
from synckit.core import Document
from synckit.errors import (
    InvalidTypeError,
    InvalidValueError,
    LocalProtocolError,
    ProtocolError,
    SyncTimeoutError,
)
from synckit.protocol import (
    Error,
    ErrorCode,
    HttpSyncAnswer,
    HttpSyncRequest,
    check_doc_id,
    decode_http_answer,
    encode_http_request,
)

__all__ = [
    "Client",
    "DeletedCallback",
    "RejectedCallback",
    "StatusCallback",
    "TokenProvider",
    "Transport",
    "connect",
    "http_doc_url",
    "http_sync_url",
    "sync_url",
]

#: ``callback(online)``: called when the client goes online or offline.
StatusCallback = Callable[[bool], object]

#: ``callback(doc_id, error)``: the server refused a document's edits or subscription, or
#: changed the access to it.
RejectedCallback = Callable[[str, Error], object]

#: ``callback(doc_id, error)``: the document was deleted (by anyone with admin access, this
#: client included); its local copy and unsent edits are gone. ``error`` is the DOC_DELETED.
DeletedCallback = Callable[[str, Error], object]

#: A callable (plain or async) that returns a fresh token.
TokenProvider = Callable[[], str | Awaitable[str]]

#: How a client reaches the server: ``"websocket"``, ``"http"`` (polling) or ``"auto"``
#: (a WebSocket, and HTTP polling when the upgrade is refused). See :class:`Client`.
Transport = Literal["websocket", "http", "auto"]

# Answers to the WebSocket upgrade that mean "not here" rather than "not now": an HTTP
# response instead of 101 (from the server or a proxy), a 101 without a proper upgrade, or
# a proxy refusing the tunnel. A refused or dropped TCP connection is not among them.
_UPGRADE_REFUSED = (InvalidStatus, InvalidHeader, InvalidProxyStatus)

# HTTP transport: documents synced at once in one round, and requests per document per round
# (the first may only learn the server's version; edits made meanwhile need one more).
_HTTP_CONCURRENCY = 8
_HTTP_REQUESTS_PER_ROUND = 4
_HTTP_HEADERS = {"content-type": HTTP_MEDIA_TYPE, "accept": HTTP_MEDIA_TYPE}
# The longest wait a server's retry_after may impose before reconnecting, in seconds.
_MAX_RETRY_AFTER = 60.0


def _base_path(url: str, schemes: dict[str, str]) -> tuple[SplitResult, str, str]:
    """The URL's parts, its scheme mapped through ``schemes``, and its path without a trailing
    ``/`` or ``/v1/sync``."""
    parts = urlsplit(url)
    scheme = schemes.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise InvalidValueError(
            f"server URL must be http(s):// or ws(s)://host[:port][/path], got {url!r}"
        )
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1/sync")
    return parts, scheme, path


def sync_url(url: str) -> str:
    """The WebSocket URL of the sync endpoint under a server's base URL.

    ``http://h:8080`` and ``ws://h:8080`` become ``ws://h:8080/v1/sync``; https/wss become wss.
    A URL already ending in ``/v1/sync`` is kept.

    Raises:
        ValueError: not an http(s) or ws(s) URL with a host.
    """
    parts, scheme, path = _base_path(url, {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"})
    return urlunsplit((scheme, parts.netloc, path + "/v1/sync", parts.query, ""))


def http_doc_url(url: str, doc_id: str) -> str:
    """The URL of document ``doc_id`` under a server's base URL (``/v1/docs/{doc_id}``: its
    JSON view, and ``DELETE`` deletes it); as :func:`http_sync_url` without ``/sync``."""
    problem = check_doc_id(doc_id)
    if problem is not None:
        raise InvalidValueError(problem)
    schemes = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
    parts, scheme, path = _base_path(url, schemes)
    path += f"/v1/docs/{quote(doc_id, safe='')}"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def http_sync_url(url: str, doc_id: str) -> str:
    """The URL of the HTTP sync endpoint of document ``doc_id`` under a server's base URL.

    ``http://h:8080`` and ``ws://h:8080/base`` become ``http://h:8080/v1/docs/{doc_id}/sync``
    and ``http://h:8080/base/v1/docs/{doc_id}/sync``; https/wss become https. A URL ending in
    ``/v1/sync`` (the WebSocket endpoint) stands for the base URL before it. The document id
    is percent-encoded; a query string is kept.

    Raises:
        ValueError: not an http(s) or ws(s) URL with a host, or not a valid document id.
    """
    problem = check_doc_id(doc_id)
    if problem is not None:
        raise InvalidValueError(problem)
    schemes = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
    parts, scheme, path = _base_path(url, schemes)
    path += f"/v1/docs/{quote(doc_id, safe='')}/sync"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Client:
    """A SyncKit client; build it with :func:`connect` and use it with ``async with``.

    Args:
        url: the server's base URL (http, https, ws or wss).
        store: a SQLite file path, a :class:`Store`, or None to keep everything in memory.
        client_id: names this replica (the actor id adds a per-store suffix); random if None.
        token: sent to the server in the handshake (and in every HTTP sync request): a str,
            or a callable (plain or async) returning a fresh one. A callable is asked before
            every connection and HTTP polling round, and again before the token in use
            expires (the server's Welcome says when), renewing it on the open connection
            without losing queued edits; an expired token then means "ask again", not a
            refusal for good. Cache in the callable if getting a token is costly.
        transport: ``"websocket"`` (the default): one WebSocket, changes pushed both ways as
            they happen. ``"http"``: poll ``POST /v1/docs/{id}/sync`` for every open
            document every ``poll_interval`` seconds and right after each local edit, for
            networks that carry no WebSockets; remote changes arrive up to ``poll_interval``
            late. ``"auto"``: a WebSocket, but when the server or a proxy answers the
            upgrade with anything other than ``101`` (not when the connection is refused or
            drops), HTTP polling, trying the WebSocket again every ``upgrade_retry`` seconds.
        poll_interval: seconds between HTTP polling rounds.
        upgrade_retry: in ``"auto"`` mode, seconds of HTTP polling before the WebSocket is
            tried again.
        backoff_base, backoff_max: reconnect delays (and, over HTTP, delays after a round
            that did not reach the server) are uniform in
            ``[0, min(backoff_max, backoff_base * 2**failures)]``.
        response_timeout, ping_interval: see :class:`SyncEngine`; ``response_timeout`` also
            bounds each HTTP request.
        connect_timeout: seconds to open a connection (WebSocket handshake or HTTP).
        rng: randomness for back-off jitter (tests pass a seeded one).
        store_each_edit: store every local edit before the edit call returns (one append,
            and on a durable SQLite store one fsync, per ``set``, keystroke or list insert).
            By default (False) the edits made in one turn of the event loop are stored
            together at the end of that turn: the edit calls return at once, and a process
            killed before the loop turns loses only those edits, which nobody else ever saw.
            Either way nothing is sent before it is stored.

    Raises:
        ValueError: a bad URL, transport or interval.
    """

    def __init__(
        self,
        url: str,
        *,
        store: str | Path | Store | None = None,
        client_id: str | None = None,
        token: str | TokenProvider | None = None,
        transport: Transport = "websocket",
        poll_interval: float = 1.0,
        upgrade_retry: float = 300.0,
        backoff_base: float = 0.05,
        backoff_max: float = 5.0,
        response_timeout: float = 20.0,
        ping_interval: float = 10.0,
        connect_timeout: float = 10.0,
        rng: random.Random | None = None,
        store_each_edit: bool = False,
    ) -> None:
        if transport not in get_args(Transport):
            raise InvalidValueError(
                f"transport must be one of {', '.join(get_args(Transport))}, got {transport!r}"
            )
        if not poll_interval > 0 or not upgrade_retry > 0:
            raise InvalidValueError("poll_interval and upgrade_retry must be positive")
        #: The WebSocket URL of the sync endpoint.
        self.url = sync_url(url)
        #: The server's base URL, as given.
        self.base_url = url
        #: The transport asked for (see :class:`Client`).
        self.transport: Transport = transport
        self._poll_interval = poll_interval
        self._upgrade_retry = upgrade_retry
        self._active: Literal["websocket", "http"] = "http" if transport == "http" else "websocket"
        self._store_arg = store
        self.client_id = client_id or secrets.token_hex(8)
        self._token: str | TokenProvider = token or ""
        self._backoff = (backoff_base, backoff_max)
        self._timeouts = (response_timeout, ping_interval, connect_timeout)
        self._rng = rng or random.Random()
        self._store_each_edit = store_each_edit
        self._engine: SyncEngine | None = None
        self._store: Store | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._progress = asyncio.Event()
        # Set by reconnect_now(): ends the back-off wait under way.
        self._wake = asyncio.Event()
        self._status_callbacks: list[StatusCallback] = []
        self._rejected_callbacks: list[RejectedCallback] = []
        self._deleted_callbacks: list[DeletedCallback] = []
        self._online = False
        self._owns_store = False
        #: Successful handshakes so far (a reconnect counts again); over HTTP, the times
        #: polling reached the server after it had not.
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
            token=self._token if isinstance(self._token, str) else "",
            response_timeout=response_timeout,
            ping_interval=ping_interval,
            wake=self._kick.set,
            token_renewable=not isinstance(self._token, str),
            on_rejected=self._rejected,
            on_deleted=self._deleted,
        )
        if not self._store_each_edit:
            # A burst of edits in one turn of the loop is stored as one append (one fsync on
            # a durable store), at the end of that turn, and before any of it is sent.
            engine, loop = self._engine, asyncio.get_running_loop()

            def store_soon() -> None:
                loop.call_soon(engine.store_pending)

            engine.store_soon = store_soon
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

    @property
    def active_transport(self) -> Literal["websocket", "http"]:
        """The transport in use or being tried now: with ``transport="auto"``, ``"http"`` once
        the WebSocket upgrade was refused (until the WebSocket is tried again)."""
        return self._active

    # -- documents ----------------------------------------------------------------------

    async def open(
        self, doc_id: str, *, wait: bool = False, timeout: float | None = None
    ) -> Document:
        """The document ``doc_id``, from the store; it syncs in the background.

        The store is read and the document decoded on a worker thread, so a large document
        does not stall the event loop; opening a document already open returns it at once.
        With ``wait=True`` it returns only once the server's state of the document has
        arrived (the document then holds everything the server held when it answered).

        Raises:
            InvalidValueError: invalid document id.
            DocumentDeletedError: the document was deleted (known from the store, or, with
                ``wait``, told by the server while waiting).
            StorageError, DecodeError: the store failed or holds corrupt data.
            SyncTimeoutError: ``wait`` and no answer within ``timeout`` seconds.
            AuthError, PermissionDeniedError, ...: ``wait`` and the server refused it.
        """
        engine = self.engine
        doc = engine.document(doc_id)
        if doc is None:
            logged = await asyncio.to_thread(engine.restore, doc_id)
            doc = engine.adopt(doc_id, logged)
        self._kick.set()
        if wait:
            await self._wait_for(
                lambda: engine.received(doc_id),
                timeout,
                lambda: f"no answer from the server for {doc_id!r} within {timeout} s",
                doc_id,
            )
        return doc

    async def _wait_for(
        self,
        done: Callable[[], bool],
        timeout: float | None,
        why: Callable[[], str],
        doc_id: str | None = None,
    ) -> None:
        """Until ``done()``; raise the refusal that makes waiting pointless, or
        SyncTimeoutError(``why()``) after ``timeout`` seconds."""
        engine = self.engine
        try:
            async with asyncio.timeout(timeout):
                while True:
                    error = engine.terminal_error
                    if (
                        error is None
                        and doc_id is not None
                        and doc_id in engine.deleted
                        and engine.document(doc_id) is None
                    ):
                        error = engine.deleted[doc_id]  # DocumentDeletedError
                    if error is None and doc_id is not None:
                        error = engine.doc_error(doc_id)
                        if error is not None and error.retryable:
                            error = None
                    elif error is None:
                        error = engine.sync_error()
                    if error is not None:
                        raise error.to_exception()
                    if engine.store_failure is not None:
                        raise engine.store_failure  # local edits cannot be stored, so not sent
                    if done():
                        return
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            raise SyncTimeoutError(why()) from None

    def documents(self) -> list[str]:
        """The ids of the documents held locally, sorted: every document in the store
        (opened in this process or not, synced or not) and every open one.

        Raises:
            StorageError: the store failed.
        """
        return self.engine.stored_doc_ids()

    def close(self, doc_id: str) -> None:
        """Close document ``doc_id`` and keep the client open: unsubscribe, stop syncing it
        and release it (the :class:`Document` returned by :meth:`open` is no longer stored or
        synced; :meth:`open` it again for a live one). Its data stays in the store, and so do
        edits the server has not acknowledged: they are sent once it is opened again (not
        before: :meth:`wait_synced` no longer waits for them). Closing a document that is
        not open does nothing.

        Raises:
            StorageError: the store failed to snapshot it (it is closed anyway).
        """
        self.engine.close_doc(doc_id)
        self._kick.set()  # the Unsubscribe

    async def delete(self, doc_id: str, *, timeout: float | None = None) -> None:
        """Delete document ``doc_id`` for everyone, for good, then locally.

        The server must be reached: it checks that this client's principal has ``admin``
        access to the document, commits a tombstone and removes the stored data, and tells
        every client subscribed to it (each drops its copy; see :meth:`on_deleted`). Then the
        local copy goes too, unsent edits included, and the store remembers the id as
        deleted. The id can never be used again, by anyone: the server refuses every later
        subscription or push under it (``DOC_DELETED``), so no replica holding an old copy
        brings it back. Deleting a deleted document returns at once.

        Offline, it waits for a connection (at most ``timeout`` seconds). On a refusal
        nothing changes, here or on the server.

        Raises:
            InvalidValueError: invalid document id.
            PermissionDeniedError: the principal lacks admin access to the document.
            ProtocolError: the server cannot delete documents (an older server), or failed
                to commit the deletion (``INTERNAL``: nothing changed; try again).
            AuthError: the server refused the connection for good.
            SyncTimeoutError: no answer within ``timeout`` seconds (a request already sent
                may still be carried out; one not sent yet is withdrawn).
            StorageError: the local store failed (the server's deletion stands).
        """
        problem = check_doc_id(doc_id)
        if problem is not None:
            raise InvalidValueError(problem)
        engine = self.engine
        if engine.store.is_deleted(doc_id):
            return
        if self._active == "http":
            await self._delete_over_http(doc_id)
            return
        deletion = engine.ask_delete(doc_id)
        self._kick.set()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if deletion.done:
                        return
                    if deletion.error is not None:
                        raise deletion.error.to_exception()
                    if engine.terminal_error is not None:
                        raise engine.terminal_error.to_exception()
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            raise SyncTimeoutError(
                f"no answer to deleting {doc_id!r} within {timeout} s"
                f" ({'online' if self.online else 'offline'})"
            ) from None
        finally:
            engine.forget_deletion(doc_id, unsent_only=not deletion.done)

    async def _delete_over_http(self, doc_id: str) -> None:
        """:meth:`delete` with ``DELETE /v1/docs/{doc_id}`` (HTTP polling)."""
        engine = self.engine
        await self._fresh_token()
        body = encode_http_request(HttpSyncRequest(engine.actor_id, engine.token))
        response_timeout, _, connect_timeout = self._timeouts
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(response_timeout, connect=connect_timeout),
            headers=_HTTP_HEADERS,
            follow_redirects=True,
        ) as http:
            response = await http.request(
                "DELETE", http_doc_url(self.base_url, doc_id), content=body
            )
        answer = decode_http_answer(response.content, ok=response.status_code == 200)
        if answer is None:
            raise ProtocolError(
                f"deleting {doc_id!r}: the answer (HTTP {response.status_code}) is not "
                "SyncKit's (an older server, or a proxy)"
            )
        if isinstance(answer, Error):
            raise answer.to_exception()
        assert isinstance(answer, HttpSyncAnswer)
        engine.drop_deleted(
            doc_id,
            Error(
                ErrorCode.DOC_DELETED,
                f"document {doc_id!r} was deleted by this client",
                doc_id=doc_id,
            ),
        )
        self._progress.set()

    async def clear(self) -> None:
        """Remove all local data: close every open document, and empty the store (every
        document, every unsent edit, the local record of deleted documents). The client
        stays open and usable; it writes from now on under a new actor id (the old one's
        operation numbers are held by the server), and reconnects with it. Nothing is
        deleted on the server: opening a document again fetches it anew. Documents returned
        by :meth:`open` before are no longer stored or synced.

        Raises:
            StorageError: the store failed (nothing was removed).
        """
        self.engine.clear_all(self.client_id)
        self._kick.set()
        self._progress.set()

    def on_deleted(self, callback: DeletedCallback) -> Callable[[], None]:
        """Call ``callback(doc_id, error)`` whenever a document is deleted here because it was
        deleted for everyone: by another client while this one follows it, before this
        client came back online with it (its unsent edits are dropped), or by this client's
        :meth:`delete`. ``error`` is the server's ``DOC_DELETED``; opening the id again raises
        :class:`~synckit.errors.DocumentDeletedError`. Returns an unsubscribe."""
        self._deleted_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._deleted_callbacks:
                self._deleted_callbacks.remove(callback)

        return unsubscribe

    def deleted(self) -> dict[str, Error]:
        """Documents deleted here since the client opened or was last cleared (by anyone),
        with the server's ``DOC_DELETED`` error."""
        return dict(self.engine.deleted)

    def _deleted(self, doc_id: str, error: Error) -> None:
        self._progress.set()
        for callback in tuple(self._deleted_callbacks):
            callback(doc_id, error)

    # -- presence -----------------------------------------------------------------------

    def presence(self, doc_id: str) -> Presence:
        """Presence in open document ``doc_id``: set this client's state (a JSON object: who
        is here, a cursor, a selection), read and observe the other clients' (see
        :class:`Presence`). Ephemeral: never stored, sent again after a reconnect, gone for
        the others when this client closes the document, disconnects or stops.

        Raises:
            LocalProtocolError: the document is not open, or ``transport="http"`` (HTTP polling
                carries no presence; with ``"auto"`` it flows while on a WebSocket).
        """
        if self.transport == "http":
            raise LocalProtocolError(
                "presence needs a WebSocket: transport='http' polls documents and carries no "
                "presence (use 'websocket' or 'auto')"
            )
        self.engine.doc_presence(doc_id)  # raises when the document is not open
        return Presence(self, doc_id)

    def kick(self) -> None:
        """Wake the connection task: frames may be waiting (presence, pushes)."""
        self._kick.set()

    # -- refusals -----------------------------------------------------------------------

    def rejections(self) -> dict[str, Error]:
        """Documents whose local edits (or reading) the server refuses as things stand, with
        its error. Their edits are kept, in the document and the store, and sent again on
        the next connection (at once when the server changes the access)."""
        return self.engine.rejections()

    def rejected(self, doc_id: str) -> Error | None:
        """Why the server refuses ``doc_id``'s edits or subscription now (None: it does not)."""
        return self.engine.rejections().get(doc_id)

    def on_rejected(self, callback: RejectedCallback) -> Callable[[], None]:
        """Call ``callback(doc_id, error)`` whenever the server refuses a document's edits
        or subscription, or tells that the access to it changed (``PERMISSION_CHANGED``);
        returns an unsubscribe."""
        self._rejected_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._rejected_callbacks:
                self._rejected_callbacks.remove(callback)

        return unsubscribe

    def _rejected(self, doc_id: str, error: Error) -> None:
        self._progress.set()
        for callback in tuple(self._rejected_callbacks):
            callback(doc_id, error)

    async def _fresh_token(self) -> None:
        """Ask a callable ``token`` for a fresh one (kept by the engine)."""
        provider = self._token
        if isinstance(provider, str):
            return
        token = provider()
        if inspect.isawaitable(token):
            token = await token
        if not isinstance(token, str):
            raise InvalidTypeError(f"the token callable returned {type(token).__name__}, not str")
        self.engine.token = token

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Return once the server has acknowledged every local edit of every open document.

        Raises:
            SyncTimeoutError: ``timeout`` seconds passed first.
            AuthError, PermissionDeniedError, LimitExceededError, EquivocationError,
                ProtocolError: the server refused the connection or an edit for good, so
                waiting longer would not help (:meth:`rejections` lists what it refused).
        """
        engine = self.engine
        await self._wait_for(
            lambda: not engine.unsynced(),
            timeout,
            lambda: (
                f"not synced after {timeout} s: unacknowledged edits in {engine.unsynced()}"
                f" ({'online' if self.online else 'offline'})"
            ),
        )

    # -- status -------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Over a WebSocket: connected, and the server accepted the handshake. Over HTTP: the
        last polling round reached the server and was not refused for good (a refused token).
        With no open document there is nothing to poll, and it keeps its last value."""
        return self._online

    def reconnect_now(self) -> None:
        """Try the server again now rather than at the end of the back-off wait (up to
        ``backoff_max``), for an app that knows the network is back. It ends the wait under
        way, if any: nothing changes while connected, and a wait the server asked for
        (``retry_after_ms``) is kept."""
        self._wake.set()

    async def _back_off(self, delay: float) -> None:
        """Wait ``delay`` seconds, or until :meth:`reconnect_now`."""
        self._wake.clear()  # (a call made before this wait began is not for it)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

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
        if self.transport == "http":
            await self._poll(None)  # until cancelled
            return
        failures = 0
        base, cap = self._backoff
        loop = asyncio.get_running_loop()
        while True:
            engine = self.engine
            await self._stop_if_refused()
            before = self.connections
            error_before = engine.last_error
            refused = False
            self._active = "websocket"
            try:
                await self._fresh_token()
                async with ws_connect(
                    self.url,
                    open_timeout=self._timeouts[2],
                    max_size=None,
                    compression=None,
                    ping_interval=None,  # liveness is the engine's Ping/Pong
                    close_timeout=2,
                ) as ws:
                    await self._serve(ws)
            except _UPGRADE_REFUSED as exc:
                engine.last_error = Error(ErrorCode.UNSPECIFIED, f"WebSocket refused: {exc}")
                refused = self.transport == "auto"
            except (OSError, TimeoutError, WebSocketException):
                pass
            except Exception as exc:  # the token callable failed: say so, back off, retry
                if isinstance(exc, asyncio.CancelledError):
                    raise
                engine.last_error = Error(
                    ErrorCode.AUTH_FAILED, f"the token callable raised {type(exc).__name__}: {exc}"
                )
            finally:
                engine.connection_lost()
                if not refused:  # polling decides whether we are online
                    self._set_online(False)
            if refused:
                await self._poll(loop.time() + self._upgrade_retry)
                failures = 0
                continue
            if self.connections > before:
                failures = 0
            delay = self._rng.uniform(0, min(cap, base * 2**failures))
            failures += 1
            error = engine.last_error
            if error is not error_before and error is not None and error.retry_after_ms:
                # The server said when to come back (too many connections, say): that wait
                # is kept, whatever reconnect_now() says.
                await asyncio.sleep(max(delay, min(error.retry_after_ms / 1000, _MAX_RETRY_AFTER)))
            else:
                await self._back_off(delay)

    async def _stop_if_refused(self) -> None:
        """Refused for good (token, protocol version): stay offline until closed."""
        if self.engine.terminal_error is not None:
            self._set_online(False)
            self._progress.set()
            await asyncio.Event().wait()

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
        # (At least once a second: a token due for renewal is noticed in time.)
        interval = min(engine.ping_interval / 4, engine.response_timeout / 4, 1.0)
        while True:
            await asyncio.sleep(interval)
            if engine.reauth_due(time.time()):
                try:
                    await self._fresh_token()
                except Exception as exc:  # keep the old token; the server may end the session
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    engine.last_error = Error(
                        ErrorCode.AUTH_FAILED,
                        f"the token callable raised {type(exc).__name__}: {exc}",
                    )
                else:
                    engine.reauthenticate(engine.token)
                    self._kick.set()
            if not engine.tick(loop.time()):
                with contextlib.suppress(WebSocketException, OSError):
                    await ws.close(1001, "no answer from the server")
                return
            self._kick.set()

    # -- the HTTP polling loop -----------------------------------------------------------

    async def _poll(self, deadline: float | None) -> None:
        """Sync every open document over HTTP, every ``poll_interval`` seconds and after each
        local edit, until the loop's clock passes ``deadline`` (None: until cancelled)."""
        loop = asyncio.get_running_loop()
        base, cap = self._backoff
        response_timeout, _, connect_timeout = self._timeouts
        failures = 0
        self._active = "http"
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(response_timeout, connect=connect_timeout),
            headers=_HTTP_HEADERS,
            follow_redirects=True,
        ) as http:
            while deadline is None or loop.time() < deadline:
                await self._stop_if_refused()
                self._kick.clear()  # edits from now on call for another round
                reached: bool | None
                try:
                    await self._fresh_token()
                except Exception as exc:  # the token callable failed: back off, retry
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    self.engine.last_error = Error(
                        ErrorCode.AUTH_FAILED,
                        f"the token callable raised {type(exc).__name__}: {exc}",
                    )
                    reached = False
                else:
                    reached = await self._poll_round(http)
                if reached is False:
                    self._set_online(False)
                    # Local edits do not cut a back-off short: no hammering a server that is down.
                    await self._back_off(self._rng.uniform(0, min(cap, base * 2**failures)))
                    failures += 1
                    continue
                if reached:
                    failures = 0
                wait = self._poll_interval
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(wait, 0)):
                        await self._kick.wait()

    async def _poll_round(self, http: httpx.AsyncClient) -> bool | None:
        """Sync each open document once. True: the server answered; False: it could not be
        reached; None: no document is open."""
        doc_ids = self.engine.doc_ids
        if not doc_ids:
            return None
        slots = asyncio.Semaphore(_HTTP_CONCURRENCY)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self._sync_over_http(http, slots, d)) for d in doc_ids]
        return any(task.result() for task in tasks)

    async def _sync_over_http(
        self, http: httpx.AsyncClient, slots: asyncio.Semaphore, doc_id: str
    ) -> bool:
        """One document's requests of a round; True when the server itself answered."""
        engine = self.engine
        url = http_sync_url(self.base_url, doc_id)
        async with slots:
            for _ in range(_HTTP_REQUESTS_PER_ROUND):
                if engine.document(doc_id) is None:
                    return True  # closed meanwhile
                body = engine.http_request(doc_id)
                try:
                    response = await http.post(url, content=body)
                except httpx.HTTPError as exc:
                    engine.http_failed(doc_id, f"HTTP sync of {doc_id!r} failed: {exc!r}")
                    return False
                except asyncio.CancelledError:
                    engine.http_failed(doc_id)
                    raise
                outcome = engine.receive_http(
                    doc_id,
                    response.status_code == 200,
                    response.content,
                    content_type=response.headers.get("content-type", ""),
                )
                if outcome.reached and engine.terminal_error is None and not self._online:
                    self.connections += 1
                    self._set_online(True)  # sets _progress too
                self._progress.set()
                if outcome is not HttpOutcome.AGAIN:
                    return outcome.reached
        return True


#: ``connect(url, store=..., ...)`` builds a :class:`Client` (the same arguments); use it with
#: ``async with``. It never waits on the network.
connect = Client
