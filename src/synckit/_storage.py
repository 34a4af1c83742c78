"""Document logs: the storage both the client and the server build their stores on.

Per document a log keeps an optional snapshot plus the change batches appended after it.
:meth:`DocLog.append` is the commit point: once it returns, the batch survives a crash of the
process. :meth:`DocLog.compact` replaces the snapshot and a prefix of the batches by a new
snapshot that holds them, atomically.

:class:`MemoryDocLog` keeps everything in this process; :class:`SQLiteDocLog` keeps it in one
SQLite file (a ``snapshots`` table and an append-only ``changes`` table). The client and server
stores subclass these and add only their extras (actor ids; a document listing).

Layer: imports only :mod:`synckit.errors` and the standard library, so both
:mod:`synckit.client` and :mod:`synckit.server` may import it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from synckit.errors import InvalidValueError, StorageError

__all__ = ["DocLog", "MemoryDocLog", "SQLiteDocLog", "StoredDoc"]


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """What a store holds for one document: a snapshot (or None) and the batches after it.

    ``deleted``: the document was deleted for good (a server store keeps a tombstone; it then
    holds no snapshot and no batches).

    ``tag``: what was stored beside the snapshot when it was written: a server's
    :class:`~synckit.core.SnapshotKey` tag of it (the snapshot then loads faster when the tag
    verifies under that key; any other tag, or none, means every check runs). Never a reason to
    trust the bytes by itself.
    """

    snapshot: bytes | None
    changes: tuple[bytes, ...]
    deleted: bool = False
    tag: bytes | None = None

    @property
    def size(self) -> int:
        """Bytes held: the snapshot plus every batch."""
        return len(self.snapshot or b"") + sum(len(c) for c in self.changes)


class DocLog(Protocol):
    """Per document, a snapshot plus an append-only log of change batches."""

    def load(self, doc_id: str) -> StoredDoc | None:
        """What is stored for ``doc_id``, or None when nothing ever was.

        Raises:
            StorageError: the backend failed.
        """
        ...

    def append(self, doc_id: str, changes: bytes) -> None:
        """Durably add one batch of changes to ``doc_id``'s log (the commit point).

        Returns once the batch is committed.

        Raises:
            StorageError: nothing was stored.
        """
        ...

    def append_many(self, batches: Sequence[tuple[str, bytes]]) -> None:
        """Durably add several batches, to any documents, in one transaction (group commit).

        All or nothing: on StorageError none of them was stored. Batches of one document keep
        their order.
        """
        ...

    def compact(self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None) -> None:
        """Replace the snapshot and the first ``covered`` log batches by ``snapshot``, with
        ``tag`` kept beside it (see :attr:`StoredDoc.tag`; None: none).

        Batches appended after those ``covered`` stay. Atomic: on StorageError nothing changed.
        """
        ...

    def doc_ids(self) -> list[str]:
        """Every document id with something stored (a snapshot or batches), sorted."""
        ...

    def close(self) -> None:
        """Release the backend; the log is unusable afterwards."""
        ...


@dataclass(slots=True)
class MemoryDocLog:
    """A document log in this process's memory: nothing survives the process.

    It outlives whatever is built on it, so dropping those objects and building new ones on
    the same log keeps exactly what was committed.
    """

    #: :meth:`compact` keeps a tag beside each snapshot.
    keeps_tags: ClassVar[bool] = True
    _docs: dict[str, tuple[bytes | None, list[bytes]]] = field(default_factory=dict)
    #: Document id -> the tag kept beside its snapshot.
    _tags: dict[str, bytes] = field(default_factory=dict)

    def load(self, doc_id: str) -> StoredDoc | None:
        held = self._docs.get(doc_id)
        if held is None:
            return None
        return StoredDoc(held[0], tuple(held[1]), tag=self._tags.get(doc_id))

    def append(self, doc_id: str, changes: bytes) -> None:
        self._docs.setdefault(doc_id, (None, []))[1].append(bytes(changes))

    def append_many(self, batches: Sequence[tuple[str, bytes]]) -> None:
        for doc_id, changes in batches:
            self.append(doc_id, changes)

    def compact(self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None) -> None:
        _, log = self._docs.get(doc_id, (None, []))
        self._docs[doc_id] = (bytes(snapshot), log[covered:])
        if tag is None:
            self._tags.pop(doc_id, None)
        else:
            self._tags[doc_id] = bytes(tag)

    def doc_ids(self) -> list[str]:
        return sorted(self._docs)

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    doc_id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    tag BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_doc ON changes (doc_id, id);
"""
# A row's id is only ever compared with the ids of rows that exist: a new row's is above
# every existing row's (SQLite takes the largest plus one), which is all the log's order
# needs. AUTOINCREMENT, which also never reuses the id of a deleted row, cost an update of
# ``sqlite_sequence`` per row: about a third of a push's INSERT (files before version 2).

