"""The server's logic, without I/O: connections, what each message does, and the HTTP exchanges.

A :class:`Hub` is fed frames with :meth:`Hub.receive`; what it sends is queued on each
:class:`~synckit.server.Connection`. Every way into a document arrives here as frames of a
protocol session -- a WebSocket's, or the short session an HTTP sync request or a JSON view is
played as (:class:`~synckit.protocol.ServerHttpExchange`) -- so authentication, authorization,
limits and acknowledgements are one code path.

Order of a push: authorization, size check, merge into the room's document, queue the new
operations for storage (:mod:`._rooms`); once storage committed them, acknowledge to the sender
and broadcast to the other subscribers. A push whose changes wait for causal predecessors the
server lacks is stored as it came (the document keeps it waiting, and so does its log).

Storage work is queued, not performed: the ASGI server runs it in a task against an async store
(:meth:`next_io`, :meth:`io_done`). Built with a synchronous ``store``, the hub performs it
inline at the end of every call instead, which is how tests and the simulation use it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable

from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.core import Document, SnapshotKey, VersionVector
from synckit.errors import (
    AuthError,
    AuthUnavailableError,
    DecodeError,
    InvalidTypeError,
    LimitExceededError,
    LocalProtocolError,
    RemoteProtocolError,
    StorageError,
    TokenExpiredError,
    TooManyClientsError,
    WorkLimitExceededError,
)
from synckit.protocol import (
    DELETE,
    PRESENCE,
    PROTOCOL_VERSION,
    VERSION_DELTAS,
    Broadcast,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    Event,
    Hello,
    HttpSyncAnswer,
    HttpSyncRequest,
    PresenceSet,
    Push,
    ServerHttpExchange,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    check_doc_id,
    encode_frame_body,
    encode_http_request,
)
from synckit.server._access import AccessChange, access_level
from synckit.server._connection import Connection, WakeGate
from synckit.server._limits import Limits
from synckit.server._log import log_event, logger
from synckit.server._observer import NO_OBSERVER, HubObserver
from synckit.server._presence import PresenceTable
from synckit.server._principal import ANONYMOUS, Access, Action, Grant, Principal
from synckit.server._push_checks import PushRefusedError, clock_limit, push_screen
from synckit.server._quota import Quotas
from synckit.server._rooms import (
    Claim,
    Commit,
    Compact,
    Erase,
    IoOp,
    IoResult,
    Load,
    Offload,
    Outgoing,
    Room,
    Rooms,
)
from synckit.server._store import Store
from synckit.server._views import ViewSchedule

#: ``offload_load(stored, track, key, then)``: :meth:`LoggedDocument.restore` ``stored``
#: (with ``track`` and ``key``) elsewhere and call ``then`` with it (or the DecodeError) on
#: the event loop.
OffloadLoad = Callable[
    [StoredDoc, bool, SnapshotKey | None, Callable[[LoggedDocument | Exception], None]], None
]

__all__ = [
    "CAPABILITIES",
    "Action",
    "Authenticator",
    "Authorizer",
    "Hub",
    "perform_io",
    "view_of",
]

#: ``authenticate(client_id, token) -> Principal``: who is connecting. It raises
#: :class:`~synckit.errors.AuthError` to refuse (:class:`~synckit.errors.TokenExpiredError`
#: for an expired token); returning True or False is the older form (True: a principal named
#: after the client id, with access to everything).
Authenticator = Callable[[str, str], Principal | bool]
#: ``authorize(principal, doc_id, action) -> bool``: may this principal read / write / admin
#: this document? Without one, the principal's grants decide (:meth:`Principal.may`).
Authorizer = Callable[[Principal, str, Action], bool]

CAPABILITIES = ("http-sync", PRESENCE, DELETE, VERSION_DELTAS)

# Frames a client may send while its Hello is being decided (an honest one sends none).
_MAX_HELD_FRAMES = 64
# The largest expiry a Welcome can carry (a hook may say "in a million years").
_MAX_MS = 2**63
# When to try again after a token could not be checked yet (keys being fetched).
_AUTH_RETRY_MS = 2000
# Client id -> owner entries kept in memory (the store holds them all).
_MAX_CACHED_OWNERS = 100_000
# Deleted document ids kept in memory (the store keeps every tombstone; one not in memory is
# learned again by the load that opening it takes).
_MAX_CACHED_DELETED = 100_000
# How soon a client may push again to a document whose deletion is being committed.
_DELETING_RETRY_MS = 1000
#: When a client may push again after too many pushes waited for a document's compaction.
_HELD_RETRY_MS = 500
# A push naming more new client ids than max_new_clients: by then this server may have heard
# of them (with several servers, from another one).
_NEW_CLIENTS_RETRY_MS = 1000


def _tagged_alone(stored: StoredDoc, key: SnapshotKey) -> bool:
    """Whether ``stored`` is a snapshot whose tag verifies under ``key`` and nothing else."""
    snapshot, tag = stored.snapshot, stored.tag
    return (
        not stored.changes
        and snapshot is not None
        and tag is not None
        and key.verify(snapshot, tag)
    )


def perform_io(op: IoOp, store: Store) -> IoResult:
    """Perform one storage operation on a synchronous store; the result for
    :meth:`Hub.io_done` (a StorageError is returned, not raised)."""
    try:
        match op:
            case Load(doc_id=doc_id):
                return store.load(doc_id)
            case Claim():
                return store.claim_actor(op.actor_id, op.principal, op.limit)
            case Commit(batches=batches):
                if batches:
                    store.append_many(batches)
            case Compact():
                if op.tag is not None and getattr(store, "keeps_tags", False):
                    store.compact(op.doc_id, op.snapshot, op.covered, op.tag)
                else:
                    store.compact(op.doc_id, op.snapshot, op.covered)
            case Erase():
                store.delete_doc(op.doc_id, op.principal)
    except (StorageError, LimitExceededError) as exc:
        return exc
    return None


#: What a presence update costs the principal's push budget at the least, in bytes: with the
#: default 1 MiB/s that is 4,096 updates a second (a cursor moves at most ~60 times a second).
PRESENCE_FRAME_COST = 256


class Hub:
    """Rooms and connections of one server.

    Args:
        store: a synchronous store to perform storage work on inline, at the end of each call
            (tests, simulations, embedding); None when the caller drives storage itself with
            :meth:`next_io` and :meth:`io_done`.
        limits: see :class:`Limits`.
        authenticate: decides whether a Hello's client id and token may connect; None lets
            everyone in.
        authorize: decides whether a connected client may read (subscribe to, view) or write
            (push to) a document; None allows everything.
        wake_io: called whenever storage work is queued.
        wall_clock: Unix time in seconds (token expiry, the clock bound on pushes).
        monotonic: seconds on a clock that only goes forward (handshake deadlines, push
            rates).
        observer: told of pushes, acks, broadcasts, errors and refused tokens (metrics; see
            :class:`HubObserver`); None: nobody is.
        wake_presence: called when presence changed: call :meth:`PresenceTable.flush` of
            :attr:`presence` ``limits.presence_tick`` seconds later.
        offload: builds snapshots of documents of ``limits.offload_bytes`` or more elsewhere
            (see :class:`Rooms`); None: on the caller's thread, at once.
        offload_load: rebuilds a document read from storage of ``limits.offload_bytes`` or
            more elsewhere (:data:`OffloadLoad`), the room's subscribers waiting on that one
            load; None: at once.
        offload_ready: whether ``offload`` runs at once (its worker is up); while it does
            not, a large document without a verified tag is loaded by ``offload_load`` and
            then compacted through ``offload`` (so that the next load is tagged), instead of
            waiting for the worker to start. None: always.
        snapshot_key: see :attr:`snapshot_key`. None: the ``store``'s own
            (``store.snapshot_key()``) when it has one, else none (a server sets it later).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
        authorize: Authorizer | None = None,
        wake_io: Callable[[], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        observer: HubObserver | None = None,
        wake_presence: Callable[[], None] | None = None,
        offload: Offload | None = None,
        offload_load: OffloadLoad | None = None,
        offload_ready: Callable[[], bool] | None = None,
        snapshot_key: SnapshotKey | None = None,
    ) -> None:
        self.store = store
        self._observer = NO_OBSERVER if observer is None else observer
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self.limits = limits = limits or Limits()
        #: Connections and push bytes per principal (see :class:`Limits`).
        self.quotas = Quotas(limits)
        self._authenticate = authenticate
        self._authorize = authorize
        self.rooms = Rooms(
            compact_every=limits.compact_every,
            live_docs=limits.live_docs,
            wake=wake_io,
            linger=limits.room_linger,
            offload=offload,
            offload_bytes=limits.offload_bytes,
        )
        self.rooms.on_settled = self._release_held
        self.rooms.on_close = self._closing
        #: Which commits carry their documents' JSON views (with :attr:`views_wanted`).
        self._views = ViewSchedule(
            limits.view_inline_bytes, limits.view_bytes_per_second, limits.view_loop_share
        )
        self._offload_load = offload_load
        self._offload_ready = offload_ready
        if snapshot_key is None and store is not None:
            secret = getattr(store, "snapshot_key", None)
            if secret is not None:
                snapshot_key = SnapshotKey(secret())
        self.rooms.snapshot_key = snapshot_key
        self._connections: dict[int, Connection] = {}
        # Wake-ups held back while a storage operation is answered (see WakeGate).
        self._gate = WakeGate()
        #: Who is in each document (see :mod:`._presence`).
        self.presence = PresenceTable(limits, wake=wake_presence, observer=self._observer)
        # Client (actor) id -> the principal it belongs to, as the store said.
        self._owners: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._closed = False
        #: Give each commit the JSON views of its documents (for a store that keeps them,
        #: such as PostgreSQL's ``views`` table; each costs a to_json of the document).
        self.views_wanted = False
        #: Called with (doc_id, changes) once changes pushed here are committed: how other
        #: servers on the same storage learn of them (see :meth:`merge_remote`).
        self.on_commit: Callable[[str, bytes], None] | None = None
        #: Called with a document id when a client shows that this server's copy lacks
        #: changes others hold (a Subscribe whose version has other clients' operations the
        #: document lacks, or a push whose changes wait for predecessors): with several servers
        #: on one storage, another server committed them and this one did not hear of it yet.
        self.on_behind: Callable[[str], None] | None = None
        self._performing = False
        #: Rooms with committed changes not yet broadcast (see :meth:`_flush_broadcasts`).
        self._outgoing: dict[str, Room] = {}
        # Documents known deleted (an ordered set, bounded), and those whose deletion is
        # queued for storage: document id -> deletions queued.
        self._deleted: dict[str, None] = {}
        self._deleting: dict[str, int] = {}
        #: Called with a document id once its deletion is committed here: how other servers
        #: on the same storage learn of it (see :meth:`deleted_remote`).
        self.on_deleted: Callable[[str], None] | None = None

    # -- connections ------------------------------------------------------------------

    def connect(
        self,
        wake: Callable[[], None] | None = None,
        *,
        http: bool = False,
        reads_only: bool = False,
    ) -> Connection:
        """A new connection; ``wake()`` is called whenever frames are queued for it. ``http``:
        the short session of one HTTP request (no handshake deadline, not logged);
        ``reads_only``: one that sends no changes (its client id is not registered)."""
        conn = Connection(
            next(self._ids),
            self.limits,
            wake,
            opened_at=self._monotonic(),
            http=http,
            reads_only=reads_only,
            observer=self._observer,
            gate=self._gate,
        )
        self._connections[conn.id] = conn
        if self._closed:
            conn.send(self.shutting_down_error())
        return conn

    def charge_read(self, conn: Connection, seconds: float) -> float:
        """``seconds`` of the event loop went to what ``conn`` sent: counted against its
        principal's ``read_share`` (an anonymous connection's own); the seconds to stop
        reading from it for (0.0: read on)."""
        principal = conn.principal
        reader: str | int = principal.id if principal is not None and principal.id else conn.id
        return self.quotas.charge_read(reader, seconds, self._monotonic())

    def disconnect(self, conn: Connection) -> None:
        """The transport of ``conn`` is gone (or done): leave every room."""
        conn.session.close()
        self._drop(conn)
        self._perform_inline()

    def refuse(self, conn: Connection, error: Error) -> None:
        """Send ``error`` to ``conn`` (from the I/O shell); a fatal one ends the connection."""
        conn.send(error)
        if conn.closed:
            self._drop(conn)
            self._perform_inline()

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    @property
    def open_doc_ids(self) -> list[str]:
        """Documents held in memory (each has at least one subscriber)."""
        return self.rooms.doc_ids

    def receive(self, conn: Connection, frame: bytes) -> None:
        """Handle one frame from ``conn``; frames for any connection may be queued."""
        if conn.id not in self._connections:
            return
        if conn.held is not None:
            # The Hello is still being decided (its client id is being registered): later
            # frames wait for the answer, a bounded number of them.
            if len(conn.held) >= _MAX_HELD_FRAMES:
                self.refuse(
                    conn,
                    Error(
                        ErrorCode.ILLEGAL_STATE,
                        f"more than {_MAX_HELD_FRAMES} frames sent before the Welcome",
                        fatal=True,
                    ),
                )
                return
            conn.held.append(frame)
            return
        try:
            events = conn.session.receive(frame)
        except RemoteProtocolError:
            events = []
            if conn.session.error is not None:
                conn.log_refusal(conn.session.error)
        conn.collect()
        for event in events:
            if conn.closed:
                break
            if type(event) is Push:  # here: one waiting for a load is dispatched twice
                self._observer.pushed(len(event.changes))
            self._dispatch(conn, event)
        if conn.closed:
            self._drop(conn)
        self._perform_inline()

    def _dispatch(self, conn: Connection, event: Event) -> None:
        match event:
            case Hello():
                self._on_hello(conn, event)
            case Subscribe():
                self._on_subscribe(conn, event)
            case Push():
                self._on_push(conn, event)
            case Unsubscribe(doc_id=doc_id):
                self._leave(conn, doc_id)
            case PresenceSet():
                self._on_presence(conn, event)
            case DeleteDoc():
                self._on_delete(conn, event)
            case _:
                pass  # Ping is answered by the session; Pong and Error need nothing.

    def _on_hello(self, conn: Connection, hello: Hello) -> None:
        if self._closed:
            conn.send(self.shutting_down_error())
            return
        try:
            principal = self.authenticate(hello.client_id, hello.token)
        except AuthError as exc:
            conn.send(_auth_refusal(exc))
            return
        if conn.principal is not None and principal.id != conn.principal.id:
            conn.send(
                Error(
                    ErrorCode.AUTH_FAILED,
                    f"a token that re-authenticates must be for the same principal "
                    f"({conn.principal.id!r}), got one for {principal.id!r}",
                    fatal=True,
                )
            )
            return
        actor = hello.client_id
        if conn.principal is not None or not principal.id or conn.reads_only:
            # Re-authenticated, an open server's client, or a request that only reads (a JSON
            # view): no client id to register.
            self._welcome(conn, principal)
            return
        owner = self._owners.get(actor)
        if owner is not None:
            self._claimed(conn, principal, actor, owner)
            return
        conn.held = []

        def then(result: str | Exception) -> None:
            held, conn.held = conn.held or [], None
            if conn.id not in self._connections or conn.closed:
                return
            if isinstance(result, LimitExceededError):
                conn.send(Error(ErrorCode.TOO_MANY, str(result), fatal=True))
            elif isinstance(result, Exception):
                conn.send(
                    Error(
                        ErrorCode.INTERNAL,
                        f"cannot register client id {actor!r}: {result}",
                        retryable=True,
                        fatal=True,
                    )
                )
            else:
                self._claimed(conn, principal, actor, result)
            if conn.closed:
                self._drop(conn)
                return
            for frame in held:
                self.receive(conn, frame)

        self.rooms.claim(actor, principal.id, then, self.limits.max_client_ids_per_principal)

    def _claimed(self, conn: Connection, principal: Principal, actor: str, owner: str) -> None:
        """The registry says ``actor`` belongs to ``owner``: welcome ``principal`` or refuse."""
        if len(self._owners) >= _MAX_CACHED_OWNERS:
            self._owners.pop(next(iter(self._owners)))
        self._owners[actor] = owner
        if owner != principal.id:
            conn.send(
                Error(
                    ErrorCode.NOT_AUTHOR,
                    f"client id {actor!r} belongs to another principal; a client writes under "
                    "ids of its own (let the client make a fresh one)",
                    fatal=True,
                )
            )
            return
        self._welcome(conn, principal)

    def _welcome(self, conn: Connection, principal: Principal) -> None:
        first = conn.principal is None
        conn.principal = principal
        if first and not conn.http:  # HTTP requests are bounded by the push budget instead
            refusal = self.quotas.admit(principal.id, conn.id)
            if refusal is not None:
                conn.send(refusal)  # fatal: the connection closes, counted nowhere
                conn.principal = None
                return
            if not conn.http:
                log_event(logging.DEBUG, "connected", **conn.log_fields())
        expires = principal.expires_at
        conn.send(
            Welcome(
                CAPABILITIES,
                self.limits.max_frame_bytes,
                PROTOCOL_VERSION,
                token_expires_ms=0
                if expires is None
                else min(max(0, int(expires * 1000)), _MAX_MS),
                principal=principal.id,
                max_presence_bytes=self.limits.max_presence_bytes,
                presence_timeout_ms=int(self.limits.presence_timeout * 1000),
                max_push_ops=self.limits.max_push_ops,
            )
        )

    def authenticate(self, client_id: str, token: str) -> Principal:
        """The principal of a Hello with this client id and token (the ``authenticate`` hook;
        :data:`ANONYMOUS` without one).

        Raises:
            AuthError: the token was refused (TokenExpiredError: it expired).
        """
        try:
            return self._principal_of(client_id, token)
        except AuthError as exc:
            self._observer.auth_failed(exc)
            raise

    def _principal_of(self, client_id: str, token: str) -> Principal:
        authenticate = self._authenticate
        if authenticate is None:
            return ANONYMOUS
        limit = self.limits.max_token_length
        if len(token) > limit:
            raise AuthError(
                f"authentication failed: the token is {len(token)} characters long, more "
                f"than the limit of {limit} (max_token_length)"
            )
        result = authenticate(client_id, token)
        if result is True:
            return Principal(client_id, (Grant("*", "admin"),))
        if result is False:
            raise AuthError("authentication failed: token refused")
        if not isinstance(result, Principal):
            raise InvalidTypeError(
                f"authenticate must return a Principal, got {type(result).__name__}"
            )
        return result

    def view_access(self, doc_id: str, client_id: str, token: str) -> Principal | Error:
        """Who asks for a JSON view of ``doc_id`` with this client id and token, or why it is
        refused: the questions a view's Hello and Subscribe would be asked, without opening
        the document (its principal's catch-up budgets too). The I/O shell then reads the
        stored document itself, off the rooms, and reports what that cost
        (:meth:`view_sent`)."""
        problem = check_doc_id(doc_id)
        if problem is not None:
            return Error(ErrorCode.INVALID_DOC_ID, problem, fatal=True)
        if self._closed:
            return self.shutting_down_error()
        try:
            principal = self.authenticate(client_id, token)
        except AuthError as exc:
            refusal = _auth_refusal(exc)
        else:
            if self.may(principal, doc_id, "read"):
                debt = self.quotas.debt(
                    principal.id, self._monotonic(), doc_id=doc_id, what="JSON view"
                )
                return principal if debt is None else debt
            who = f"principal {principal.id!r}" if principal.id else "this client"
            refusal = Error(
                ErrorCode.PERMISSION_DENIED, f"{who} may not read document {doc_id!r}", fatal=True
            )
        event = "auth_failed" if refusal.code is not ErrorCode.PERMISSION_DENIED else "refused"
        level = logging.WARNING if event == "auth_failed" else logging.INFO
        log_event(level, event, http=True, client=client_id, doc=doc_id, code=refusal.code.name)
        return refusal

    def view_sent(self, principal: Principal, nbytes: int, seconds: float) -> None:
        """A JSON view for ``principal`` was ``nbytes`` long and took ``seconds`` to decode
        and write (in a thread, which holds the interpreter's lock meanwhile): charged to its
        catch-up and loop budgets as a subscribe's answer would be."""
        now = self._monotonic()
        self.quotas.charge_loop(principal.id, seconds, now)
        self.quotas.charge_sent(principal.id, nbytes, now)

    def may(self, principal: Principal, doc_id: str, action: Action) -> bool:
        """Whether ``principal`` may ``action`` document ``doc_id``: the ``authorize`` hook
        decides when there is one, the principal's grants otherwise."""
        authorize = self._authorize
        if authorize is None:
            return principal.may(doc_id, action)
        return bool(authorize(principal, doc_id, action))

    def level(self, principal: Principal, doc_id: str) -> Access:
        """The highest access ``principal`` has to ``doc_id``, as :meth:`may` answers."""
        return access_level(lambda action: self.may(principal, doc_id, action))

    # -- live changes of access and of tokens ---------------------------------------------

    def access_changed(self, change: AccessChange) -> None:
        """Access may have changed (see :class:`AccessChange`): ask again for every open
        subscription it concerns, and tell each connection whose access to a document changed
        (``PERMISSION_CHANGED``, which ends that subscription; the client subscribes again
        with the access it has now)."""
        for conn in list(self._connections.values()):
            principal = conn.principal
            if principal is None or conn.closed:
                continue
            for doc_id, was in list(conn.levels.items()):
                if not change.concerns(principal.id, doc_id):
                    continue
                now = self.level(principal, doc_id)
                if now == was:
                    continue
                del conn.levels[doc_id]
                conn.send(
                    Error(
                        ErrorCode.PERMISSION_CHANGED,
                        f"access to document {doc_id!r} changed from {was} to {now}; "
                        + ("subscribe again" if now != "none" else "it can no longer be read"),
                        doc_id=doc_id,
                    )
                )
                self._leave(conn, doc_id)
        self._perform_inline()

    def tick(self, now: float | None = None) -> None:
        """End the sessions whose token expired (``TOKEN_EXPIRED``) and the WebSockets that
        did not complete their handshake in time (``HANDSHAKE_TIMEOUT``); call about once a
        second. ``now`` is Unix time (the hub's wall clock when None)."""
        now = self._wall_clock() if now is None else now
        self.rooms.close_idle(self._monotonic())
        self.presence.tick(self._monotonic())
        if self.views_wanted and self._views and self._views.due(self._monotonic()):
            self.rooms.open_commit()  # (a commit of views alone, when no push comes)
        self._perform_inline()
        handshake_due = self._monotonic() - self.limits.handshake_timeout
        for conn in list(self._connections.values()):
            principal = conn.principal
            if conn.closed:
                continue
            if principal is None:
                if not conn.http and conn.opened_at < handshake_due:
                    self.refuse(
                        conn,
                        Error(
                            ErrorCode.HANDSHAKE_TIMEOUT,
                            f"no accepted Hello within {self.limits.handshake_timeout:g} s of "
                            "connecting (handshake_timeout)",
                            fatal=True,
                        ),
                    )
                continue
            if principal.expires_at is None:
                continue
            if principal.expires_at + principal.leeway < now:
                self.refuse(
                    conn,
                    Error(
                        ErrorCode.TOKEN_EXPIRED,
                        "the token expired during the session; send a Hello with a fresh "
                        "token before the one in use expires",
                        retryable=True,
                        fatal=True,
                    ),
                )

    def _allowed(self, conn: Connection, doc_id: str, action: Action, batch: int = 0) -> bool:
        """Whether the connection's principal may ``action`` the document; when not, tell the
        client (PERMISSION_DENIED)."""
        principal = conn.principal or ANONYMOUS
        if self.may(principal, doc_id, action):
            return True
        who = f"principal {principal.id!r}" if principal.id else "this client"
        conn.send(
            Error(
                ErrorCode.PERMISSION_DENIED,
                f"{who} may not {action} document {doc_id!r}",
                doc_id=doc_id,
                batch_id=batch,
            )
        )
        return False

    def _on_subscribe(self, conn: Connection, sub: Subscribe) -> None:
        doc_id = sub.doc_id
        if not self._allowed(conn, doc_id, "read"):
            return
        if doc_id in self._deleted:
            conn.send(_deleted_error(doc_id))
            return
        most = self.limits.max_subscriptions
        if doc_id not in conn.levels and len(conn.levels) >= most:
            conn.send(
                Error(
                    ErrorCode.TOO_MANY,
                    f"this connection is subscribed to {most} documents already "
                    "(max_subscriptions); unsubscribe from one first",
                    doc_id=doc_id,
                )
            )
            return
        principal_id = conn.principal.id if conn.principal is not None else ""
        if principal_id and doc_id not in conn.levels:
            # Each subscription holds a room open (about 2 KiB for an empty document, and a
            # load from storage): the principal's over all its connections are bounded too.
            most = self.limits.max_subscriptions_per_principal
            held = self._subscriptions_of(principal_id)
            if held >= most:
                conn.send(
                    Error(
                        ErrorCode.TOO_MANY,
                        f"principal {principal_id!r} is subscribed to {held} documents over "
                        f"its connections to this server (max_subscriptions_per_principal "
                        f"{most}); unsubscribe from one first",
                        doc_id=doc_id,
                    )
                )
                return
        refusal = self.quotas.debt(principal_id, self._monotonic(), doc_id=doc_id)
        if refusal is not None:
            conn.send(refusal)
            return
        try:
            since = (
                VersionVector.decode(sub.version, max_entries=self.limits.max_version_entries)
                if sub.version
                else VersionVector()
            )
        except DecodeError as exc:
            conn.send(Error(ErrorCode.BAD_CHANGES, f"Subscribe: {exc}", doc_id=doc_id))
            return
        room = self.rooms.open(doc_id)
        room.subscribers[conn.id] = conn
        conn.levels[doc_id] = self.level(conn.principal or ANONYMOUS, doc_id)
        if room.logged is None:
            if not self._wait_for_load(conn, room, sub):
                room.subscribers.pop(conn.id, None)
            return
        self.rooms.touch(room)
        doc = room.logged.doc
        version = doc.version()
        if self.on_behind is not None:
            me = conn.session.client_id
            if any(seq > version[client] for client, seq in since.items() if client != me):
                self.on_behind(doc_id)
        started = self._monotonic()
        # A version that holds less than half of this document's operations (empty, naming
        # only clients that never wrote to it, or long behind) gets the room's whole changes,
        # kept and extended (see Room.whole_changes): at most twice the bytes it lacks, and
        # none of the loop's time a large document's history takes to encode for each one.
        held = sum(min(seq, version[client]) for client, seq in since.items())
        behind = held * 2 <= version.total()
        changes = room.whole_changes(doc) if behind else doc.changes(since)
        if principal_id:
            # What the catch-up cost the loop counts for its principal (a few bytes of
            # Subscribe can ask for half of a large document's history).
            now = self._monotonic()
            self.quotas.charge_loop(principal_id, now - started, now)
            # And the bytes it sends: an empty version gets the whole document.
            self.quotas.charge_sent(principal_id, len(changes), now)
        answer = Subscribed(doc_id, changes, version.encode())

        def reply() -> None:
            if conn.session.awaits_subscribed(doc_id):
                # What the room's subscribers are still owed goes out first: the answer
                # holds it already, and a broadcast after it would repeat it.
                self._flush_room(room)
                conn.send(answer)
                self.presence.joined(conn, doc_id)

        self.rooms.after_commit(reply)

    def _subscriptions_of(self, principal_id: str) -> int:
        """Documents ``principal_id`` is subscribed to, over its open WebSocket connections."""
        connections = self._connections
        return sum(
            len(other.levels)
            for conn_id in self.quotas.connection_ids(principal_id)
            if (other := connections.get(conn_id)) is not None
        )

    def _on_presence(self, conn: Connection, event: PresenceSet) -> None:
        doc_id = event.doc_id
        if doc_id not in conn.levels:  # its subscription was refused or ended meanwhile
            conn.send(
                Error(
                    ErrorCode.ILLEGAL_STATE,
                    f"PresenceSet for document {doc_id!r} which is not subscribed",
                )
            )
            return
        now = self._monotonic()
        if conn.principal is not None and conn.principal.id:
            # Presence costs the principal's push budget too, each frame at least
            # PRESENCE_FRAME_COST bytes: a flood of tiny states is refused like a push flood.
            # The refusal names no document (an error naming one ends its subscription):
            # the update is dropped, and the client's next one or its renewal replaces it.
            refusal = self.quotas.charge(
                conn.principal.id,
                max(len(event.state), PRESENCE_FRAME_COST),
                now,
                what=f"presence update of {doc_id!r}",
            )
            if refusal is not None:
                conn.send(refusal)
                return
        refusal = self.presence.set_state(conn, doc_id, event.state, now)
        if refusal is not None:
            conn.send(refusal)

    def _on_push(self, conn: Connection, push: Push) -> None:
        doc_id, batch = push.doc_id, push.batch_id
        if not self._allowed(conn, doc_id, "write", batch):
            return
        if doc_id in self._deleted:
            conn.send(_deleted_error(doc_id, batch))
            return
        if doc_id in self._deleting:
            # Its deletion is being committed: nothing more is stored for it. When that
            # fails, the push is taken again after the wait; when it succeeds, the client
            # is told the document is gone.
            conn.send(
                Error(
                    ErrorCode.INTERNAL,
                    f"document {doc_id!r} is being deleted; nothing stored",
                    retryable=True,
                    doc_id=doc_id,
                    batch_id=batch,
                    retry_after_ms=_DELETING_RETRY_MS,
                )
            )
            return
        if conn.principal is not None and conn.principal.id:
            now = self._monotonic()
            # (Merge time first: a push refused for it costs no bytes of the budget.)
            refusal = self.quotas.loop_debt(
                conn.principal.id, now, doc_id=doc_id, batch_id=batch
            ) or self.quotas.charge(
                conn.principal.id, len(push.changes), now, doc_id=doc_id, batch_id=batch
            )
            if refusal is not None:
                conn.send(refusal)
                return
        room = self.rooms.get(doc_id)
        if room is None:  # evicted since the session let the subscription through
            conn.send(
                Error(
                    ErrorCode.INTERNAL,
                    f"document {doc_id!r} is not open; subscribe again",
                    retryable=True,
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            return
        if room.logged is None:
            self._wait_for_load(conn, room, push)
            return
        self._commit(conn, room, room.logged, push)

    def _hold(self, conn: Connection, room: Room, push: Push, times: int) -> None:
        """Keep ``push`` until the compaction of ``room``'s document in flight is done (a
        bounded number of them); the pushes after it wait too, so that each connection's
        pushes still commit in the order sent."""
        if len(room.held) >= self.limits.max_load_waiters:
            conn.send(
                Error(
                    ErrorCode.DOC_TOO_LARGE,
                    f"document {room.doc_id!r} is at its size limit while it is compacted and "
                    f"{len(room.held)} pushes already wait for that; try again",
                    retryable=True,
                    doc_id=room.doc_id,
                    batch_id=push.batch_id,
                    retry_after_ms=_HELD_RETRY_MS,
                )
            )
            return
        room.held.append((conn, push, times))

    def _release_held(self, doc_id: str) -> None:
        """A compaction of ``doc_id`` ended: commit the pushes held for it, in order (one
        found over the limit again while another is being built waits once more)."""
        room = self.rooms.get(doc_id)
        if room is None or not room.held:
            return
        held, room.held = room.held, []
        for conn, push, times in held:
            if conn.closed:
                continue
            logged = room.logged
            if room.held or logged is None:
                room.held.append((conn, push, times))
            elif conn.id not in room.subscribers:
                conn.send(
                    Error(
                        ErrorCode.INTERNAL,
                        f"document {doc_id!r} was left before this push was stored; "
                        "subscribe again",
                        retryable=True,
                        doc_id=doc_id,
                        batch_id=push.batch_id,
                    )
                )
            else:
                self._commit(conn, room, logged, push, times)
        self.rooms.close_if_unused(room, self._monotonic())

    def _wait_for_load(self, conn: Connection, room: Room, event: Subscribe | Push) -> bool:
        """Hold ``event`` until the room's document is loaded (a bounded number of them);
        False when it was refused instead."""
        if len(room.queued) >= self.limits.max_load_waiters:
            conn.send(
                Error(
                    ErrorCode.INTERNAL,
                    f"document {room.doc_id!r} is still loading and {len(room.queued)} requests "
                    "already wait for it; try again",
                    retryable=True,
                    doc_id=room.doc_id,
                    batch_id=event.batch_id if isinstance(event, Push) else 0,
                )
            )
            return False
        room.queued.append((conn, event))
        return True

    def _commit(
        self, conn: Connection, room: Room, logged: LoggedDocument, push: Push, held: int = 0
    ) -> None:
        """Merge a push into the room and queue what is new for storage; the ack (and the
        broadcast) follow once storage has it. A refused push changes nothing. ``held``: how
        often the push waited for a compaction already."""
        doc_id, batch, changes = push.doc_id, push.batch_id, push.changes
        if room.held:  # earlier pushes wait for a compaction: this one comes after them
            self._hold(conn, room, push, held)
            return
        observer, taken = self._observer, self._monotonic()
        self.rooms.touch(room)
        size_limit = self.limits.max_doc_bytes
        if logged.size + len(changes) > size_limit:
            # The size counts the log: the last snapshot and every batch since. While a
            # snapshot is being built (off the loop, for a large document), the batches it
            # will fold away still count: the push waits for it rather than being refused
            # for how far behind that build happens to be.
            fits = _may_make_room(logged, len(changes), size_limit)
            if fits and not held and not logged.compacting:
                # The log may hold changes a snapshot folds away (an eighth of the document
                # before one is due): compact now, and look again once that is done.
                self.rooms.compact(doc_id, logged)
            if held < 2 and logged.compacting:
                self._hold(conn, room, push, held + 1)
                return
            conn.send(
                Error(
                    ErrorCode.DOC_TOO_LARGE,
                    f"document {doc_id!r} would grow past the limit of {size_limit} bytes "
                    f"({logged.size} stored, {len(changes)} pushed)",
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            return
        doc = logged.doc
        before, waiting_before = doc.version(), doc.waiting
        limit = clock_limit(self._wall_clock(), self.limits.max_clock_ahead)
        screen = push_screen(
            conn.session.client_id, limit, waiting_before, self.limits.max_waiting_changes
        )
        merging = self._monotonic()
        try:
            doc.apply(
                changes,
                screen=screen,
                max_ops=self.limits.max_push_ops,
                max_work=self.limits.max_merge_work,
                # (+1: the writer's own id, new in a document it never wrote to)
                max_new_clients=self.limits.max_new_clients + 1,
            )
        except TooManyClientsError as exc:  # before any was added
            conn.send(
                Error(
                    ErrorCode.TOO_MANY,
                    f"changes refused, nothing stored: {exc} (max_new_clients, besides the "
                    "writer's own); send them again after retry_after_ms",
                    retryable=True,
                    doc_id=doc_id,
                    batch_id=batch,
                    retry_after_ms=_NEW_CLIENTS_RETRY_MS,
                )
            )
            return
        except WorkLimitExceededError as exc:
            # Stopped part way: the document may hold part of the push. As after a failed
            # merge below, nothing of it is stored and the document is loaded again, which
            # disconnects its subscribers: that costs the principal its whole loop burst
            # besides the time taken, so it cannot push again for a while (loop_burst /
            # loop_share: 8 s at the defaults).
            if conn.principal is not None and conn.principal.id:
                self.quotas.owe_loop_burst(conn.principal.id, self._monotonic())
            conn.send(
                Error(
                    ErrorCode.TOO_MANY,
                    f"changes refused, nothing stored: {exc} (max_merge_work)",
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            self._evict(doc_id, f"document {doc_id!r} is reloaded after a refused merge")
            return
        except LimitExceededError as exc:  # before anything was decoded
            conn.send(
                Error(
                    ErrorCode.TOO_MANY,
                    f"changes refused, nothing stored: {exc} (max_push_ops)",
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            return
        except DecodeError as exc:
            conn.send(
                Error(
                    ErrorCode.BAD_CHANGES,
                    f"changes refused, nothing stored: {exc}",
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            return
        except PushRefusedError as refused:
            conn.send(
                Error(
                    refused.code,
                    refused.message,
                    retryable=refused.retry_after_ms > 0,
                    doc_id=doc_id,
                    batch_id=batch,
                    retry_after_ms=refused.retry_after_ms,
                )
            )
            return
        except Exception:  # a bug in the core: the document may be half-changed
            # Nothing of this push is stored; the room's in-memory document is dropped so
            # that none of it reaches storage or a subscriber, and is loaded again from
            # storage (which holds only committed batches) by the next subscriber.
            logger.exception("merging a push into %r failed; the document is reloaded", doc_id)
            conn.send(
                Error(
                    ErrorCode.INTERNAL,
                    f"changes refused, nothing stored: the server failed merging them into "
                    f"{doc_id!r}",
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            self._evict(doc_id, f"document {doc_id!r} is reloaded after a server error")
            return
        finally:
            # The loop's time this merge took, refused or not, counts for its principal.
            if conn.principal is not None and conn.principal.id:
                now = self._monotonic()
                self.quotas.charge_loop(conn.principal.id, now - merging, now)
        after = doc.version()
        waiting = doc.waiting
        grown: bytes | None = None  # what grew in the version, when known without a diff
        # (version() gives the same object until the version changes, and a change always
        # raises an entry: no need to compare every entry.)
        if after is before:
            delta = b""
        else:
            room.extended = None  # stale now: not kept until the next subscriber finds out
            review = screen.review
            if (
                review is not None
                and not waiting
                and not waiting_before
                and screen.width == _growth(before, after, screen.tops)
            ):
                # Every pushed operation was new and applied, once (see PushScreen): the
                # pushed bytes, decoded and checked by the merge, are the delta - as our
                # protobuf library writes them, so that every subscriber parses what this
                # server parsed, whatever its own library makes of odd encodings. What
                # grew is exactly what the push reached.
                delta = review.canonical()
                grown = screen.grown()
            else:
                delta = doc.changes(before)
        # Changes that now wait for predecessors are stored as they came: the log replays them
        # into the same wait, and they apply once the predecessors arrive. A push that only
        # repeats what already waits (same count, nothing applied) stores nothing.
        new_wait = waiting and (waiting != waiting_before or after != before)
        if new_wait and self.on_behind is not None:
            self.on_behind(doc_id)
        stored = changes if new_wait else delta
        if not stored:

            def ack() -> None:
                conn.send_ack(doc_id, batch, _told(conn, before, after, grown))
                observer.acked(self._monotonic() - taken)

            self.rooms.after_commit(ack)
            return
        commit = self.rooms.append(room, stored)
        # Did the push let changes of others apply, changes that waited here for it? The
        # pusher has never seen those (they came from another server, or a client that had
        # them from one): it gets the broadcast too, though its Ack's version holds them.
        # Only changes that waited before this push can have been let through by it (what
        # the push itself brought, the pusher has).
        me = conn.session.client_id
        unblocked = bool(waiting_before) and any(
            seq > before[client] for client, seq in after.items() if client != me
        )

        def reply() -> None:
            if doc_id in self._deleted:
                # Another server deleted it meanwhile: storage refused the batch.
                conn.send(_deleted_error(doc_id, batch))
                return
            conn.send_ack(doc_id, batch, _told(conn, before, after, grown))
            observer.acked(self._monotonic() - taken)
            if delta:
                # Broadcast once the whole commit is acknowledged, with the rest of it (to
                # the pusher too when it let others' changes apply: see above).
                sender = None if unblocked else conn
                room.outgoing.append(Outgoing(sender, before, after, delta, grown))
                self._outgoing[doc_id] = room
            if self.on_commit is not None:
                self.on_commit(doc_id, stored)

        def refuse(why: str) -> None:
            conn.send(
                Error(
                    ErrorCode.INTERNAL,
                    f"storage failed, nothing kept: {why}",
                    retryable=True,
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )

        commit.replies.append(reply)
        commit.refusals.append(refuse)

    def _flush_broadcasts(self) -> None:
        """Tell each room's subscribers what a commit stored in it: one frame per subscriber
        and commit, whatever the number of pushes the commit held (under load a commit holds
        many, and each subscriber would otherwise get one frame per push).

        One push: its own changes, to everyone but its sender, as they were taken. Several:
        the changes between the version before the first and after the last (anything
        merged from another server in between too), to every subscriber; a sender then sees
        its own changes again, which applying ignores.
        """
        outgoing, self._outgoing = self._outgoing, {}
        for room in outgoing.values():
            self._flush_room(room)

    def _flush_room(self, room: Room) -> None:
        parts, room.outgoing = room.outgoing, []
        self._outgoing.pop(room.doc_id, None)
        if not parts or self.rooms.get(room.doc_id) is not room or room.logged is None:
            return  # nothing, or evicted meanwhile (its subscribers were dropped)
        first, last = parts[0], parts[-1]
        if len(parts) == 1:
            self._broadcast(room, first.delta, first.before, first.after, first.sender, first.grown)
            return
        changes = room.logged.doc.changes(first.before, last.after)
        senders = {part.sender for part in parts}
        only = next(iter(senders)) if len(senders) == 1 else None
        self._broadcast(room, changes, first.before, last.after, only)

    def _broadcast(
        self,
        room: Room,
        changes: bytes,
        before: VersionVector,
        after: VersionVector,
        sender: Connection | None,
        grown_version: bytes | None = None,
    ) -> None:
        """Send ``changes`` (what took the document from ``before`` to ``after``) to every
        subscriber but ``sender``: the Broadcast encoded at most twice, with the whole
        version and with what grew (see :func:`_told`; ``grown_version`` when the caller
        knows it), and numbered per connection."""
        doc_id = room.doc_id
        whole = grown = b""
        frames = sent = 0
        for other in list(room.subscribers.values()):
            if other is sender:
                continue
            if other.session.version_deltas:
                if not grown:
                    told = _grown(before, after) if grown_version is None else grown_version
                    grown = encode_frame_body(Broadcast(doc_id, changes, told))
                body = grown
            else:
                if not whole:
                    whole = encode_frame_body(Broadcast(doc_id, changes, after.encode()))
                body = whole
            # One still waiting for its Subscribed gets this change in that answer.
            if other.send_broadcast(doc_id, body):
                frames += 1
                sent += len(body)
                if other.closed:
                    self._drop(other)
        if frames:
            self._observer.broadcast(frames, sent)

    # -- rooms ------------------------------------------------------------------------

    def _loaded(self, room: Room, result: StoredDoc | Exception | None) -> None:
        if isinstance(result, StoredDoc) and result.deleted:
            self._gone(room.doc_id, f"document {room.doc_id!r} was deleted")
            return
        track = self.rooms.offload is not None
        offload_load = self._offload_load
        if (
            offload_load is not None
            and isinstance(result, StoredDoc)
            and result.size >= self.limits.offload_bytes
        ):
            # Events for the room keep queuing in it until the document is here.
            key, offload = self.snapshot_key, self.rooms.offload
            if offload is not None and key is not None and not _tagged_alone(result, key):
                ready = self._offload_ready
                if ready is None or ready():
                    # The checks of an untagged snapshot and the batches after it, in the
                    # worker: here only its tagged snapshot is decoded, then stored in their
                    # place.
                    def built(snapshot: tuple[bytes, bytes | None] | Exception) -> None:
                        self._built_for_load(room, result, snapshot)

                    offload(result.snapshot, list(result.changes), key, result.tag, built)
                    return

                # The worker is not up yet: decoded (with every check) in the thread, then
                # compacted through the worker, which starts it, so that the next load is
                # tagged.
                def loaded(logged: LoggedDocument | Exception) -> None:
                    self._restored(room, logged)
                    if (
                        isinstance(logged, LoggedDocument)
                        and room.logged is logged
                        and not logged.compacting
                    ):
                        self.rooms.compact(room.doc_id, logged)

                offload_load(result, track, key, loaded)
                return
            offload_load(result, track, key, lambda logged: self._restored(room, logged))
            return
        restored: LoggedDocument | Exception
        if isinstance(result, Exception):
            restored = result
        else:
            try:
                restored = LoggedDocument.restore(result, track=track, key=self.snapshot_key)
            except DecodeError as exc:
                restored = exc
        self._restored(room, restored)

    def _built_for_load(
        self, room: Room, stored: StoredDoc, built: tuple[bytes, bytes | None] | Exception
    ) -> None:
        """The worker rebuilt ``stored`` (every check of its snapshot and batches) into one
        tagged snapshot: decode that one off the loop (the fast path), then store it in
        place of what it holds. A failed build: the load is done as without the worker."""
        offload_load = self._offload_load
        assert offload_load is not None
        track = self.rooms.offload is not None
        key = self.snapshot_key
        if isinstance(built, DecodeError):
            self._restored(room, built)
            return
        if isinstance(built, Exception):  # the worker failed: no verdict on the bytes
            offload_load(stored, track, key, lambda logged: self._restored(room, logged))
            return
        if self.rooms.get(room.doc_id) is not room or room.logged is not None:
            return  # closed or evicted meanwhile: a later subscriber loads it again
        snapshot, tag = built

        def restored(logged: LoggedDocument | Exception) -> None:
            if isinstance(logged, LoggedDocument):
                logged.log_count = len(stored.changes)
                logged.log_bytes = sum(map(len, stored.changes))
                logged.size = stored.size + logged.doc.text_length()
                logged.loaded = None if stored.snapshot is None else "checked"
                if self.rooms.get(room.doc_id) is room and room.logged is None:
                    self.rooms.compact_loaded(room.doc_id, logged, snapshot, tag)
            self._restored(room, logged)

        offload_load(StoredDoc(snapshot, (), tag=tag), track, key, restored)

    @property
    def snapshot_key(self) -> SnapshotKey | None:
        """The server's :class:`SnapshotKey`: snapshots it writes are stored with their tag,
        and a stored snapshot whose tag verifies under it loads without the checks only a
        hostile author needs (every other one loads with all of them). None: no tags."""
        return self.rooms.snapshot_key

    @snapshot_key.setter
    def snapshot_key(self, key: SnapshotKey | None) -> None:
        self.rooms.snapshot_key = key

    def _restored(self, room: Room, result: LoggedDocument | Exception | None) -> None:
        if self.rooms.get(room.doc_id) is not room or room.logged is not None:
            return  # closed or evicted meanwhile: a later subscriber loads it again
        if isinstance(result, LoggedDocument):
            room.logged = result
            if result.loaded is not None:
                self._observer.snapshot_loaded(result.loaded == "tagged")
        queued, room.queued = room.queued, []
        remote, room.remote = room.remote, []
        if room.logged is not None:
            for changes in remote:
                self._merge_into(room, room.logged, changes)
        if isinstance(result, Exception):
            self.rooms.evict(room.doc_id)
            for conn, event in queued:
                conn.send(
                    Error(
                        ErrorCode.INTERNAL,
                        f"cannot load document {room.doc_id!r}: {result}",
                        retryable=True,
                        doc_id=room.doc_id,
                        batch_id=event.batch_id if isinstance(event, Push) else 0,
                    )
                )
            return
        for conn, event in queued:
            if not conn.closed and conn.id in room.subscribers:
                self._dispatch(conn, event)
        self.rooms.close_if_unused(room, self._monotonic())

    def version_of(self, doc_id: str) -> VersionVector | None:
        """The version of ``doc_id`` as open here (None: not open, or still loading)."""
        room = self.rooms.get(doc_id)
        if room is None or room.logged is None:
            return None
        return room.logged.doc.version()

    def merge_remote(self, doc_id: str, changes: bytes) -> None:
        """Changes another server committed to the storage this server shares: merge them into
        the document if it is open here and tell its subscribers (nothing is stored: the
        other server did). A document not open here is read from storage when it opens."""
        room = self.rooms.get(doc_id)
        if room is None:
            return
        if room.logged is None:
            room.remote.append(changes)  # merged once the document is loaded
            return
        self._merge_into(room, room.logged, changes)

    def _merge_into(self, room: Room, logged: LoggedDocument, changes: bytes) -> None:
        doc = logged.doc
        before = doc.version()
        try:
            doc.apply(changes)
        except DecodeError as exc:
            log_event(logging.WARNING, "bad_remote_changes", doc=room.doc_id, why=str(exc))
            return
        logged.merged(changes)
        after = doc.version()
        if after == before:
            return
        room.extended = None
        changes = doc.changes(before)
        # Behind the commits queued so far, as every reply that reveals a version.
        self.rooms.after_commit(lambda: self._broadcast(room, changes, before, after, None))
        self._perform_inline()

    def _leave(self, conn: Connection, doc_id: str) -> None:
        conn.levels.pop(doc_id, None)
        self.presence.left(conn, doc_id)
        room = self.rooms.get(doc_id)
        if room is None:
            return
        room.subscribers.pop(conn.id, None)
        self.rooms.close_if_unused(room, self._monotonic())

    def _evict(self, doc_id: str, why: str) -> None:
        room = self.rooms.evict(doc_id)
        if room is None:
            return
        for conn in list(room.subscribers.values()):
            conn.send(Error(ErrorCode.INTERNAL, why, retryable=True, fatal=True))
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        if self._connections.pop(conn.id, None) is None:
            return
        if conn.principal is not None:
            self.quotas.release(conn.principal.id, conn.id)
            if not conn.http:
                log_event(logging.DEBUG, "disconnected", **conn.log_fields())
        for doc_id, room in self.rooms.items():
            if conn.id in room.subscribers:
                self._leave(conn, doc_id)
        for doc_id in list(conn.levels):  # documents no longer open here (evicted)
            self._leave(conn, doc_id)
        self.presence.dropped(conn)

    # -- deletion ---------------------------------------------------------------------

    def _on_delete(self, conn: Connection, event: DeleteDoc) -> None:
        doc_id, request = event.doc_id, event.request_id
        principal = conn.principal or ANONYMOUS
        who = f"principal {principal.id!r}" if principal.id else "this client"
        if not self.may(principal, doc_id, "admin"):
            conn.send(
                Error(
                    ErrorCode.PERMISSION_DENIED,
                    f"{who} may not delete document {doc_id!r}: deleting needs admin access",
                    doc_id=doc_id,
                    request_id=request,
                )
            )
            return
        if doc_id in self._deleted:
            self._left_deleted(conn, doc_id)
            conn.send(DocDeleted(doc_id, request))
            return
        self._deleting[doc_id] = self._deleting.get(doc_id, 0) + 1

        def then(result: Exception | None) -> None:
            left = self._deleting.pop(doc_id, 1) - 1
            if left:
                self._deleting[doc_id] = left
            alive = conn.id in self._connections and not conn.closed
            if result is not None:
                if alive:
                    conn.send(
                        Error(
                            ErrorCode.INTERNAL,
                            f"cannot delete document {doc_id!r}, nothing changed: {result}",
                            retryable=True,
                            doc_id=doc_id,
                            request_id=request,
                        )
                    )
                return
            first = doc_id not in self._deleted
            self._gone(doc_id, f"document {doc_id!r} was deleted by {who}", requester=conn)
            if alive:
                self._left_deleted(conn, doc_id)
                conn.send(DocDeleted(doc_id, request))
                if conn.closed:
                    self._drop(conn)
            if first:
                log_event(logging.INFO, "deleted", doc=doc_id, principal=principal.id)
                if self.on_deleted is not None:
                    self.on_deleted(doc_id)

        # Behind every commit queued so far: what they store is removed with the rest.
        self.rooms.erase(doc_id, principal.id, then)

    def deleted_remote(self, doc_id: str) -> None:
        """Another server on the same storage deleted ``doc_id``: tell its subscribers here
        (``DOC_DELETED``), close it, and refuse it from now on (storage holds the tombstone)."""
        if check_doc_id(doc_id) is not None or doc_id in self._deleted:
            return
        self._gone(doc_id, f"document {doc_id!r} was deleted")
        self._perform_inline()

    def is_deleted(self, doc_id: str) -> bool:
        """Whether this server knows ``doc_id`` to be deleted (storage is the truth: an id
        not known here is checked when it is next opened)."""
        return doc_id in self._deleted

    def _left_deleted(self, conn: Connection, doc_id: str) -> None:
        """``conn`` no longer follows deleted ``doc_id`` (its session says so already)."""
        conn.levels.pop(doc_id, None)
        self.presence.left(conn, doc_id)

    def _gone(self, doc_id: str, why: str, requester: Connection | None = None) -> None:
        """``doc_id`` is deleted: remember it, close its room without saving anything, answer
        what waited for it and tell every subscriber but ``requester`` (DOC_DELETED)."""
        self._deleted.pop(doc_id, None)
        self._deleted[doc_id] = None
        while len(self._deleted) > _MAX_CACHED_DELETED:
            self._deleted.pop(next(iter(self._deleted)))
        self._outgoing.pop(doc_id, None)
        room = self.rooms.evict(doc_id)
        told: list[Connection] = []
        if room is not None:
            queued, room.queued = room.queued, []
            for conn, event in queued:
                if isinstance(event, Push):
                    conn.send(_deleted_error(doc_id, event.batch_id, why))
                    told.append(conn)
            told += room.subscribers.values()
        told += (c for c in self._connections.values() if doc_id in c.levels)
        for conn in dict.fromkeys(told):
            if conn is requester:
                if conn.closed:
                    self._drop(conn)
                continue
            self._left_deleted(conn, doc_id)
            if conn.session.awaits_subscribed(doc_id) or doc_id in conn.session.subscriptions:
                conn.send(_deleted_error(doc_id, 0, why))
            if conn.closed:
                self._drop(conn)

    # -- storage work -----------------------------------------------------------------

    def next_io(self) -> IoOp | None:
        """The next storage operation to perform (None: nothing, or one is running).

        Perform it (:func:`perform_io` does, on a synchronous store), then call
        :meth:`io_done` with the result.
        """
        op = self.rooms.next_io()
        if self.views_wanted and isinstance(op, Commit):
            # Its batches are final now: each document's view is exactly what they store. A
            # large document's is written at most so often, and all of them within the
            # views' share of the loop (ViewSchedule); the views that lag behind are written
            # once due, in whatever commit comes then: those first, while the budget lasts
            # (it would otherwise go to whoever commits most often), then this commit's.
            views, now = self._views, self._monotonic()
            for doc_id in views.due(now) if views else ():
                if views.spent(now):
                    break
                now = self._view(op, doc_id, now)
            for doc_id in dict.fromkeys(doc for doc, _ in op.batches):
                now = self._view(op, doc_id, now)
        return op

    def _view(self, commit: Commit, doc_id: str, now: float) -> float:
        """Put ``doc_id``'s view into ``commit`` if the schedule wants it now; the time after."""
        views = self._views
        room = self.rooms.get(doc_id)
        if room is None or room.logged is None:
            views.forget(doc_id)
            return now
        if doc_id in commit.views or not views.wants(doc_id, room.logged.size, now):
            return now
        text = commit.views[doc_id] = view_text(room.logged.doc.to_json())
        done = self._monotonic()
        views.written(doc_id, room.logged.size, len(text), done, done - now)
        return done

    def _closing(self, room: Room) -> None:
        """``room`` closes: a view of its document that lags behind goes into the next
        commit now (the document will not be here when that commit goes)."""
        views = self._views
        if self.views_wanted and views.is_stale(room.doc_id) and room.logged is not None:
            began = self._monotonic()
            self.rooms.open_commit().views[room.doc_id] = view_text(room.logged.doc.to_json())
            views.built(self._monotonic() - began)
        views.forget(room.doc_id)

    @property
    def views_behind(self) -> int:
        """Documents whose stored JSON view lags behind their commits (see
        :class:`~synckit.server._views.ViewSchedule`)."""
        return len(self._views)

    @property
    def io_idle(self) -> bool:
        """No storage work is queued or running."""
        return self.rooms.io_idle

    def io_done(self, op: IoOp, result: IoResult = None) -> None:
        """Report a storage operation as performed: ``result`` is what a Load read, or the
        StorageError it raised. Acknowledgements waiting for it go out now."""
        # The Acks of a commit: each connection is woken once, with all of its Acks queued,
        # and its transport writes them together, with the commit's broadcast behind them:
        # one write per pusher. Every other subscriber's broadcast is written as it is queued
        # (one per subscriber anyway): the first subscribers need not wait for the last.
        releases = self._gate.hold()
        try:
            if isinstance(op, Commit) and isinstance(result, frozenset):
                # Deleted by another server meanwhile: those batches were not stored.
                for doc_id in sorted(result):
                    self._gone(doc_id, f"document {doc_id!r} was deleted")
            if isinstance(op, Compact) and not isinstance(result, Exception):
                self._observer.compacted(len(op.snapshot))
            for doc_id in self.rooms.done(op, result):
                self._evict(doc_id, f"storage failed: {result}")
            if self._outgoing:
                if releases:
                    self._gate.narrow()
                self._flush_broadcasts()
        finally:
            if releases:
                self._gate.release()
        for room, stored in self.rooms.take_loaded():
            self._loaded(room, stored)

    def _perform_inline(self) -> None:
        store = self.store
        if store is None or self._performing:
            return
        self._performing = True
        try:
            while (op := self.rooms.next_io()) is not None:
                self.io_done(op, perform_io(op, store))
        finally:
            self._performing = False

    # -- HTTP exchanges ---------------------------------------------------------------

    def start_exchange(
        self, exchange: ServerHttpExchange, wake: Callable[[], None] | None = None
    ) -> Connection | None:
        """Play an HTTP exchange's frames on a new connection; None when the request was
        refused before any frame (then ``exchange.result`` is set). Then call
        :meth:`advance_exchange` whenever ``wake()`` is called, until it returns True."""
        if exchange.result is not None:
            return None
        conn = self.connect(wake, http=True, reads_only=not exchange.pushes)
        for frame in exchange.frames():
            self.receive(conn, frame)
        return conn

    def advance_exchange(self, exchange: ServerHttpExchange, conn: Connection | None) -> bool:
        """Read what the server sent for the exchange; True once its answer is known (the
        connection is then closed)."""
        if conn is None:
            return True
        for frame in conn.take_frames():
            if exchange.receive(frame):
                break
        if exchange.result is None and conn.closed:
            exchange.abandon(
                Error(ErrorCode.INTERNAL, "the session ended without an answer", retryable=True)
            )
        if exchange.result is None:
            return False
        self.disconnect(conn)
        return True

    def view_exchange(
        self, doc_id: str, client_id: str = "viewer", token: str = ""
    ) -> ServerHttpExchange:
        """The exchange that reads a whole document, with the same checks as a sync request
        (its client id is not registered: a view writes nothing)."""
        body = encode_http_request(HttpSyncRequest(client_id, token))
        return ServerHttpExchange(doc_id, body, max_body_bytes=self.limits.max_frame_bytes)

    def exchange(self, exchange: ServerHttpExchange) -> HttpSyncAnswer | Error:
        """Play an exchange to its end on a hub with an inline store.

        Raises:
            LocalProtocolError: it needs storage work no one performs (no inline store).
        """
        conn = self.start_exchange(exchange)
        if not self.advance_exchange(exchange, conn):
            raise LocalProtocolError("the exchange waits for storage: drive it with io_done")
        assert exchange.result is not None
        return exchange.result

    def doc_json(
        self, doc_id: str, client_id: str = "viewer", token: str = ""
    ) -> dict[str, object] | None:
        """The JSON view of a document on a hub with an inline store; None when it does not
        exist.

        Raises:
            SyncKitError: the view was refused (see :func:`view_of`).
        """
        return view_of(self.exchange(self.view_exchange(doc_id, client_id, token)))

    # -- shutdown ---------------------------------------------------------------------

    @staticmethod
    def shutting_down_error() -> Error:
        """The fatal error that tells a client the server is going away."""
        return Error(ErrorCode.SHUTTING_DOWN, "server is shutting down", retryable=True, fatal=True)

    def close(self) -> None:
        """Tell every connection the server is going away and queue snapshots of open rooms
        (performed at once with an inline store, which is then closed). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for conn in list(self._connections.values()):
            conn.send(self.shutting_down_error())
        self.rooms.offload = None  # the last snapshots now, before storage closes
        for doc_id, room in self.rooms.items():
            self._closing(room)  # (a view that lags behind goes now)
            if room.logged is not None and room.logged.log_count and not room.logged.compacting:
                self.rooms.compact(doc_id, room.logged)
        self.rooms.clear()
        self._connections.clear()
        if self.store is not None:
            self._perform_inline()
            self.store.close()


def _may_make_room(logged: LoggedDocument, pushed: int, limit: int) -> bool:
    """Whether compacting ``logged`` now may make room for ``pushed`` more bytes under
    ``limit``: only a log that holds a sixty-fourth of the document or more (a snapshot
    costs as much as the whole document: a writer must not be able to make one with every
    other push), and only if the push would fit beside the document without its log."""
    rest = logged.snapshot_bytes
    return logged.log_count > 0 and logged.log_bytes * 64 >= rest and rest + pushed <= limit


def view_text(view: object) -> str:
    """A document's JSON view as text a database's JSON type takes: NUL characters, which any
    client may write and PostgreSQL's ``jsonb`` refuses (failing the whole commit), become
    U+FFFD in the view (the document itself keeps them).

    Characters beyond ASCII are written as ``\\u`` escapes, which the database reads back as
    the characters: json's ASCII writer takes about half the time of the other (900 KB of
    text: 1.9 against 3.4 ms), and this runs on the event loop for every commit."""
    text = json.dumps(view, separators=(",", ":"))
    if "\\u0000" not in text:
        return text
    return json.dumps(_without_nul(view), separators=(",", ":"))


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _deleted_error(doc_id: str, batch: int = 0, why: str = "") -> Error:
    """The error that tells a client ``doc_id`` is deleted (of push ``batch`` when set)."""
    return Error(
        ErrorCode.DOC_DELETED,
        (why or f"document {doc_id!r} was deleted")
        + "; its id can never be used again (drop the local copy)",
        doc_id=doc_id,
        batch_id=batch,
    )


def _auth_refusal(exc: AuthError) -> Error:
    """The fatal error that answers a refused token."""
    if isinstance(exc, TokenExpiredError):
        return Error(ErrorCode.TOKEN_EXPIRED, str(exc), fatal=True)
    if isinstance(exc, AuthUnavailableError):
        return Error(
            ErrorCode.AUTH_FAILED,
            str(exc),
            retryable=True,
            fatal=True,
            retry_after_ms=_AUTH_RETRY_MS,
        )
    return Error(ErrorCode.AUTH_FAILED, str(exc), fatal=True)


def view_of(result: HttpSyncAnswer | Error) -> dict[str, object] | None:
    """The JSON view a view exchange read (None: no such document).

    Raises:
        SyncKitError: the exchange ended in an error (see :meth:`Error.to_exception`), or
            the stored changes do not decode (DecodeError).
    """
    if isinstance(result, Error):
        raise result.to_exception()
    if not VersionVector.decode(result.server_version):
        return None
    doc = Document()
    doc.apply(result.changes)
    return dict(doc.to_json())


def _growth(before: VersionVector, after: VersionVector, clients: Iterable[str]) -> int:
    """How many seqs the entries of ``clients`` rose by from ``before`` to ``after``. With
    nothing waiting before a push, only the push's own clients can have risen: their growth
    is the whole version's."""
    old, new = before._seqs, after._seqs
    return sum(new.get(c, 0) - old.get(c, 0) for c in clients)


def _grown(before: VersionVector, after: VersionVector) -> bytes:
    """The entries of ``after`` above ``before``, encoded: what a client that advertised
    :data:`VERSION_DELTAS` is told of the server's version in an Ack or Broadcast. (The
    pushes and broadcasts a connection gets cover every change of the document's version
    since its Subscribed, so these add up to the whole.)"""
    old = before._seqs
    return VersionVector._trusted(
        {c: s for c, s in after._seqs.items() if old.get(c, 0) != s}
    ).encode()


def _told(
    conn: Connection, before: VersionVector, after: VersionVector, grown: bytes | None = None
) -> bytes:
    """The ``server_version`` of an Ack to ``conn`` of a push that took the document from
    ``before`` to ``after``: what grew (``grown`` when the caller knows it), or the whole
    version for a client without :data:`VERSION_DELTAS`."""
    if not conn.session.version_deltas:
        return after.encode()
    return _grown(before, after) if grown is None else grown
