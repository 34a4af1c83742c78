"""Open documents ("rooms") and the storage work they queue, in commit order, without I/O.

A room holds one document in memory while connections use it. Nothing here touches storage:
every load, commit and compaction becomes an :class:`IoOp` in one first-in, first-out queue,
and whoever drives the hub performs them (the ASGI server in a task against an async store,
tests and the simulation inline against a synchronous one) and reports back with
:meth:`Rooms.done`. Because the queue is worked one operation at a time, storage sees the
operations in the order the hub made them, with one exception: a commit queued behind loads
of other documents goes first (see :meth:`Rooms.next_io`).

Group commit: changes pushed while earlier work is still being stored are gathered into one
:class:`Commit` (one transaction), and its replies are released together once it is stored.

Offloaded compaction: with an ``offload`` hook, the snapshot of a large document is built
elsewhere (a worker process) from the bytes the document was rebuilt from and the batches merged
since (:meth:`LoggedDocument.snapshot_source`), exactly the document's state at the moment it
was asked for. Its :class:`Compact` is queued only once the snapshot is built, so it lands
behind every commit of the batches it covers, and replaces only those: batches appended
meanwhile stay in the log. A room opened again while its last snapshot is being built loads
after that compaction is queued.

The rule that keeps acknowledgements honest: any reply that reveals the server's version
(``Ack``, ``Broadcast``, ``Subscribed``) waits, with :meth:`Rooms.after_commit`, behind the last
commit queued when it was made, so a client never learns of a version before storage holds it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.core import Document, SnapshotKey, VersionVector
from synckit.core._whole import WholeChanges, extend_whole, whole_changes
from synckit.errors import InvalidValueError
from synckit.protocol import Event, Push
from synckit.server._connection import Connection

__all__ = [
    "Claim",
    "Commit",
    "Compact",
    "Erase",
    "IoOp",
    "IoResult",
    "Load",
    "Offload",
    "Outgoing",
    "Room",
    "Rooms",
]


@dataclass(slots=True)
class Outgoing:
    """One push's changes, committed and waiting to be broadcast with the rest of its commit."""

    #: The connection that pushed them (it has them already; None: the push let others'
    #: waiting changes apply, which it lacks, so it gets the broadcast too).
    sender: Connection | None
    #: The document's version before and after they were merged.
    before: VersionVector
    after: VersionVector
    #: What they added, as changes.
    delta: bytes
    #: What grew from ``before`` to ``after``, encoded, when known without comparing them.
    grown: bytes | None = None


@dataclass(slots=True)
class Room:
    """One open document and the connections subscribed to it."""

    doc_id: str
    #: The document and its log bookkeeping; None while it is being loaded.
    logged: LoggedDocument | None = None
    subscribers: dict[int, Connection] = field(default_factory=dict)
    #: Events that arrived while the document was loading, replayed once it is here.
    queued: list[tuple[Connection, Event]] = field(default_factory=list)
    #: When its last subscriber left (monotonic seconds); None while it has some.
    idle_since: float | None = None
    #: Changes other servers committed that arrived while the document was loading.
    remote: list[bytes] = field(default_factory=list)
    #: The whole document as changes, encoded once and kept: what a client with nothing
    #: gets on subscribing is these bytes followed by what the document gained since
    #: (:mod:`synckit.core._whole`), so that a crowd reconnecting after a restart shares one
    #: encoding and a large document being edited is not encoded whole again after every
    #: edit for the next newcomer.
    whole: WholeChanges | None = None
    #: ``whole`` extended to the version it was last asked at (dropped when that changes).
    extended: tuple[VersionVector, bytes] | None = None
    #: Pushes committed and not yet broadcast (the hub sends them once per commit).
    outgoing: list[Outgoing] = field(default_factory=list)
    #: Pushes that would take the document past its size limit while its log still holds
    #: batches a compaction will fold away, in arrival order with how often each was held;
    #: the hub commits them again once that compaction is done (see ``on_settled``).
    held: list[tuple[Connection, Push, int]] = field(default_factory=list)

    def whole_changes(self, doc: Document) -> bytes:
        """Everything of the room's document as one change set: the kept whole changes,
        extended with what came since, once per version. Once the part added since passes
        a 32nd of the kept bytes, the whole changes are encoded again and kept instead:
        written a few operations at a time, a byte of the extension costs about three times
        one of the whole (a megabyte of text: 240 ms whole, 0.3 ms extended by one edit,
        1.0 ms by a hundred), so an extension never costs more than about a tenth of the
        whole's encoding, and operations overwritten since travel twice only so far."""
        version = doc.version()
        extended = self.extended
        if extended is not None and extended[0] == version:
            return extended[1]
        kept = self.whole
        data = None if kept is None else extend_whole(doc, kept)
        if kept is None or data is None or len(data) - len(kept.data) > len(kept.data) >> 5:
            kept = self.whole = whole_changes(doc)
            data = kept.data
        self.extended = (version, data)
        return data


