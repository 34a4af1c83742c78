"""Snapshot tags on the server: every snapshot the server writes is stored with its
:class:`SnapshotKey` tag and loads again by the fast path; a tag that does not verify (bytes
changed, another key, no tag) means every check runs, so a hostile snapshot is still refused;
SQLite files of before the tag column keep working."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

from peer import Peer

from synckit import Document, SnapshotKey
from synckit._logged import LoggedDocument
from synckit._storage import SCHEMA_VERSION, StoredDoc
from synckit.errors import StorageError
from synckit.protocol import Error, ErrorCode, Subscribe, Subscribed
from synckit.server import Hub, Limits, MemoryStore, SQLiteStore
from synckit.server._metrics import Metrics
from synckit.server._observer import HubObserver

LIMITS = Limits(compact_every=3, room_linger=0)


class Loads(HubObserver):
    """Counts the snapshot loads of each kind."""

    __slots__ = ("checked", "tagged")

    def __init__(self) -> None:
        self.tagged = 0
        self.checked = 0

    def snapshot_loaded(self, tagged: bool) -> None:
        if tagged:
            self.tagged += 1
        else:
            self.checked += 1


def _write(store: SQLiteStore | MemoryStore, key: SnapshotKey | None = None) -> Document:
    """Three pushes to ``d`` through a hub on ``store``: a compaction writes its snapshot."""
    hub = Hub(store, limits=LIMITS, snapshot_key=key)
    writer = Peer(hub, "w")
    writer.subscribe("d")
    doc = Document("w")
    for i in range(3):
        before = doc.version()
        doc.get_text("t").insert(0, f"{i} hello ")
        doc.set(f"f{i}", i)
        writer.push("d", doc.changes(before))
    hub.disconnect(writer.conn)
    return doc


def _open(
    store: SQLiteStore | MemoryStore, key: SnapshotKey | None = None
) -> tuple[Loads, list[object]]:
    """A new hub on ``store`` (as after a restart) and a subscriber of ``d``: how it loaded,
    and what the subscriber got."""
    loads = Loads()
    hub = Hub(store, limits=LIMITS, observer=loads, snapshot_key=key)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    return loads, list(reader.received())


def _reseal(body: bytes) -> bytes:
    return body + b"\x5d" + zlib.crc32(body).to_bytes(4, "little")


def _set_snapshot(path: Path, data: bytes, tag: bytes | None) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE snapshots SET data = ?, tag = ? WHERE doc_id = 'd'", (data, tag))
    db.commit()
    db.close()


def test_a_snapshot_the_server_wrote_is_tagged_and_loads_by_the_fast_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, durability="process")
    doc = _write(store)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None and stored.changes == ()
    key = SnapshotKey(store.snapshot_key())
    assert stored.tag is not None and key.verify(stored.snapshot, stored.tag)
    store.close()
    # A restart: the key was kept in the file, so the tag still verifies.
    store = SQLiteStore(path, durability="process")
    assert store.snapshot_key() == key.secret
    loads, got = _open(store)
    assert (loads.tagged, loads.checked) == (1, 0)
    [answer] = got
    assert isinstance(answer, Subscribed)
    restored = LoggedDocument.restore(store.load("d"), key=key)
    assert restored.loaded == "tagged" and restored.doc.to_json() == doc.to_json()
    store.close()


def test_another_key_or_changed_bytes_get_every_check(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, durability="process")
    doc = _write(store)
    # Another key: the tag does not verify, every check runs, the document loads all the same.
    loads, got = _open(store, SnapshotKey(b"another secret, 32 bytes long..."))
    assert (loads.tagged, loads.checked) == (0, 1)
    assert isinstance(got[0], Subscribed)
    # Other (good) bytes under the old tag: checked, and loaded.
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None
    other = Document("x")
    other.set("other", 1)
    _set_snapshot(path, other.save(), stored.tag)
    loads, got = _open(store)
    assert (loads.tagged, loads.checked) == (0, 1)
    assert isinstance(got[0], Subscribed)
    assert LoggedDocument.restore(store.load("d")).doc.to_json() == {"other": 1}
    assert doc.to_json() != {"other": 1}
    store.close()


def _hostile() -> tuple[bytes, bytes]:
    """A good snapshot, and a hostile edit of it only the full checks catch (its version
    lowered below an operation it holds, resealed with a good checksum)."""
    a = Document("a")
    text = a.get_text("t")
    text.insert(0, "hello")
    text.insert(5, " world")
    text.delete(0, 1)
    data = a.save()
    assert b"*\x01\x0c" in data  # version_seqs: a at 12
    return data, _reseal(data[:-5].replace(b"*\x01\x0c", b"*\x01\x0b", 1))


def test_a_hostile_snapshot_is_refused_under_an_old_or_foreign_tag(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, durability="process")
    _write(store)
    key = SnapshotKey(store.snapshot_key())
    good, hostile = _hostile()
    foreign = SnapshotKey(b"an attacker's key, 32 bytes long")
    # What the fast path would have let through (so the refusals below are the checks').
    assert Document.load(hostile, key=key, tag=key.tag(hostile))
    for tag in (key.tag(good), foreign.tag(hostile), None, b"\x00" * 32):
        _set_snapshot(path, hostile, tag)
        loads, got = _open(store)
        assert (loads.tagged, loads.checked) == (0, 0)  # nothing loaded
        [error] = got
        assert isinstance(error, Error) and error.code == ErrorCode.INTERNAL
        assert "cannot load document 'd'" in error.message
    store.close()


def test_sqlite_files_without_the_tag_column_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    doc = Document("old")
    doc.get_text("t").insert(0, "written before tags")
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE snapshots (doc_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE INDEX changes_by_doc ON changes (doc_id, id);
        """
    )
    db.execute("INSERT INTO snapshots VALUES ('d', ?)", (doc.save(),))
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()
    store = SQLiteStore(path, durability="process")
    stored = store.load("d")
    assert stored == StoredDoc(doc.save(), ()) and stored.tag is None
    loads, got = _open(store)  # untagged: every check, and it loads
    assert (loads.tagged, loads.checked) == (0, 1)
    assert isinstance(got[0], Subscribed)
    _write(store)  # the next compaction tags it
    stored = store.load("d")
    assert stored is not None and stored.tag is not None
    loads, _ = _open(store)
    assert (loads.tagged, loads.checked) == (1, 0)
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = [row[1] for row in db.execute("PRAGMA table_info(snapshots)")]
    assert columns == ["doc_id", "data", "tag"]
    db.close()
    # Opening it again changes nothing.
    SQLiteStore(path, durability="process").close()


