"""Client storage: the local copy of each document and the replica's identity.

Per document a store keeps an optional snapshot and the change batches after it; every local
edit is appended before it can be sent, so an edit made offline survives the process (the
"offline queue" is simply what the server has not acknowledged yet, recomputed from the
document on reconnect).

A store also gives the replica its actor id: the client id plus a random suffix made once per
store incarnation. A fresh store (a memory store, or a deleted file) therefore never writes
under an id whose operation numbers the server already holds.

The document log itself (snapshots, change batches, compaction) is the shared
:mod:`synckit._storage`; this module adds the actor ids.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from synckit._storage import DocLog, MemoryDocLog, SQLiteDocLog, StoredDoc
from synckit.errors import StorageError

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoredDoc", "new_actor_id"]


def new_actor_id(client_id: str) -> str:
    """``client_id`` plus a fresh random suffix: the id a new store incarnation writes under."""
    return f"{client_id}~{secrets.token_hex(6)}"


class Store(DocLog, Protocol):
    """The client's storage backend: a document log that also keeps the replica's actor id."""

    def actor_id(self, client_id: str) -> str:
        """The actor id this store writes under for ``client_id``; made on first use."""
        ...


@dataclass(slots=True)
class MemoryStore(MemoryDocLog):
    """A store in memory: nothing survives the process. Its actor ids are fresh each time."""

    _actors: dict[str, str] = field(default_factory=dict)

    def actor_id(self, client_id: str) -> str:
        if client_id not in self._actors:
            self._actors[client_id] = new_actor_id(client_id)
        return self._actors[client_id]


# The client's own table, next to the shared ``snapshots`` and ``changes``.
_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class SQLiteStore(SQLiteDocLog):
    """A client store in one SQLite file, held exclusively by one process at a time.

    Two processes writing under the same actor id would number different operations alike,
    so a second opener gets :class:`~synckit.errors.StorageError` instead.
    """

    __slots__ = ()

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot open client store {path}: {exc}") from exc
        super().__init__(path, exclusive=True, schema=_META_SCHEMA, kind="client store")

    def actor_id(self, client_id: str) -> str:
        key = f"actor:{client_id}"
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            actor = new_actor_id(client_id)
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, actor))
        except sqlite3.Error as exc:
            raise StorageError(f"client store {self.path}: {exc}") from exc
        return actor