@dataclass(slots=True)
class Load:
    """Read what storage holds for ``doc_id``; report the :class:`StoredDoc` (or None)."""

    doc_id: str


@dataclass(slots=True)
class Commit:
    """Append ``batches`` in one transaction; on success run ``replies`` in order."""

    batches: list[tuple[str, bytes]] = field(default_factory=list)
    #: Run once the batches are stored (acks, broadcasts, answers), in order.
    replies: list[Callable[[], None]] = field(default_factory=list)
    #: Run instead when storing failed (refusals), in order.
    refusals: list[Callable[[str], None]] = field(default_factory=list)
    #: Document id -> its JSON view (text) with these batches, for a store that keeps views
    #: (filled when the commit goes to storage; empty otherwise).
    views: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Compact:
    """Replace the first ``covered`` batches of ``doc_id``'s log by ``snapshot``."""

    doc_id: str
    snapshot: bytes
    covered: int
    size_then: int
    #: The bookkeeping to update when done (not a later reload's).
    logged: LoggedDocument
    #: How many of ``logged``'s tracked batches the snapshot holds.
    taken: int = 0
    #: The server's :class:`SnapshotKey` tag of ``snapshot``, stored beside it (None: none).
    tag: bytes | None = None


@dataclass(slots=True)
class Claim:
    """Register ``actor_id`` as ``principal``'s unless it is someone's already; ``then`` gets
    the owner (or the StorageError)."""

    actor_id: str
    principal: str
    then: Callable[[str | Exception], None]
    #: Ids ``principal`` may own at most (0: no limit).
    limit: int = 0


@dataclass(slots=True)
class Erase:
    """Delete ``doc_id`` for good (a tombstone, its data removed) on behalf of ``principal``;
    ``then`` gets None once committed, or the StorageError."""

    doc_id: str
    principal: str
    then: Callable[[Exception | None], None]


IoOp = Load | Commit | Compact | Claim | Erase

#: What performing an :data:`IoOp` gives back: a Load's document, a Claim's owner, a failure,
#: or, for a Commit, the documents it did not store because they are deleted (a store shared
#: by several servers: another one deleted them).
IoResult = StoredDoc | str | Exception | frozenset[str] | None

#: What an offloaded build gives back: the snapshot and its tag (None: no key), or the failure.
Built = tuple[bytes, bytes | None] | Exception

#: ``offload(base, batches, key, base_tag, then)``: build
#: :func:`~synckit._logged.build_snapshot` of them elsewhere and call ``then`` with the
#: snapshot and its tag under ``key`` (or the exception) on the event loop.
Offload = Callable[
    [bytes | None, list[bytes], SnapshotKey | None, bytes | None, Callable[[Built], None]], None
]


