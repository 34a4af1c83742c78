"""Server storage: where committed changes live.

A store keeps, per document, an optional snapshot plus a log of change batches appended after
it. :meth:`Store.append` is the commit point: once it returns, the batch survives a crash of
the process, and only then does the server acknowledge it. :meth:`Store.compact` replaces the
log with a snapshot that holds it, atomically.

The interface is synchronous on purpose: SQLite commits of small batches take tens of
microseconds, and running them in order on the event loop keeps the commit order equal to the
acknowledgement order without locks.

The document log itself is the shared :mod:`synckit._storage`; this module adds the listing of
document ids and the durability option.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from synckit._storage import DocLog, MemoryDocLog, SQLiteDocLog, StoredDoc
from synckit.errors import StorageError

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoredDoc"]


class Store(DocLog, Protocol):
    """The server's storage backend: a document log that can list its documents."""

    def doc_ids(self) -> list[str]:
        """Every stored document id, sorted."""
        ...


@dataclass(slots=True)
class MemoryStore(MemoryDocLog):
    """A store in this process's memory: for tests and the network simulation.

    It outlives the server objects built on it, so a simulated server crash (dropping the
    server and building a new one on the same store) keeps exactly what was committed.
    """

    def doc_ids(self) -> list[str]:
        return sorted(self._docs)


class SQLiteStore(SQLiteDocLog):
    """Documents in one SQLite database file (WAL mode).

    Args:
        path: the database file; created with its tables when missing.
        durability: ``"process"`` (default) survives a crash or kill of the server process;
            ``"power"`` also survives a power loss, at the price of an fsync per commit.
    """

    __slots__ = ()

    def __init__(
        self, path: str | Path, *, durability: Literal["process", "power"] = "process"
    ) -> None:
        super().__init__(path, synchronous="FULL" if durability == "power" else "NORMAL")

    def doc_ids(self) -> list[str]:
        try:
            rows = self._db.execute(
                "SELECT doc_id FROM snapshots UNION SELECT doc_id FROM changes ORDER BY 1"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot list documents: {exc}") from exc
        return [r[0] for r in rows]