def test_a_configured_key_is_used_and_a_memory_store_keeps_its_own(tmp_path: Path) -> None:
    key = SnapshotKey(b"configured secret of 32 bytes..!")
    store = SQLiteStore(tmp_path / "s.db", durability="process")
    _write(store, key)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None and stored.tag is not None
    assert key.verify(stored.snapshot, stored.tag)
    loads, _ = _open(store, key)
    assert (loads.tagged, loads.checked) == (1, 0)
    loads, _ = _open(store)  # the store's own key: not the configured one
    assert (loads.tagged, loads.checked) == (0, 1)
    store.close()
    memory = MemoryStore()
    assert memory.snapshot_key() == memory.snapshot_key()
    assert memory.snapshot_key() != MemoryStore().snapshot_key()
    _write(memory)
    loads, _ = _open(memory)
    assert (loads.tagged, loads.checked) == (1, 0)


def test_the_metrics_count_snapshot_loads_by_kind() -> None:
    metrics = Metrics()
    metrics.snapshot_loaded(True)
    metrics.snapshot_loaded(True)
    metrics.snapshot_loaded(False)
    text = metrics.exposition().decode()
    assert 'synckit_snapshot_loads_total{checks="tagged"} 2.0' in text
    assert 'synckit_snapshot_loads_total{checks="full"} 1.0' in text


class _NoKeyStore(MemoryStore):
    def snapshot_key(self) -> bytes:
        raise StorageError("the secrets table is gone")


async def test_the_server_takes_the_configured_key_else_the_stores_else_a_random_one() -> None:
    from synckit.server import SyncServer

    memory = MemoryStore()
    server = SyncServer(memory)
    await server.start()
    assert server.hub.snapshot_key == SnapshotKey(memory.snapshot_key())
    await server.aclose()
    configured = SyncServer(MemoryStore(), snapshot_key=b"configured secret of 32 bytes..!")
    await configured.start()
    assert configured.hub.snapshot_key == SnapshotKey(b"configured secret of 32 bytes..!")
    await configured.aclose()
    failing = SyncServer(_NoKeyStore())  # correct without the store's key, only slower later
    await failing.start()
    key = failing.hub.snapshot_key
    assert key is not None and key.secret != b""
    await failing.aclose()