#: The schema version this code writes (SQLite's ``user_version``): 0, files made before
#: versions were kept; 1, ``snapshots.tag`` (:attr:`StoredDoc.tag`); 2, ``changes.id``
#: without AUTOINCREMENT.
SCHEMA_VERSION = 2

_CHANGES_WITHOUT_AUTOINCREMENT = """
CREATE TABLE changes_v2 (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL
);
INSERT INTO changes_v2 (id, doc_id, data) SELECT id, doc_id, data FROM changes;
DROP TABLE changes;
ALTER TABLE changes_v2 RENAME TO changes;
CREATE INDEX changes_by_doc ON changes (doc_id, id);
"""

# How long an exclusive opener waits for the lock: another process holding it keeps it until
# it closes, so waiting longer than a moment only delays the error.
_EXCLUSIVE_TIMEOUT = 0.2


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a file of an older schema up to :data:`SCHEMA_VERSION`, in one transaction
    (another opener of the same file waits for it, then finds nothing to do). A file of a
    newer version is left as it is: its additions are columns this code does not read."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version < 1:
            columns = {row[1] for row in db.execute("PRAGMA table_info(snapshots)")}
            if "tag" not in columns:  # a file of before version 1: its snapshots untagged
                db.execute("ALTER TABLE snapshots ADD COLUMN tag BLOB")
        if version < 2:
            (sql,) = db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'changes'"
            ).fetchone()
            if "AUTOINCREMENT" in sql.upper():  # the same rows, ids and order, rebuilt
                for statement in _CHANGES_WITHOUT_AUTOINCREMENT.split(";"):
                    if statement.strip():
                        db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _stored(row: tuple[object, ...] | None, log: list[tuple[object, ...]]) -> StoredDoc | None:
    """The StoredDoc of a ``snapshots`` row (data, tag) and the ``changes`` rows (data)."""
    if row is None and not log:
        return None
    changes = tuple(bytes(r[0]) for r in log)  # type: ignore[call-overload]
    if row is None:
        return StoredDoc(None, changes)
    tag = None if row[1] is None else bytes(row[1])  # type: ignore[call-overload]
    return StoredDoc(bytes(row[0]), changes, tag=tag)  # type: ignore[call-overload]


