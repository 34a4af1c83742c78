"""Client storage: the local copy of each document and the replica's identity.

Per document a store keeps an optional snapshot and the change batches after it; every local
edit is appended before it can be sent, so an edit made offline survives the process (the
"offline queue" is simply what the server has not acknowledged yet, recomputed from the
document on reconnect).

A store also gives the replica its actor id: the client id plus a random suffix made once per
store incarnation. A fresh store (a memory store, or a deleted file) therefore never writes
under an id whose operation numbers the server already holds.

A store also remembers the documents the server said were deleted (local tombstones), so
that opening one fails at once instead of making a fresh copy whose edits no server takes.
:meth:`Store.clear` empties it all, actor ids included: the next use starts a new actor.

And a store keeps a secret for its own snapshots (:meth:`SQLiteStore.snapshot_key`): the
client tags each snapshot it writes with it (a :class:`~synckit.core.SnapshotKey`), so that
opening the document again skips the checks only a hostile author's snapshot needs. The
secret lives in the store beside the snapshots: whoever can write the store can make its own
client load anything, which it could do anyway; the server checks everything it receives.

The document log itself (snapshots, change batches, compaction) is the shared
:mod:`synckit._storage`; this module adds the actor ids and the local tombstones.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from synckit._storage import DocLog, MemoryDocLog, SQLiteDocLog, StoredDoc
from synckit.errors import InvalidValueError, StorageError

__all__ = ["MemoryStore", "SQLiteStore", "Store", "StoredDoc", "new_actor_id"]


def new_actor_id(client_id: str) -> str:
    """``client_id`` plus a fresh random suffix: the id a new store incarnation writes under."""
    return f"{client_id}~{secrets.token_hex(6)}"


class Store(DocLog, Protocol):
    """The client's storage backend: a document log that also keeps the replica's actor id."""

    def actor_id(self, client_id: str) -> str:
        """The actor id this store writes under for ``client_id``; made on first use."""
        ...

    def delete_doc(self, doc_id: str) -> None:
        """Remove ``doc_id``'s snapshot and log (its unsent edits with them) and remember it
        as deleted, in one transaction. Committed on return.

        Raises:
            StorageError: nothing changed.
        """
        ...

    def is_deleted(self, doc_id: str) -> bool:
        """Whether :meth:`delete_doc` removed ``doc_id`` (since the last :meth:`clear`)."""
        ...

    def clear(self) -> None:
        """Remove everything: every document, its unsent edits, the local tombstones, the
        actor ids (the next :meth:`actor_id` makes a new one) and the snapshot key, in one
        transaction.

        Raises:
            StorageError: nothing changed.
        """
        ...

    # Optional (the client works without it, loading every snapshot with all checks):
    # ``snapshot_key() -> bytes``, a secret of at least 16 bytes made at random on first use
    # and kept until :meth:`clear`; the client tags the snapshots it stores with it.


@dataclass(slots=True)
class MemoryStore(MemoryDocLog):
    """A store in memory: nothing survives the process. Its actor ids are fresh each time."""

    _actors: dict[str, str] = field(default_factory=dict)
    _deleted: set[str] = field(default_factory=set)
    _secret: bytes = b""

    def actor_id(self, client_id: str) -> str:
        if client_id not in self._actors:
            self._actors[client_id] = new_actor_id(client_id)
        return self._actors[client_id]

    def delete_doc(self, doc_id: str) -> None:
        self._docs.pop(doc_id, None)
        self._tags.pop(doc_id, None)
        self._deleted.add(doc_id)

    def is_deleted(self, doc_id: str) -> bool:
        return doc_id in self._deleted

    def snapshot_key(self) -> bytes:
        """The secret this store's snapshots are tagged with (made on first use)."""
        if not self._secret:
            self._secret = secrets.token_bytes(SECRET_SIZE)
        return self._secret

    def clear(self) -> None:
        self._docs.clear()
        self._tags.clear()
        self._actors.clear()
        self._deleted.clear()
        self._secret = b""


#: Bytes of a snapshot key's secret.
SECRET_SIZE = 32

# The client's own table, next to the shared ``snapshots`` and ``changes``: ``actor:<client
# id>`` -> actor id, ``deleted:<doc id>`` -> "" (a local tombstone), ``snapshot_key`` -> its
# secret in hex.
_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class SQLiteStore(SQLiteDocLog):
    """A client store in one SQLite file, held exclusively by one process at a time.

    Two processes writing under the same actor id would number different operations alike,
    so a second opener gets :class:`~synckit.errors.StorageError` instead.

    Args:
        path: the SQLite file, created (with its folder) when missing.
        durability: ``"full"`` (default, ``synchronous=FULL``): each append is fsynced before
            it returns, and an edit is appended before it can be sent, so a power loss or an
            operating-system crash of the device keeps every edit that may have reached the
            server. ``"process"`` (``synchronous=NORMAL``, no fsync per append): a crash of
            the process keeps everything, but a power loss may lose the latest local edits
            (never corrupting the file), including edits already sent: the replica could
            then number new operations as it numbered those, under the same actor id, which
            the server already holds differently. Use it only where the device cannot lose
            power without its file system surviving (or where losing the last edits and
            diverging is acceptable).
    """

    __slots__ = ()

    def __init__(
        self, path: str | Path, *, durability: Literal["full", "process"] = "full"
    ) -> None:
        if durability not in ("full", "process"):
            raise InvalidValueError(f"durability must be 'full' or 'process', not {durability!r}")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot open client store {path}: {exc}") from exc
        super().__init__(
            path,
            synchronous="FULL" if durability == "full" else "NORMAL",
            exclusive=True,
            schema=_META_SCHEMA,
            kind="client store",
        )

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

    def delete_doc(self, doc_id: str) -> None:
        with self._immediate(f"delete {doc_id!r}") as db:
            self._remove(doc_id)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, '')", (f"deleted:{doc_id}",)
            )

    def is_deleted(self, doc_id: str) -> bool:
        try:
            row = self._db.execute("SELECT 1 FROM meta WHERE key = ?", (f"deleted:{doc_id}",))
            return row.fetchone() is not None
        except sqlite3.Error as exc:
            raise StorageError(f"client store {self.path}: {exc}") from exc

    def snapshot_key(self) -> bytes:
        """The secret this store's snapshots are tagged with: made at random on first use,
        kept in the store until :meth:`clear`.

        Raises:
            StorageError: the store failed.
        """
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('snapshot_key', ?)",
                (secrets.token_hex(SECRET_SIZE),),
            )
            row = self._db.execute("SELECT value FROM meta WHERE key = 'snapshot_key'").fetchone()
            return bytes.fromhex(row[0])
        except (sqlite3.Error, ValueError) as exc:
            raise StorageError(f"client store {self.path}: snapshot key: {exc}") from exc

    def clear(self) -> None:
        with self._immediate(f"clear client store {self.path}") as db:
            db.execute("DELETE FROM changes")
            db.execute("DELETE FROM snapshots")
            db.execute("DELETE FROM meta")