class Rooms:
    """The open rooms, the least recently used order for compaction in memory, and the storage
    queue.

    Args:
        compact_every: snapshot a document after this many committed batches.
        live_docs: documents kept decoded; beyond this many the least recently used are kept as
            their snapshot bytes until used again.
        wake: called when an operation is queued (the storage task has work).
        linger: seconds a room with no subscribers stays open (0: it closes at once), so
            that a client polling over HTTP, or one that resubscribes, does not make the
            document be read from storage and snapshotted every time.
        offload: builds snapshots of documents of ``offload_bytes`` or more elsewhere (see
            :data:`Offload`); None: every snapshot is taken here, at once. Documents are
            loaded with tracking on (:meth:`LoggedDocument.restore`) when it is set.

    :attr:`snapshot_key`: the server's key, whose tag of each snapshot goes with its
    :class:`Compact` (every snapshot queued is one this process's code saved).
    """

    def __init__(
        self,
        *,
        compact_every: int,
        live_docs: int,
        wake: Callable[[], None] | None = None,
        linger: float = 0.0,
        offload: Offload | None = None,
        offload_bytes: int = 64 << 10,
    ) -> None:
        self.compact_every = compact_every
        self.snapshot_key: SnapshotKey | None = None
        self.offload = offload
        self.offload_bytes = offload_bytes
        # Documents whose snapshot is being built elsewhere -> how many builds.
        self._building: dict[str, int] = {}
        # Rooms opened while their document's snapshot was being built: loaded after it.
        self._load_after: dict[str, list[Room]] = {}
        self.live_docs = live_docs
        self.wake = wake
        self.linger = linger
        self._rooms: dict[str, Room] = {}
        # Rooms without subscribers, oldest first, until close_idle closes them.
        self._idle: dict[str, Room] = {}
        self._live: dict[str, Room] = {}
        self._queue: deque[IoOp] = deque()
        self._in_flight: IoOp | None = None
        # The last operation taken went ahead of loads queued before it (the next is taken
        # in order, so that loads are not put off for ever by a stream of commits).
        self._went_ahead = False
        # Loaded documents waiting for their room, set by done() for the hub to pick up.
        self._loaded: list[tuple[Room, StoredDoc | Exception | None]] = []
        # Documents whose deletion is queued or running -> how many: no compaction of them
        # is queued from then on (it would write a snapshot behind the tombstone).
        self._erasing: dict[str, int] = {}
        #: Called with a document id whenever a compaction of it ends, written or failed
        #: (the hub commits the pushes it held for it).
        self.on_settled: Callable[[str], None] | None = None
        #: Called with a room about to close (its document still in it).
        self.on_close: Callable[[Room], None] | None = None

    # -- rooms ------------------------------------------------------------------------

    def get(self, doc_id: str) -> Room | None:
        return self._rooms.get(doc_id)

    def open(self, doc_id: str) -> Room:
        """The room of ``doc_id``; a new one queues a :class:`Load`."""
        room = self._rooms.get(doc_id)
        if room is None:
            room = self._rooms[doc_id] = Room(doc_id)
            if doc_id in self._building:
                self._load_after.setdefault(doc_id, []).append(room)
            else:
                self._push(Load(doc_id))
        elif room.idle_since is not None:
            room.idle_since = None
            self._idle.pop(doc_id, None)
        return room

    @property
    def doc_ids(self) -> list[str]:
        return sorted(self._rooms)

    def items(self) -> list[tuple[str, Room]]:
        return list(self._rooms.items())

    def touch(self, room: Room) -> None:
        """Mark a loaded room as just used; compact in memory the least recently used beyond
        the limit."""
        live = self._live
        live.pop(room.doc_id, None)
        live[room.doc_id] = room
        while len(live) > self.live_docs:
            oldest = live.pop(next(iter(live)))
            if oldest.logged is not None:
                oldest.logged.doc.compact()
            # (Its whole changes go too: kept, they would hold as much as the document.)
            oldest.whole = oldest.extended = None

    def close_if_unused(self, room: Room, now: float = 0.0) -> None:
        """A room with no subscribers and nothing waiting for it lingers (see ``linger``),
        then :meth:`close_idle` drops it, queueing a snapshot of what its log holds (HTTP
        exchanges subscribe like any connection). At most ``live_docs`` rooms linger."""
        if room.subscribers or room.queued or room.held:
            return
        if self._rooms.get(room.doc_id) is not room:
            return
        if self.linger > 0 and room.logged is not None:
            if room.idle_since is None:
                room.idle_since = now
                self._idle[room.doc_id] = room
            while len(self._idle) > self.live_docs:
                self._close(next(iter(self._idle.values())))
            return
        self._close(room)

    def close_idle(self, now: float) -> None:
        """Close the rooms that lingered ``linger`` seconds without a subscriber."""
        due = now - self.linger
        for room in list(self._idle.values()):
            if room.idle_since is None or room.idle_since > due:
                break  # oldest first: the rest are younger
            self._close(room)

    def _close(self, room: Room) -> None:
        self._idle.pop(room.doc_id, None)
        room.idle_since = None
        if room.subscribers or room.queued or self._rooms.get(room.doc_id) is not room:
            return
        if self.on_close is not None:
            self.on_close(room)
        del self._rooms[room.doc_id]
        self._live.pop(room.doc_id, None)
        logged = room.logged
        if logged is not None and logged.log_count and not logged.compacting:
            self.compact(room.doc_id, logged)

    def evict(self, doc_id: str) -> Room | None:
        """Forget a room whose memory is ahead of storage (it reloads from storage)."""
        room = self._rooms.pop(doc_id, None)
        self._live.pop(doc_id, None)
        self._idle.pop(doc_id, None)
        if room is not None and room.logged is not None:
            room.logged.abandoned = True  # a snapshot being built of it is not written
        return room

    # -- storage work -----------------------------------------------------------------

    def append(self, room: Room, data: bytes) -> Commit:
        """Queue ``data`` for ``room``'s log in the open commit; returns that commit."""
        commit = self._open_commit()
        commit.batches.append((room.doc_id, data))
        logged = room.logged
        assert logged is not None
        logged.appended(len(data), data)
        if logged.compaction_due(self.compact_every):
            self.compact(room.doc_id, logged)
        return commit

    def compact(self, doc_id: str, logged: LoggedDocument) -> None:
        if doc_id in self._erasing:
            return  # being deleted: nothing of it is written any more
        offload = self.offload
        if offload is not None and logged.since is not None and logged.size >= self.offload_bytes:
            base, batches, covered, size_then = logged.snapshot_source()
            taken = len(batches)
            self._building[doc_id] = self._building.get(doc_id, 0) + 1

            def built(result: Built) -> None:
                left = self._building.pop(doc_id, 1) - 1
                if left:
                    self._building[doc_id] = left
                if isinstance(result, Exception) or logged.abandoned or doc_id in self._erasing:
                    logged.compaction_failed()  # the log still holds every batch
                    self._settled(doc_id)
                else:
                    snapshot, tag = result
                    self._push(Compact(doc_id, snapshot, covered, size_then, logged, taken, tag))
                if not left:
                    for room in self._load_after.pop(doc_id, ()):
                        if self._rooms.get(doc_id) is room and room.logged is None:
                            self._push(Load(doc_id))

            offload(base, batches, self.snapshot_key, logged.base_tag, built)
            return
        taken = len(logged.since) if logged.since is not None else 0
        snapshot, covered, size_then = logged.snapshot()
        key = self.snapshot_key
        tag = None if key is None else key.tag(snapshot)
        self._push(Compact(doc_id, snapshot, covered, size_then, logged, taken, tag))

    def compact_loaded(
        self, doc_id: str, logged: LoggedDocument, snapshot: bytes, tag: bytes | None
    ) -> None:
        """Queue a :class:`Compact` of ``snapshot``, just built of everything storage held when
        ``logged`` was loaded (its ``log_count`` batches and ``size`` bytes), which it was
        rebuilt from: stored in their place, it loads by the fast path next time. Queued
        before any commit of the room (the room's events wait for its document)."""
        if doc_id in self._erasing or logged.compacting:
            return
        logged.compacting = True
        self._push(Compact(doc_id, snapshot, logged.log_count, logged.size, logged, 0, tag))

    @property
    def building(self) -> int:
        """Snapshots being built elsewhere."""
        return sum(self._building.values())

    def claim(
        self,
        actor_id: str,
        principal: str,
        then: Callable[[str | Exception], None],
        limit: int = 0,
    ) -> None:
        """Queue the registration of ``actor_id`` for ``principal`` (see :class:`Claim`)."""
        self._push(Claim(actor_id, principal, then, limit))

    def erase(self, doc_id: str, principal: str, then: Callable[[Exception | None], None]) -> None:
        """Queue the deletion of ``doc_id`` (see :class:`Erase`), after every commit queued
        so far: what they store is removed with the rest. No compaction of it is queued from
        now on."""
        self._erasing[doc_id] = self._erasing.get(doc_id, 0) + 1
        self._push(Erase(doc_id, principal, then))

    def after_commit(self, reply: Callable[[], None]) -> None:
        """Run ``reply`` once every commit queued so far is stored (now, when none is)."""
        commit = self._last_commit()
        if commit is None:
            reply()
        else:
            commit.replies.append(reply)

    def _last_commit(self) -> Commit | None:
        for op in reversed(self._queue):
            if isinstance(op, Commit):
                return op
        return self._in_flight if isinstance(self._in_flight, Commit) else None

    def open_commit(self) -> Commit:
        """The commit that the next appends join (queued now when there is none)."""
        return self._open_commit()

    def _open_commit(self) -> Commit:
        if self._queue and isinstance(self._queue[-1], Commit):
            return self._queue[-1]
        commit = Commit()
        self._push(commit)
        return commit

    def _push(self, op: IoOp) -> None:
        self._queue.append(op)
        if self.wake is not None:
            self.wake()

    @property
    def io_idle(self) -> bool:
        """Nothing is queued for storage and nothing is being performed."""
        return not self._queue and self._in_flight is None

    def next_io(self) -> IoOp | None:
        """The next operation to perform, or None (nothing queued, or one still running).

        Perform it, then report with :meth:`done`.

        Operations are taken in the order they were queued, except that a commit queued
        right behind loads (nothing else between) goes ahead of them when it holds no batch
        of the documents they load, and then one operation is taken in order: a subscriber
        opening many large documents at once made every other client's acknowledgements wait
        for all of those reads (30 snapshots of 6.6 MB: an honest writer's p99 351 ms, its
        slowest 1.1 s). Nothing a commit stores is read by the loads it passes (their rooms
        are not open: no batch of theirs can be queued after their load), and commits keep
        their order among themselves.
        """
        while self._in_flight is None and self._queue:
            op = self._take()
            if isinstance(op, Compact) and op.logged.abandoned:
                op.logged.compaction_failed()  # its document is reloaded from storage
                continue
            self._in_flight = op
            return op
        return None

    def _take(self) -> IoOp:
        queue = self._queue
        if not self._went_ahead and type(queue[0]) is Load:
            loading: set[str] = set()
            for i, op in enumerate(queue):
                if type(op) is Load:
                    loading.add(op.doc_id)
                    continue
                if type(op) is Commit and not any(doc in loading for doc, _ in op.batches):
                    del queue[i]
                    self._went_ahead = True
                    return op
                break
        self._went_ahead = False
        return queue.popleft()

    def done(self, op: IoOp, result: IoResult = None) -> list[str]:
        """``op`` was performed: ``result`` is what a Load read, a Claim's owner, or the
        exception it raised (a StorageError, or a DecodeError from a log that does not decode).

        Returns the documents whose memory is now ahead of storage (a failed commit): the
        caller evicts them.
        """
        if op is not self._in_flight:
            raise InvalidValueError("done() reports the operation next_io() returned")
        self._in_flight = None
        match op:
            case Load(doc_id=doc_id):
                room = self._rooms.get(doc_id)
                if (
                    room is not None
                    and room.logged is None
                    and (isinstance(result, StoredDoc | Exception) or result is None)
                ):
                    self._loaded.append((room, result))
            case Claim():
                op.then(result if isinstance(result, str | Exception) else "")
            case Erase(doc_id=doc_id):
                left = self._erasing.pop(doc_id, 1) - 1
                if left:
                    self._erasing[doc_id] = left
                op.then(result if isinstance(result, Exception) else None)
            case Commit():
                if isinstance(result, Exception):
                    for refuse in op.refusals:
                        refuse(str(result))
                    return sorted({doc_id for doc_id, _ in op.batches})
                for reply in op.replies:
                    reply()
            case Compact():
                if isinstance(result, Exception):
                    op.logged.compaction_failed()
                else:
                    op.logged.compacted(op.snapshot, op.covered, op.size_then, op.taken, op.tag)
                # A failed compaction loses nothing: the log still holds every batch.
                self._settled(op.doc_id)
        return []

    def _settled(self, doc_id: str) -> None:
        if self.on_settled is not None:
            self.on_settled(doc_id)

    def take_loaded(self) -> list[tuple[Room, StoredDoc | Exception | None]]:
        """Rooms whose load finished since the last call, with what was read."""
        loaded, self._loaded = self._loaded, []
        return loaded

    def clear(self) -> None:
        self._rooms.clear()
        self._live.clear()
        self._idle.clear()