class SQLiteDocLog:
    """Document logs in one SQLite database file (WAL mode, autocommit).

    Each :meth:`append` is one INSERT and so one transaction, committed when it returns;
    :meth:`compact` runs in one ``BEGIN IMMEDIATE`` transaction. Errors are
    :class:`~synckit.errors.StorageError`: opening names the file, the rest name the document
    (and not the file, as a server passes them on to its clients).

    Args:
        path: the database file; created with its tables when missing (its folder must exist).
        synchronous: SQLite's ``synchronous`` pragma: ``"NORMAL"`` survives a crash or kill of
            the process, ``"FULL"`` also a power loss, at the price of an fsync per commit.
        exclusive: hold the file locked from opening until :meth:`close`; a second opener (in
            any process) then gets StorageError saying the file is in use.
        schema: more ``CREATE ... IF NOT EXISTS`` statements for a subclass's own tables.
        kind: how open errors name the store, e.g. ``"client store"``.
    """

    __slots__ = ("_db", "path")

    #: :meth:`compact` keeps a tag beside each snapshot.
    keeps_tags: ClassVar[bool] = True

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        exclusive: bool = False,
        schema: str = "",
        kind: str = "SQLite store",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        self.path = Path(path)
        try:
            db = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=_EXCLUSIVE_TIMEOUT if exclusive else 5.0,
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {kind} {self.path}: {exc}") from exc
        try:
            if exclusive:
                db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(_SCHEMA + schema)
            _migrate(db)
            if exclusive:
                # Take the exclusive lock now, and keep it until close.
                db.execute("BEGIN IMMEDIATE")
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.close()
            if exclusive and isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StorageError(f"{kind} {self.path} is in use by another process") from exc
            raise StorageError(f"cannot open {kind} {self.path}: {exc}") from exc
        self._db = db

    def load(self, doc_id: str) -> StoredDoc | None:
        try:
            row = self._db.execute(
                "SELECT data, tag FROM snapshots WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            log = self._db.execute(
                "SELECT data FROM changes WHERE doc_id = ? ORDER BY id", (doc_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        return _stored(row, log)

    def load_isolated(self, doc_id: str) -> StoredDoc | None:
        """:meth:`load` on a read-only connection of its own, in one read transaction: safe
        from any thread while this store's connection is in use (WAL readers do not block
        the writer), and SQLite lets go of the GIL while it reads."""
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        try:
            db.execute("BEGIN")
            row = db.execute(
                "SELECT data, tag FROM snapshots WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            log = db.execute(
                "SELECT data FROM changes WHERE doc_id = ? ORDER BY id", (doc_id,)
            ).fetchall()
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        finally:
            db.close()
        return _stored(row, log)

    def append(self, doc_id: str, changes: bytes) -> None:
        try:
            # In autocommit mode one INSERT is one transaction: committed when it returns.
            self._db.execute("INSERT INTO changes (doc_id, data) VALUES (?, ?)", (doc_id, changes))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot commit changes to {doc_id!r}: {exc}") from exc

    def append_many(self, batches: Sequence[tuple[str, bytes]]) -> None:
        if len(batches) == 1:
            self.append(*batches[0])
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO changes (doc_id, data) VALUES (?, ?)", batches)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            docs = sorted({doc_id for doc_id, _ in batches})
            raise StorageError(
                f"cannot commit changes to {', '.join(map(repr, docs))}: {exc}"
            ) from exc

    def compact(self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                ids = db.execute(
                    "SELECT id FROM changes WHERE doc_id = ? ORDER BY id LIMIT ?",
                    (doc_id, covered),
                ).fetchall()
                if ids:
                    db.execute(
                        "DELETE FROM changes WHERE doc_id = ? AND id <= ?", (doc_id, ids[-1][0])
                    )
                db.execute(
                    "INSERT OR REPLACE INTO snapshots (doc_id, data, tag) VALUES (?, ?, ?)",
                    (doc_id, snapshot, tag),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # some errors end the transaction themselves
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"cannot compact {doc_id!r}: {exc}") from exc

    def doc_ids(self) -> list[str]:
        try:
            rows = self._db.execute(
                "SELECT doc_id FROM snapshots UNION SELECT doc_id FROM changes ORDER BY 1"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot list documents: {exc}") from exc
        return [str(r[0]) for r in rows]

    def _remove(self, doc_id: str) -> None:
        """Delete ``doc_id``'s snapshot and log, inside the caller's transaction."""
        self._db.execute("DELETE FROM changes WHERE doc_id = ?", (doc_id,))
        self._db.execute("DELETE FROM snapshots WHERE doc_id = ?", (doc_id,))

    @contextlib.contextmanager
    def _immediate(self, what: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back
        when it raises; a database failure becomes StorageError("cannot <what>: ...")."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"cannot {what}: {exc}") from exc

    def close(self) -> None:
        self._db.close()
