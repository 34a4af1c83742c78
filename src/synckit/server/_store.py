"""Server storage: where committed changes live, and the async boundary the server uses.

A store keeps, per document, an optional snapshot plus a log of change batches appended after
it (the shared :mod:`synckit._storage`). The server reaches it only through :class:`AsyncStore`:
its storage task performs one operation at a time, in the order the hub queued them, so commit
order is acknowledgement order without locks, and a networked database can stand behind the
same interface. :class:`InlineStore` puts a synchronous store (SQLite, memory) behind it,
called on the event loop (see its docstring for why not a thread).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from synckit._storage import DocLog, MemoryDocLog, SQLiteDocLog, StoredDoc
from synckit.errors import InvalidValueError, LimitExceededError, StorageError
from synckit.server._lock import DataLock

__all__ = [
    "DURABILITIES",
    "AsyncStore",
    "Durability",
    "InlineStore",
    "MemoryStore",
    "SQLiteStore",
    "Store",
    "StoredDoc",
    "WalSync",
]

#: What a SQLite commit (and so a server's Ack) survives: ``"full"`` a power loss,
#: ``"process"`` only a crash of the process (see :class:`SQLiteStore`).
Durability = Literal["full", "process"]
DURABILITIES: tuple[Durability, ...] = ("full", "process")


class Store(DocLog, Protocol):
    """The server's storage backend: a document log that can list its documents, keeps the
    tombstones of deleted ones, and the registry of which principal each client id belongs
    to.

    ``load`` of a deleted document returns ``StoredDoc(None, (), deleted=True)``.

    Optional: ``keeps_tags = True`` and ``compact(..., tag)`` keeping a tag beside each
    snapshot (:attr:`StoredDoc.tag`); ``snapshot_key() -> bytes``, the secret of the server's
    :class:`~synckit.core.SnapshotKey` when none is configured: made at random on first use
    and kept in the store (committed on return), so that a restart, and every server sharing
    the store, tags and checks snapshots with the same one. :class:`MemoryStore` and
    :class:`SQLiteStore` have both.
    """

    def delete_doc(self, doc_id: str, principal: str) -> None:
        """Delete ``doc_id`` for good, atomically: keep a tombstone (who deleted it, and when)
        and remove its snapshot and log. A deleted id is never used again. Deleting a deleted
        document changes nothing. Committed on return.

        Raises:
            StorageError: nothing changed.
        """
        ...

    def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str:
        """Register ``actor_id`` as ``principal``'s unless it already belongs to someone;
        return its owner (``principal`` when the claim succeeded). Committed on return.

        Raises:
            LimitExceededError: ``actor_id`` is new and ``principal`` already owns ``limit``
                ids (0: no limit); nothing was registered.
            StorageError: the backend failed.
        """
        ...

    def access_rules(self) -> dict[str, str]:
        """The server-side grants of every principal that has some: principal -> JSON text
        of its ``{pattern: level}`` mapping."""
        ...

    def set_access_rules(self, principal: str, docs: str | None) -> None:
        """Store ``principal``'s server-side grants (JSON text), or forget them (None).
        Committed on return."""
        ...


@dataclass(slots=True)
class MemoryStore(MemoryDocLog):
    """A store in this process's memory: for tests and the network simulation.

    It outlives the server objects built on it, so a simulated server crash (dropping the
    server and building a new one on the same store) keeps exactly what was committed.
    """

    _actors: dict[str, str] = field(default_factory=dict)
    _access: dict[str, str] = field(default_factory=dict)
    #: Deleted document id -> the principal that deleted it.
    _tombstones: dict[str, str] = field(default_factory=dict)
    _secret: bytes = field(default_factory=lambda: os.urandom(SECRET_SIZE), repr=False)

    def load(self, doc_id: str) -> StoredDoc | None:
        if doc_id in self._tombstones:
            return StoredDoc(None, (), deleted=True)
        return MemoryDocLog.load(self, doc_id)

    def delete_doc(self, doc_id: str, principal: str) -> None:
        self._tombstones.setdefault(doc_id, principal)
        self._docs.pop(doc_id, None)
        self._tags.pop(doc_id, None)

    def compact(self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None) -> None:
        if doc_id not in self._tombstones:  # never a snapshot behind a tombstone
            MemoryDocLog.compact(self, doc_id, snapshot, covered, tag)

    def snapshot_key(self) -> bytes:
        return self._secret

    def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str:
        owner = self._actors.get(actor_id)
        if owner is not None:
            return owner
        if limit and sum(p == principal for p in self._actors.values()) >= limit:
            raise _too_many_ids(principal, limit)
        self._actors[actor_id] = principal
        return principal

    def access_rules(self) -> dict[str, str]:
        return dict(self._access)

    def set_access_rules(self, principal: str, docs: str | None) -> None:
        if docs is None:
            self._access.pop(principal, None)
        else:
            self._access[principal] = docs


#: Bytes of a snapshot key's secret made at random.
SECRET_SIZE = 32


def _too_many_ids(principal: str, limit: int) -> LimitExceededError:
    return LimitExceededError(
        f"principal {principal!r} already owns {limit} client ids "
        "(max_client_ids_per_principal); reuse a client store instead of making new ones"
    )


# Which principal each client (actor) id belongs to: the first to say Hello with it.
_ACTORS_SCHEMA = """
CREATE TABLE IF NOT EXISTS actors (
    actor_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    claimed_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS actors_by_principal ON actors (principal);
CREATE TABLE IF NOT EXISTS access_rules (
    principal TEXT PRIMARY KEY,
    docs TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
    doc_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    deleted_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
"""


@dataclass(slots=True, eq=False)
class WalSync:
    """Makes a SQLite database's commits durable after the fact: an fsync of its WAL file.

    In WAL mode a commit is durable once the WAL's frames up to its commit frame are on disk;
    ``synchronous=FULL`` fsyncs the WAL inside every commit, which on the event loop stops
    every connection for the length of the fsync. With ``synchronous=NORMAL`` the commit
    returns after writing, and :meth:`sync` - which touches no SQLite connection, so it may
    run on a worker thread while the loop goes on - fsyncs the WAL: every commit that
    returned before the call began is then as durable as under ``FULL``. (The WAL stays one
    file while the database's writing connection is open: SQLite deletes it only when the
    last connection closes, and a checkpoint rewrites it in place.)
    """

    db_path: Path
    _fd: int = -1

    @property
    def opened(self) -> bool:
        """The WAL file is open: :meth:`sync` is one ``fdatasync``."""
        return self._fd >= 0

    def sync(self) -> None:
        """Make every commit that returned before this call durable; safe on any thread."""
        fd = self._fd
        if fd < 0:
            wal = Path(f"{self.db_path}-wal")
            try:
                fd = os.open(wal, os.O_RDONLY)
            except FileNotFoundError:
                # No WAL yet, so nothing was written through one: the data is in the file.
                _fsync_path(self.db_path)
                return
            _fsync_path(wal.parent)  # the WAL's own directory entry, once
            self._fd = fd
        try:
            # The WAL's data, and its size where it grew (what reading it back needs), as
            # SQLite's own syncs on Linux: not its times, which a full fsync also writes.
            os.fdatasync(fd)
        except OSError as exc:
            raise StorageError(f"cannot make commits to {self.db_path} durable: {exc}") from exc

    def close(self) -> None:
        """Let go of the WAL file (the store is closing)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(f"cannot make commits to {path} durable: {exc}") from exc


class SQLiteStore(SQLiteDocLog):
    """Documents in one SQLite database file (WAL mode).

    Args:
        path: the database file; created with its tables when missing.
        durability: ``"full"`` (default): a commit, and so an acknowledged push, survives a
            power loss or an operating-system crash (``synchronous=FULL``: SQLite fsyncs the
            WAL at every commit; group commit makes that one fsync per group of pushes).
            ``"process"``: it survives a crash or kill -9 of the server process, but a power
            loss may lose the last commits (``synchronous=NORMAL``: the WAL is fsynced only
            at checkpoints), never corrupting the database.
        lock: hold ``<path>.lock`` exclusively until :meth:`close` (see :class:`DataLock`): a
            second store on the same file, in any process, fails with StorageError naming
            the holder.
    """

    __slots__ = ("_durability", "_lock")

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "full",
        lock: bool = True,
    ) -> None:
        if durability not in DURABILITIES:
            raise InvalidValueError(f"durability must be 'full' or 'process', not {durability!r}")
        self._durability = durability
        # One process per database: the lock first, so a second server fails before touching it.
        self._lock = DataLock(f"{path}.lock") if lock else None
        try:
            super().__init__(
                path,
                synchronous="FULL" if durability == "full" else "NORMAL",
                schema=_ACTORS_SCHEMA,
            )
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def defer_sync(self) -> WalSync | None:
        """For ``"full"`` durability: from now on, commit without waiting for the disk
        (``synchronous=NORMAL``) and return the :class:`WalSync` that makes the commits so
        far durable, to be called (on any thread) before anything is acknowledged. None for
        ``"process"`` durability, which never waits for the disk."""
        if self._durability != "full":
            return None
        try:
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot configure {self.path}: {exc}") from exc
        return WalSync(self.path)

    def load(self, doc_id: str) -> StoredDoc | None:
        try:
            dead = self._db.execute(
                "SELECT 1 FROM tombstones WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        if dead is not None:
            return StoredDoc(None, (), deleted=True)
        return super().load(doc_id)

    def load_isolated(self, doc_id: str) -> StoredDoc | None:
        # On a read-only connection of its own too (this may run on another thread); a
        # deletion commits the tombstone and the removal together, so checking after the
        # read sees it whenever the read missed the data.
        stored = super().load_isolated(doc_id)
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                dead = db.execute("SELECT 1 FROM tombstones WHERE doc_id = ?", (doc_id,))
                deleted = dead.fetchone() is not None
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        return StoredDoc(None, (), deleted=True) if deleted else stored

    def compact(self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None) -> None:
        # One process writes this file: no deletion lands between the check and the write.
        try:
            dead = self._db.execute("SELECT 1 FROM tombstones WHERE doc_id = ?", (doc_id,))
            deleted = dead.fetchone() is not None
        except sqlite3.Error as exc:
            raise StorageError(f"cannot compact {doc_id!r}: {exc}") from exc
        if not deleted:  # never a snapshot behind a tombstone
            super().compact(doc_id, snapshot, covered, tag)

    def snapshot_key(self) -> bytes:
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES ('snapshot_key', ?)",
                (os.urandom(SECRET_SIZE),),
            )
            row = self._db.execute(
                "SELECT value FROM secrets WHERE name = 'snapshot_key'"
            ).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the snapshot key: {exc}") from exc
        return bytes(row[0])

    def delete_doc(self, doc_id: str, principal: str) -> None:
        with self._immediate(f"delete {doc_id!r}") as db:
            db.execute(
                "INSERT OR IGNORE INTO tombstones (doc_id, principal, deleted_at) VALUES (?, ?, ?)",
                (doc_id, principal, time.time()),
            )
            self._remove(doc_id)

    def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str:
        db = self._db
        try:
            row = db.execute(
                "SELECT principal FROM actors WHERE actor_id = ?", (actor_id,)
            ).fetchone()
            if row is not None:
                return str(row[0])
            if limit:
                (owned,) = db.execute(
                    "SELECT COUNT(*) FROM actors WHERE principal = ?", (principal,)
                ).fetchone()
                if owned >= limit:
                    raise _too_many_ids(principal, limit)
            # One process writes this file (DataLock): nobody registers it in between.
            db.execute(
                "INSERT INTO actors (actor_id, principal, claimed_at) VALUES (?, ?, ?)",
                (actor_id, principal, time.time()),
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot register client id {actor_id!r}: {exc}") from exc
        return principal

    def access_rules(self) -> dict[str, str]:
        try:
            rows = self._db.execute("SELECT principal, docs FROM access_rules").fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read access rules: {exc}") from exc
        return {str(p): str(d) for p, d in rows}

    def set_access_rules(self, principal: str, docs: str | None) -> None:
        try:
            if docs is None:
                self._db.execute("DELETE FROM access_rules WHERE principal = ?", (principal,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO access_rules (principal, docs) VALUES (?, ?)",
                    (principal, docs),
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot store access rules of {principal!r}: {exc}") from exc


class AsyncStore(Protocol):
    """The storage interface of the server's storage task (see :class:`Store` for meanings).

    A store may also have ``async read(doc_id)``: what ``load`` returns, for readers other
    than the hub (the JSON view), which the server then uses instead of ``load`` (a store may
    remember what ``load`` gave the hub; :class:`~synckit.server.PostgresStore` does).
    """

    async def load(self, doc_id: str) -> StoredDoc | None: ...

    async def append_many(self, batches: Sequence[tuple[str, bytes]]) -> frozenset[str] | None:
        """Append ``batches``; returns the documents whose batches were not stored because
        the document is deleted (a store shared by several servers: another one deleted it
        meanwhile), or None/empty when every batch was stored."""
        ...

    async def delete_doc(self, doc_id: str, principal: str) -> None: ...

    async def compact(
        self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None
    ) -> None:
        """Also: ``tag`` is kept beside the snapshot (see :attr:`StoredDoc.tag`). A store
        without ``keeps_tags = True`` is called without it (its snapshots load with every
        check). A store may also have ``async snapshot_key() -> bytes`` (see
        :meth:`Store.snapshot_key`)."""
        ...

    async def doc_ids(self) -> list[str]: ...

    async def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str: ...

    async def access_rules(self) -> dict[str, str]: ...

    async def set_access_rules(self, principal: str, docs: str | None) -> None: ...

    async def close(self) -> None: ...


#: The longest fsync :class:`InlineStore` makes the event loop wait for, in seconds.
INLINE_SYNC_MAX = 0.002
#: Seconds :class:`InlineStore` keeps its fsyncs on a worker thread after one inline took
#: longer than that.
RETRY_INLINE_SYNC = 10.0
# One fsync inline this many times longer than INLINE_SYNC_MAX moves them to the thread at
# once, whatever the average.
_SLOWEST_INLINE = 10
#: Snapshots of this many bytes or more are written by :class:`InlineStore` on a worker
#: thread.
THREAD_SNAPSHOT_BYTES = 1024 * 1024


class InlineStore:
    """A synchronous :class:`Store` behind :class:`AsyncStore`, called on the event loop.

    SQLite commits of small batches take tens of microseconds, and the storage task performs
    one operation at a time, so that task alone keeps the order. A worker thread for whole
    operations was tried and measured: under load, each handoff waited for the GIL while the
    loop was busy (on uvloop, `synckit serve` acknowledged 9 to 67 pushes/s instead of about
    3,000), so synchronous stores run inline. A store with ``defer_sync``
    (:meth:`SQLiteStore.defer_sync`) commits inline without waiting for the disk, and each
    write here then returns only after :meth:`WalSync.sync`, so what it acknowledges is as
    durable as under ``synchronous=FULL``. That fsync runs inline too while the disk answers
    within ``inline_sync_max`` seconds on average (a fraction of a millisecond on an SSD:
    cheaper than the two thread handoffs, which under load took about 3 ms a commit, each
    waiting for the busy loop's GIL). Once the average over the last few is longer, or one
    fsync took ten times as long, the fsyncs run on a worker thread, so that the loop goes on
    serving while the disk is slow; inline is tried again after ``retry_inline`` seconds.
    A compaction writing a snapshot of ``thread_bytes`` or more also runs on a worker thread
    (SQLite lets go of the GIL while it writes: a 30 MB snapshot held the loop 172 ms inline);
    meanwhile every other call here waits its turn for the store (a lock), so nothing else
    uses its connection at the same time. A networked database implements
    :class:`AsyncStore` itself.

    Args:
        store: the synchronous store.
        inline_sync_max: the longest fsync tolerated on the event loop, in seconds (0: every
            fsync on a worker thread).
        retry_inline: seconds the fsyncs stay on the thread once those inline were too slow.
        thread_bytes: the size from which a compaction's snapshot is written on a worker
            thread (0: always inline).
        clock: monotonic seconds (injectable for tests).
    """

    __slots__ = (
        "_clock",
        "_inline_after",
        "_sync_average",
        "_turn",
        "_wal",
        "inline_sync_max",
        "retry_inline",
        "store",
        "thread_bytes",
    )

    keeps_tags = True

    def __init__(
        self,
        store: Store,
        *,
        inline_sync_max: float = INLINE_SYNC_MAX,
        retry_inline: float = RETRY_INLINE_SYNC,
        thread_bytes: int = THREAD_SNAPSHOT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The synchronous store underneath.
        self.store = store
        self.inline_sync_max = inline_sync_max
        self.retry_inline = retry_inline
        self.thread_bytes = thread_bytes
        # Held by every call that uses the store: one on a worker thread keeps the others
        # (the storage task's, and the admin endpoint's access rules) off its connection.
        self._turn = asyncio.Lock()
        self._clock = clock
        # A SQLite store that waits for the disk at every commit waits here instead (see
        # WalSync): inline while the disk is fast, else on a worker thread while the loop
        # serves everyone and the pushes that arrive join the next group commit.
        defer = getattr(store, "defer_sync", None)
        self._wal: WalSync | None = defer() if defer is not None else None
        #: When an fsync may run inline again (those inline were too slow).
        self._inline_after = 0.0
        #: The fsyncs' time inline, averaged (exponentially, over about the last eight).
        self._sync_average = 0.0

    @property
    def syncs_inline(self) -> bool:
        """The next fsync runs on the event loop (the disk answered fast enough so far)."""
        return self.inline_sync_max > 0 and self._clock() >= self._inline_after

    async def _durable(self) -> None:
        """Return once every commit so far is as durable as the store promises."""
        wal = self._wal
        if wal is None:
            return
        if not self.syncs_inline:
            await asyncio.to_thread(wal.sync)
            return
        opened = wal.opened  # (the first sync also opens the WAL and syncs its directory)
        started = self._clock()
        wal.sync()
        ended = self._clock()
        if not opened:
            return
        took = ended - started
        average = self._sync_average = self._sync_average + (took - self._sync_average) / 8
        if average > self.inline_sync_max or took > _SLOWEST_INLINE * self.inline_sync_max:
            # The disk is slow now: the loop must not wait for it.
            self._inline_after = ended + self.retry_inline
            self._sync_average = 0.0

    async def load(self, doc_id: str) -> StoredDoc | None:
        """The store's ``load``; a SQLite store's is read on a worker thread, on a connection
        of the thread's own (SQLite lets go of the GIL while it reads; a document's size is
        not known before it is read, and asking SQLite for it reads it): thirty documents of
        6.6 MB read inline held the loop about 15 ms each. A load is once per document
        opened, so the thread's handoff costs little, unlike a commit's."""
        async with self._turn:
            return await self.read(doc_id)

    async def read(self, doc_id: str) -> StoredDoc | None:
        """What :meth:`load` returns, read off the event loop where the store allows it (a
        SQLite store, on a connection of the reading thread's own): for readers that must
        not stall everyone else, such as JSON views of large documents."""
        store = self.store
        if isinstance(store, SQLiteDocLog):
            return await asyncio.to_thread(store.load_isolated, doc_id)
        return store.load(doc_id)

    async def append_many(self, batches: Sequence[tuple[str, bytes]]) -> frozenset[str] | None:
        # One process holds a synchronous store, and the hub queues no commit of a document
        # after its deletion: nothing is ever refused here.
        async with self._turn:
            self.store.append_many(batches)
            await self._durable()
        return None

    async def delete_doc(self, doc_id: str, principal: str) -> None:
        async with self._turn:
            self.store.delete_doc(doc_id, principal)
            await self._durable()

    async def compact(
        self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None
    ) -> None:
        store = self.store
        args: tuple[str, bytes, int] | tuple[str, bytes, int, bytes] = (doc_id, snapshot, covered)
        if tag is not None and getattr(store, "keeps_tags", False):
            args = (doc_id, snapshot, covered, tag)
        async with self._turn:
            if self.thread_bytes and len(snapshot) >= self.thread_bytes:
                await asyncio.to_thread(store.compact, *args)
            else:
                store.compact(*args)
        # No fsync of its own: nothing waits for a compaction to be durable. Lost in a power
        # loss, it leaves the batches it would have replaced (the WAL keeps commits in order,
        # so the next commit's fsync makes it durable with that commit).

    async def snapshot_key(self) -> bytes | None:
        """The store's :meth:`Store.snapshot_key`, or None when it has none."""
        make = getattr(self.store, "snapshot_key", None)
        if make is None:
            return None
        async with self._turn:
            key = bytes(make())
            await self._durable()
        return key

    async def doc_ids(self) -> list[str]:
        async with self._turn:
            return self.store.doc_ids()

    async def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str:
        async with self._turn:
            owner = self.store.claim_actor(actor_id, principal, limit)
            await self._durable()
        return owner

    async def access_rules(self) -> dict[str, str]:
        async with self._turn:
            return self.store.access_rules()

    async def set_access_rules(self, principal: str, docs: str | None) -> None:
        async with self._turn:
            self.store.set_access_rules(principal, docs)
            await self._durable()

    async def close(self) -> None:
        async with self._turn:
            self.store.close()
            if self._wal is not None:
                self._wal.close()
