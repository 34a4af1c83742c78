"""The replica side of the client: open documents, their store, and what the server holds.

:class:`ReplicaSet` is the part of the client's :class:`~synckit.client.SyncEngine` that does
not depend on the transport: it opens documents from the store (through the shared
:class:`~synckit._logged.LoggedDocument`), appends every local edit to the store from inside the
document's change callback -- before anything can be sent, so what is queued is always on disk --
applies and stores what the server sends, and keeps the server's version of each document, from
which :meth:`ReplicaSet.unsynced` and :meth:`ReplicaSet.sync_error` tell the truth whichever
transport reported it. The WebSocket session (:mod:`._session_sync`) and the HTTP exchange
(:mod:`._http_sync`) build on it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from synckit._logged import LoggedDocument
from synckit.client._presence import DocPresence
from synckit.client._store import Store
from synckit.core import ChangeEvent, Document, SnapshotKey, VersionVector
from synckit.core._remote import count_ops
from synckit.errors import DecodeError, DocumentDeletedError, InvalidValueError, StorageError
from synckit.protocol import ClientSession, Error, ErrorCode, State, check_doc_id

__all__ = ["TERMINAL", "Deletion", "Replica", "ReplicaSet", "is_terminal"]

#: Errors after which reconnecting cannot help (unless the server says it may: retryable).
#: NOT_AUTHOR ends a session when the client id belongs to another principal (a store shared
#: by two users): that store's edits cannot be sent under this token. TOO_MANY, not
#: retryable, at the Hello: the principal registered as many client ids as the server allows.
TERMINAL = frozenset(
    {ErrorCode.AUTH_FAILED, ErrorCode.PROTOCOL_VERSION, ErrorCode.NOT_AUTHOR, ErrorCode.TOO_MANY}
)


def is_terminal(error: Error, token_renewable: bool) -> bool:
    """Whether a fatal ``error`` from the server means reconnecting cannot help."""
    if error.code is ErrorCode.TOKEN_EXPIRED:
        return not token_renewable
    return error.code in TERMINAL and not error.retryable


@dataclass(slots=True)
class Replica:
    """One open document and what the engine knows of its sync state."""

    doc: Document
    #: What the store holds of the document.
    persisted: VersionVector
    #: The document's place in the store's log (batches since the snapshot).
    logged: LoggedDocument
    unsubscribe: Callable[[], None]
    #: The server's version as it last told us on this connection (None: not told yet).
    #: Frames arrive in order and the server's version only grows, so the latest one holds
    #: everything earlier ones did; it is decoded only when needed.
    server_raw: bytes | None = None
    server_cache: tuple[bytes, VersionVector] | None = None
    #: The document's version at the last push on this connection.
    pushed: VersionVector = field(default_factory=VersionVector)
    #: Our own last seq the server acknowledged as stored on this connection. It can be
    #: above the server's version: edits that wait there for others' operations.
    stored: int = 0
    #: Our own last seq in the HTTP request out (0: it carried no edits of ours).
    http_mine: int = 0
    #: The server's state arrived at least once (a Subscribed answer, an HTTP answer).
    received: bool = False
    #: Pushes wait until this engine time (seconds): the server said when to retry.
    retry_at: float = 0.0
    #: Subscribe again on this connection at this engine time (seconds): the server ended
    #: the subscription with a retryable error (storage failed to load it). 0: not due.
    resubscribe_at: float = 0.0
    #: The last error the server sent about this document.
    error: Error | None = None
    #: An HTTP sync request for this document is out, awaiting its answer.
    http_pending: bool = False
    #: Bytes of changes in that request (for error messages).
    http_pushed: int = 0
    #: Own seqs its changes span, at least their operations (the next request has half as
    #: many when the server says too many).
    http_seqs: int = 0


@dataclass(slots=True)
class Deletion:
    """A deletion of a document this replica asked the server for."""

    #: The ``DeleteDoc`` request id on the current connection (0: not sent on it yet).
    request_id: int = 0
    #: The server committed the deletion (the document is gone locally too).
    done: bool = False
    #: The server's refusal (PERMISSION_DENIED, ...), or why it cannot be asked.
    error: Error | None = None


class ReplicaSet:
    """Documents of one replica and their sync state, over successive connections.

    Args:
        store: where documents and edits persist.
        actor_id: the client id every document writes under (see ``Store.actor_id``).
        token: sent to the server with every Hello (and HTTP request).
        response_timeout: seconds without a frame while an answer is due before
            :meth:`tick` gives up on the connection.
        ping_interval: seconds of silence before :meth:`tick` sends a Ping.
        compact_every: snapshot a document in the store after this many appended batches,
            once they add up to an eighth of the snapshot's bytes (or after 16 times as
            many, whatever their size).
        clock: passed to every Document (milliseconds); None for the system clock.
        wake: called when frames may be waiting (a local edit happened).
        token_renewable: see the attribute.
        on_rejected: see the attribute.
        on_deleted: see the attribute.
    """

    def __init__(
        self,
        store: Store,
        actor_id: str,
        *,
        token: str = "",
        response_timeout: float = 20.0,
        ping_interval: float = 10.0,
        compact_every: int = 256,
        clock: Callable[[], int] | None = None,
        wake: Callable[[], None] | None = None,
        token_renewable: bool = False,
        on_rejected: Callable[[str, Error], None] | None = None,
        on_deleted: Callable[[str, Error], None] | None = None,
    ) -> None:
        self.store = store
        self.actor_id = actor_id
        self.token = token
        #: A fresh token can be had (the client's ``token`` is a callable): an expired one
        #: is then not a refusal for good.
        self.token_renewable = token_renewable
        #: Called with (doc_id, error) whenever the server refuses a document's edits or
        #: subscription, or changes the access to it.
        self.on_rejected = on_rejected
        #: Called with (doc_id, error) once a document is deleted here because the server
        #: said it was deleted (``DOC_DELETED``; also after this replica's own deletion).
        self.on_deleted = on_deleted
        #: Documents deleted since the engine started: doc_id -> the DOC_DELETED error.
        self.deleted: dict[str, Error] = {}
        # Deletions asked of the server: doc_id -> its state.
        self._deletions: dict[str, Deletion] = {}
        #: When the token in use expires (Unix seconds, from the Welcome; None: never/unknown).
        self.token_expires: float | None = None
        self._renew_at = 0.0
        self._welcomed = False
        #: Unix time in seconds (token renewal).
        self.wall_clock: Callable[[], float] = time.time
        self.response_timeout = response_timeout
        self.ping_interval = ping_interval
        self.compact_every = compact_every
        self.wake = wake
        #: When set, a local edit is not stored from inside the edit call: the document is
        #: noted, this is called (once until :meth:`store_pending` runs), and the caller runs
        #: :meth:`store_pending` soon, so that a burst of edits is one append (one fsync on a
        #: durable store) instead of one each. Either way nothing is sent before it is stored:
        #: every push, HTTP request and remote apply of a noted document stores it first.
        #: None (the default): each edit is stored before the edit call returns.
        self.store_soon: Callable[[], None] | None = None
        #: The last failure of :meth:`store_pending` (its documents stay noted, unsent, and
        #: are tried again at the next call); None once a call stored everything.
        self.store_failure: StorageError | None = None
        self._unstored: set[str] = set()
        self._clock = clock
        # The store's snapshot key (see _snapshot_key): None until asked, False for a store
        # without one.
        self._key: SnapshotKey | Literal[False] | None = None
        self._replicas: dict[str, Replica] = {}
        self.session: ClientSession | None = None
        #: The server's frame limit, from its Welcome (over HTTP alone: found by halving a
        #: refused request).
        self.max_frame_bytes = 0
        #: The most operations the server takes in one push, from its Welcome (over HTTP
        #: alone: found by halving a refused request); 0: not known, no limit.
        self.max_push_ops = 0
        #: An error after which reconnecting is pointless (refused token, protocol version).
        self.terminal_error: Error | None = None
        #: The last fatal error of a connection, from either side.
        self.last_error: Error | None = None
        self._last_heard = 0.0
        self._ping_due = False
        self._nonces = itertools.count(1)
        #: Pushes the server acknowledged, over all connections (a statistic).
        self.acked_pushes = 0
        # Unanswered requests -> the time a tick first saw them.
        self._waiting: dict[object, float] = {}
        # Push batch id -> our own last seq it carried, and how many own seqs it spans (a
        # push refused as too many operations is sent again in parts of fewer).
        self._batch_mine: dict[int, tuple[int, int]] = {}
        # Document id -> its presence (see synckit.client._presence).
        self._presence: dict[str, DocPresence] = {}
        #: From the server's Welcome: the largest presence state it keeps (0: unknown) and
        #: how often to renew ours (seconds).
        self.max_presence_bytes = 0
        self.presence_renew = 10.0

    # -- documents ----------------------------------------------------------------------

    def open(self, doc_id: str) -> Document:
        """The document ``doc_id``, loaded from the store (or new); synced from now on.

        Raises:
            ValueError: ``doc_id`` is not a valid document id.
            StorageError, DecodeError: the store failed or holds corrupt data.
        """
        rep = self._replicas.get(doc_id)
        if rep is not None:
            return rep.doc
        return self.adopt(doc_id, self.restore(doc_id))

    def restore(self, doc_id: str) -> LoggedDocument:
        """Read ``doc_id`` from the store without opening it (no engine state is touched, so
        this may run on another thread); give the result to :meth:`adopt`.

        Raises:
            ValueError: ``doc_id`` is not a valid document id.
            StorageError, DecodeError: the store failed or holds corrupt data.
        """
        problem = check_doc_id(doc_id)
        if problem is not None:
            raise InvalidValueError(problem)
        if self.store.is_deleted(doc_id):
            raise DocumentDeletedError(
                f"document {doc_id!r} was deleted; its id can never be used again", doc_id
            )
        return LoggedDocument.restore(
            self.store.load(doc_id), self.actor_id, clock=self._clock, key=self._snapshot_key()
        )

    def _snapshot_key(self) -> SnapshotKey | None:
        """The key the store's snapshots are tagged with (``Store.snapshot_key``), asked
        once; None for a store without one, or while the store fails to give it (snapshots
        are then stored untagged and load with every check: correct, only slower)."""
        key = self._key
        if key is None:
            make = getattr(self.store, "snapshot_key", None)
            if make is None:
                key = self._key = False
            else:
                try:
                    key = self._key = SnapshotKey(make())
                except StorageError:
                    return None
        return key or None

    def adopt(self, doc_id: str, logged: LoggedDocument) -> Document:
        """Open ``doc_id`` as :meth:`restore` read it (when it is not open already)."""
        rep = self._replicas.get(doc_id)
        if rep is not None:
            return rep.doc
        doc = logged.doc

        def on_change(event: ChangeEvent) -> None:
            self._on_change(doc_id, event)

        rep = Replica(doc, doc.version(), logged, doc.subscribe(on_change, text_edits=False))
        self._replicas[doc_id] = rep
        self._opened(doc_id, rep)
        return doc

    def close_doc(self, doc_id: str) -> None:
        """Stop syncing ``doc_id`` and forget it; its store data stays, unsent edits included
        (they are sent once it is opened again). Its log is snapshotted first."""
        self.store_pending()  # (a failing store fails the snapshot below too)
        rep = self._replicas.pop(doc_id, None)
        if rep is None:
            return
        rep.unsubscribe()
        self._closed(doc_id)
        if rep.logged.log_count:
            self._compact(doc_id, rep)

    def stored_doc_ids(self) -> list[str]:
        """The documents in the store, and those open here (one opened and never edited has
        nothing stored yet), sorted."""
        return sorted(set(self.store.doc_ids()) | set(self._replicas))

    def drop_deleted(self, doc_id: str, error: Error) -> None:
        """The server says ``doc_id`` is deleted (``error``, DOC_DELETED): close it and remove
        it from the store, unsent edits included, remembering it as deleted there (opening it
        again raises DocumentDeletedError); then tell :attr:`on_deleted`. Told again (the
        server names a deleted document in each refusal), it does nothing."""
        if doc_id in self.deleted and doc_id not in self._replicas:
            return
        rep = self._replicas.pop(doc_id, None)
        if rep is not None:
            rep.unsubscribe()
            self._closed(doc_id)
        self.store.delete_doc(doc_id)
        self.deleted[doc_id] = error
        deletion = self._deletions.get(doc_id)
        if deletion is not None:
            deletion.done = True
        if self.on_deleted is not None:
            self.on_deleted(doc_id, error)

    def ask_delete(self, doc_id: str) -> Deletion:
        """Ask the server to delete ``doc_id`` (sent on the current or next connection with a
        server that can); its state, until :meth:`forget_deletion`."""
        deletion = self._deletions.get(doc_id)
        if deletion is None or deletion.error is not None:
            deletion = self._deletions[doc_id] = Deletion()
        self._send_deletions()
        return deletion

    def forget_deletion(self, doc_id: str, *, unsent_only: bool = False) -> None:
        """Stop tracking the deletion of ``doc_id`` (``unsent_only``: only when it was not
        sent on this connection, so that it is never sent later)."""
        deletion = self._deletions.get(doc_id)
        if deletion is not None and (not unsent_only or not deletion.request_id):
            del self._deletions[doc_id]

    def _send_deletions(self) -> None:
        """A transport's hook: send the deletions not sent yet."""

    def clear_all(self, client_id: str) -> None:
        """Close every document and empty the store (documents, unsent edits, local
        tombstones, actor ids); from now on the replica writes under a new actor id."""
        for doc_id in list(self._replicas):
            rep = self._replicas.pop(doc_id)
            rep.unsubscribe()
            self._closed(doc_id)
        self._presence.clear()
        self._deletions.clear()
        self.deleted.clear()
        self.store.clear()
        self._key = None  # (the store made a new one)
        self.actor_id = self.store.actor_id(client_id)
        self._identity_changed()

    def _identity_changed(self) -> None:
        """A transport's hook: the actor id changed (a session must start again)."""

    def _opened(self, doc_id: str, rep: Replica) -> None:
        """A transport's hook: ``doc_id`` was just opened."""

    def _closed(self, doc_id: str) -> None:
        """A transport's hook: ``doc_id`` was just closed."""

    def _fail(self, code: ErrorCode, message: str) -> None:
        """A transport's hook: the server sent bytes that do not decode."""

    @property
    def doc_ids(self) -> list[str]:
        return list(self._replicas)

    def document(self, doc_id: str) -> Document | None:
        rep = self._replicas.get(doc_id)
        return None if rep is None else rep.doc

    def doc_error(self, doc_id: str) -> Error | None:
        """The last error recorded for the open document ``doc_id`` (by the server or by the
        engine itself, such as a push over the frame limit); None when there is none."""
        rep = self._replicas.get(doc_id)
        return None if rep is None else rep.error

    def _on_change(self, doc_id: str, event: ChangeEvent) -> None:
        if not event.local:
            return  # remote changes are stored as received, by _apply
        soon = self.store_soon
        if soon is None:
            self._store_local(doc_id, self._replicas[doc_id])
        elif doc_id not in self._unstored:
            if not self._unstored:
                soon()
            self._unstored.add(doc_id)
        if self.wake is not None:
            self.wake()

    def _store_local(self, doc_id: str, rep: Replica) -> None:
        """Append the local edits of ``doc_id`` the store lacks, as one batch."""
        version = rep.doc.version()
        if not rep.persisted.dominates(version):
            self._append(doc_id, rep, rep.doc.changes(rep.persisted), version)

    def store_pending(self) -> bool:
        """Store the local edits noted since the last call (see :attr:`store_soon`); False
        when the store failed (:attr:`store_failure`; those documents stay unsent)."""
        while self._unstored:
            doc_id = next(iter(self._unstored))
            rep = self._replicas.get(doc_id)
            try:
                if rep is not None:
                    self._store_local(doc_id, rep)
            except StorageError as exc:
                self.store_failure = exc
                return False
            self._unstored.discard(doc_id)
        self.store_failure = None
        return True

    def _stored(self, doc_id: str) -> bool:
        """Whether every local edit of ``doc_id`` is in the store (storing the noted ones
        now): only then may they be sent."""
        return doc_id not in self._unstored or self.store_pending()

    def _append(self, doc_id: str, rep: Replica, changes: bytes, version: VersionVector) -> None:
        self.store.append(doc_id, changes)
        rep.persisted = version
        rep.logged.appended(len(changes))
        if rep.logged.compaction_due(self.compact_every):
            self._compact(doc_id, rep)

    def _compact(self, doc_id: str, rep: Replica) -> None:
        """Replace the document's log in the store by a snapshot of it."""
        logged = rep.logged
        snapshot, covered, size_then = logged.snapshot()
        key = self._snapshot_key()
        try:
            self.store.compact(
                doc_id, snapshot, covered, None if key is None else key.tag(snapshot)
            )
        except BaseException:
            logged.compaction_failed()
            raise
        logged.compacted(snapshot, covered, size_then)

    def _own_part(
        self, doc: Document, version: VersionVector, since: VersionVector, room: int
    ) -> tuple[bytes, int]:
        """This replica's edits after ``since`` (see :meth:`_own_since`) as changes of at
        most ``room`` bytes (0: no limit) and :attr:`max_push_ops` operations, and the own
        seq they reach. A backlog larger than one push (long offline, or held back by the
        server's rate limit) goes in parts, oldest first; only a single edit larger than
        ``room`` comes back too large."""
        me = self.actor_id
        data = doc.changes(since)
        first = since[me]
        if self._fits(data, version[me] - first, room):
            return data, version[me]
        seqs = dict(version._seqs)
        low, high = first + 1, version[me] - 1
        best: tuple[bytes, int] | None = None
        while low <= high:  # the largest prefix of our edits that fits
            mid = (low + high) // 2
            seqs[me] = mid
            part = doc.changes(since, VersionVector._trusted(seqs))
            if self._fits(part, mid - first, room):
                best, low = (part, mid), mid + 1
            else:
                high = mid - 1
        if best is None:
            seqs[me] = since[me] + 1
            return doc.changes(since, VersionVector._trusted(seqs)), since[me] + 1
        return best

    def _fits(self, part: bytes, seqs: int, room: int) -> bool:
        """Whether ``part``, changes spanning ``seqs`` own seqs, fits in one push: at most
        ``room`` bytes (0: any) and :attr:`max_push_ops` operations (an operation takes at
        least one seq, so they are counted only when the seqs are more)."""
        if room and len(part) > room:
            return False
        limit = self.max_push_ops
        return not limit or seqs <= limit or count_ops(part) <= limit

    def _fewer_ops(self, refused: int) -> bool:
        """The server refused a push of ``refused`` operations (or own seqs, which are at
        least as many) as too many, or as too much work to merge: from now on, at most half
        as many per push. False when a single one was refused (nothing smaller to send)."""
        if refused <= 1:
            return False
        self.max_push_ops = max(1, min(self.max_push_ops or refused, refused) // 2)
        return True

    def _own_since(self, version: VersionVector, server: VersionVector) -> VersionVector:
        """``version`` with this replica's own entry from ``server``: ``changes`` since it are
        exactly this replica's edits the server lacks. A client sends only its own
        operations; the server refuses new ones under other client ids (their authors send
        them)."""
        seqs = {client: version[client] for client in version}
        seqs[self.actor_id] = server[self.actor_id]
        return VersionVector._trusted({c: s for c, s in seqs.items() if s})

    def _server(self, rep: Replica) -> VersionVector | None:
        """The server's version (decoded once per new value); None when not told."""
        raw = rep.server_raw
        if raw is None:
            return None
        cache = rep.server_cache
        if cache is not None and cache[0] is raw:
            return cache[1]
        try:
            version = VersionVector.decode(raw)
        except DecodeError as exc:
            self._fail(ErrorCode.BAD_CHANGES, f"server version does not decode: {exc}")
            rep.server_raw = None
            return None
        rep.server_cache = (raw, version)
        return version

    # -- sync state ---------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """A session is open (the server accepted our Hello)."""
        return self.session is not None and self.session.state is State.OPEN

    def unsynced(self) -> list[str]:
        """Documents holding local edits the server has not acknowledged (edits of this
        replica: others' operations it holds are for their authors to send)."""
        out = []
        me = self.actor_id
        for doc_id, rep in self._replicas.items():
            mine = rep.doc.version()[me]
            server = self._server(rep)
            if server is None:
                # Not told on this connection: only a document we never wrote to is known synced.
                if mine:
                    out.append(doc_id)
            elif max(server[me], rep.stored) < mine:
                out.append(doc_id)
        return out

    def rejections(self) -> dict[str, Error]:
        """Documents whose local edits (or subscription) the server refuses as things stand,
        with the error: their edits stay in the document and the store, unsent."""
        return {d: rep.error for d, rep in self._replicas.items() if rep.error is not None}

    def received(self, doc_id: str) -> bool:
        """The server's state of ``doc_id`` has arrived at least once (since it was opened)."""
        rep = self._replicas.get(doc_id)
        return rep is not None and rep.received

    def _reject(self, doc_id: str, rep: Replica, error: Error) -> None:
        rep.error = error
        if self.on_rejected is not None:
            self.on_rejected(doc_id, error)

    def sync_error(self) -> Error | None:
        """An error that keeps local edits from ever being acknowledged as things stand."""
        if self.terminal_error is not None:
            return self.terminal_error
        for rep in self._replicas.values():
            if rep.error is not None and not rep.error.retryable:
                return rep.error
        return None

    def _check_rolled_back(
        self, doc_id: str, rep: Replica, mine: int, server: VersionVector
    ) -> None:
        """Refuse to push ``doc_id`` when the server holds more of our own edits (``server``)
        than the document did before taking the server's changes (``mine``)."""
        if server[self.actor_id] > mine:
            # The server holds edits of this very replica that its store lacks: the store was
            # rolled back (a restored copy). Edits made since reuse their numbers and would be
            # dropped as duplicates, so refuse to push them.
            rep.error = Error(
                ErrorCode.EQUIVOCATION,
                f"the store of {self.actor_id!r} is older than the server's copy of "
                f"its edits to {doc_id!r} (seq {mine} < {server[self.actor_id]}): "
                "was it restored from a backup? Open the client with a fresh store",
                doc_id=doc_id,
            )

    def _apply(self, doc_id: str, rep: Replica, changes: bytes) -> bool:
        """Apply changes from the server and store them as they came."""
        if not self._stored(doc_id):
            # (What the version will hold is marked stored below: the local edits must be in
            # the store first. A failing store fails this, as an edit's append did.)
            assert self.store_failure is not None
            raise self.store_failure
        before = rep.doc.version()
        try:
            rep.doc.apply(changes)
        except DecodeError as exc:
            self._fail(ErrorCode.BAD_CHANGES, f"changes for {doc_id!r} do not decode: {exc}")
            return False
        version = rep.doc.version()
        if version != before:
            # Everything the version holds is now in the store: earlier bytes were stored the
            # same way, and local edits by _on_change.
            self._append(doc_id, rep, changes, version)
        return True
