"""Client storage: the local copy of each document and the replica's identity.

Per document a store keeps an optional snapshot and the change batches after it; every local
edit is appended before it can be sent, so an edit made offline survives the process (the
"offline queue" is simply what the server has not acknowledged yet, recomputed from the
document on reconnect).

A store also gives the replica its actor id: the client id plus a random suffix made once per
store incarnation. A fresh store (a memory store, or a deleted file) therefore never writes
under an id whose operation numbers the server already holds.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from synckit.errors import StorageError

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoredDoc", "new_actor_id"]


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """What a store holds for one document: a snapshot (or None) and the batches after it."""

    snapshot: bytes | None
    changes: tuple[bytes, ...]


def new_actor_id(client_id: str) -> str:
    """``client_id`` plus a fresh random suffix: the id a new store incarnation writes under."""
    return f"{client_id}~{secrets.token_hex(6)}"


class Store(Protocol):
    """The client's storage backend."""

    def actor_id(self, client_id: str) -> str:
        """The actor id this store writes under for ``client_id``; made on first use."""
        ...

    def load(self, doc_id: str) -> StoredDoc | None:
        """What is stored for ``doc_id``, or None."""
        ...

    def append(self, doc_id: str, changes: bytes) -> None:
        """Durably add one batch of changes (returns once committed)."""
        ...

    def compact(self, doc_id: str, snapshot: bytes, covered: int) -> None:
        """Replace the snapshot and the first ``covered`` batches by ``snapshot``, atomically."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class MemoryStore:
    """A store in memory: nothing survives the process. Its actor ids are fresh each time."""

    _docs: dict[str, tuple[bytes | None, list[bytes]]] = field(default_factory=dict)
    _actors: dict[str, str] = field(default_factory=dict)

    def actor_id(self, client_id: str) -> str:
        if client_id not in self._actors:
            self._actors[client_id] = new_actor_id(client_id)
        return self._actors[client_id]

    def load(self, doc_id: str) -> StoredDoc | None:
        held = self._docs.get(doc_id)
        return None if held is None else StoredDoc(held[0], tuple(held[1]))

    def append(self, doc_id: str, changes: bytes) -> None:
        self._docs.setdefault(doc_id, (None, []))[1].append(bytes(changes))

    def compact(self, doc_id: str, snapshot: bytes, covered: int) -> None:
        _, log = self._docs.get(doc_id, (None, []))
        self._docs[doc_id] = (bytes(snapshot), log[covered:])

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (doc_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_doc ON changes (doc_id, id);
"""


class SQLiteStore:
    """A client store in one SQLite file, held exclusively by one process at a time.

    Two processes writing under the same actor id would number different operations alike,
    so a second opener gets :class:`~synckit.errors.StorageError` instead.
    """

    __slots__ = ("_db", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0.2
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open client store {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            # Take the exclusive lock now, and keep it until close.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise StorageError(
                    f"client store {self.path} is in use by another process"
                ) from exc
            raise StorageError(f"cannot open client store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"cannot open client store {self.path}: {exc}") from exc

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

    def load(self, doc_id: str) -> StoredDoc | None:
        try:
            row = self._db.execute(
                "SELECT data FROM snapshots WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            log = self._db.execute(
                "SELECT data FROM changes WHERE doc_id = ? ORDER BY id", (doc_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot load {doc_id!r} from {self.path}: {exc}") from exc
        if row is None and not log:
            return None
        return StoredDoc(None if row is None else bytes(row[0]), tuple(bytes(r[0]) for r in log))

    def append(self, doc_id: str, changes: bytes) -> None:
        try:
            self._db.execute("INSERT INTO changes (doc_id, data) VALUES (?, ?)", (doc_id, changes))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot store changes of {doc_id!r}: {exc}") from exc

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

    def close(self) -> None:
        self._db.close()
