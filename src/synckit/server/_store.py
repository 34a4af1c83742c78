"""Server storage: where committed changes live.

A store keeps, per document, an optional snapshot plus a log of change batches appended after
it. :meth:`Store.append` is the commit point: once it returns, the batch survives a crash of
the process, and only then does the server acknowledge it. :meth:`Store.compact` replaces the
log with a snapshot that holds it, atomically.

The interface is synchronous on purpose: SQLite commits of small batches take tens of
microseconds, and running them in order on the event loop keeps the commit order equal to the
acknowledgement order without locks.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from synckit.errors import StorageError

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoredDoc"]


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """What a store holds for one document: a snapshot (or None) and the batches after it."""

    snapshot: bytes | None
    changes: tuple[bytes, ...]

    @property
    def size(self) -> int:
        """Bytes held: the snapshot plus every batch."""
        return len(self.snapshot or b"") + sum(len(c) for c in self.changes)


class Store(Protocol):
    """The server's storage backend."""

    def load(self, doc_id: str) -> StoredDoc | None:
        """What is stored for ``doc_id``, or None when nothing ever was.

        Raises:
            StorageError: the backend failed.
        """
        ...

    def append(self, doc_id: str, changes: bytes) -> None:
        """Durably add one batch of changes to ``doc_id``'s log (the commit point).

        Raises:
            StorageError: nothing was stored.
        """
        ...

    def compact(self, doc_id: str, snapshot: bytes, covered: int) -> None:
        """Replace the snapshot and the first ``covered`` log batches by ``snapshot``.

        Batches appended after those ``covered`` stay. Atomic: on StorageError nothing changed.
        """
        ...

    def doc_ids(self) -> list[str]:
        """Every stored document id, sorted."""
        ...

    def close(self) -> None:
        """Release the backend; the store is unusable afterwards."""
        ...


@dataclass(slots=True)
class MemoryStore:
    """A store in this process's memory: for tests and the network simulation.

    It outlives the server objects built on it, so a simulated server crash (dropping the
    server and building a new one on the same store) keeps exactly what was committed.
    """

    _docs: dict[str, tuple[bytes | None, list[bytes]]] = field(default_factory=dict)

    def load(self, doc_id: str) -> StoredDoc | None:
        held = self._docs.get(doc_id)
        if held is None:
            return None
        return StoredDoc(held[0], tuple(held[1]))

    def append(self, doc_id: str, changes: bytes) -> None:
        self._docs.setdefault(doc_id, (None, []))[1].append(bytes(changes))

    def compact(self, doc_id: str, snapshot: bytes, covered: int) -> None:
        _, log = self._docs.get(doc_id, (None, []))
        self._docs[doc_id] = (bytes(snapshot), log[covered:])

    def doc_ids(self) -> list[str]:
        return sorted(self._docs)

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    doc_id TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_doc ON changes (doc_id, id);
"""


class SQLiteStore:
    """Documents in one SQLite database file (WAL mode).

    Args:
        path: the database file; created with its tables when missing.
        durability: ``"process"`` (default) survives a crash or kill of the server process;
            ``"power"`` also survives a power loss, at the price of an fsync per commit.
    """

    __slots__ = ("_db", "path")

    def __init__(
        self, path: str | Path, *, durability: Literal["process", "power"] = "process"
    ) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if durability == "power" else "NORMAL"
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite store {self.path}: {exc}") from exc

    def load(self, doc_id: str) -> StoredDoc | None:
        try:
            row = self._db.execute(
                "SELECT data FROM snapshots WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            log = self._db.execute(
                "SELECT data FROM changes WHERE doc_id = ? ORDER BY id", (doc_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r}: {exc}") from exc
        if row is None and not log:
            return None
        return StoredDoc(None if row is None else bytes(row[0]), tuple(bytes(r[0]) for r in log))

    def append(self, doc_id: str, changes: bytes) -> None:
        try:
            # In autocommit mode one INSERT is one transaction: committed when it returns.
            self._db.execute("INSERT INTO changes (doc_id, data) VALUES (?, ?)", (doc_id, changes))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot commit changes to {doc_id!r}: {exc}") from exc

    def compact(self, doc_id: str, snapshot: bytes, covered: int) -> None:
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
                    "INSERT OR REPLACE INTO snapshots (doc_id, data) VALUES (?, ?)",
                    (doc_id, snapshot),
                )
                db.execute("COMMIT")
            except BaseException:
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
        return [r[0] for r in rows]

    def close(self) -> None:
        self._db.close()
