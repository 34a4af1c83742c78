"""The client store's snapshot key: the client tags the snapshots it stores and opens them
again with fewer checks; a tag that does not verify, or a store without a key, only means
every check runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from synckit.client import MemoryStore, SQLiteStore, SyncEngine
from synckit.core import SnapshotKey
from synckit.errors import StorageError


def test_a_store_keeps_one_key_until_cleared(tmp_path: Path) -> None:
    memory = MemoryStore()
    key = memory.snapshot_key()
    assert len(key) == 32 and memory.snapshot_key() == key
    assert MemoryStore().snapshot_key() != key
    memory.clear()
    assert memory.snapshot_key() != key

    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    key = store.snapshot_key()
    assert len(key) == 32 and store.snapshot_key() == key
    store.close()
    store = SQLiteStore(path)
    assert store.snapshot_key() == key  # kept in the file
    store.clear()
    assert store.snapshot_key() != key
    store.close()


def _write(engine: SyncEngine) -> Mapping[str, object]:
    doc = engine.open("notes")
    for i in range(7):
        doc.get_list("l").append(i)
    doc.get_text("t").insert(0, "kept")
    doc.set("title", "x")
    return doc.to_json()


def test_the_client_tags_its_snapshots_and_opens_them_tagged(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    engine = SyncEngine(store, store.actor_id("me"), compact_every=3)
    want = _write(engine)
    engine.close()  # snapshots what is in the log
    stored = store.load("notes")
    assert stored is not None and stored.snapshot and not stored.changes
    assert stored.tag is not None
    assert SnapshotKey(store.snapshot_key()).verify(stored.snapshot, stored.tag)
    store.close()

    store = SQLiteStore(path)
    engine = SyncEngine(store, store.actor_id("me"))
    logged = engine.restore("notes")
    assert logged.loaded == "tagged"
    assert logged.doc.to_json() == want
    store.close()


def test_a_tag_that_does_not_verify_loads_with_every_check(tmp_path: Path) -> None:
    store = MemoryStore()
    engine = SyncEngine(store, store.actor_id("me"), compact_every=3)
    want = _write(engine)
    engine.close()
    stored = store.load("notes")
    assert stored is not None and stored.snapshot is not None
    # Someone else's tag (or the bytes changed since): the same document, every check run.
    store.compact("notes", stored.snapshot, 0, SnapshotKey(b"k" * 32).tag(stored.snapshot))
    logged = SyncEngine(store, store.actor_id("me")).restore("notes")
    assert logged.loaded == "checked"
    assert logged.doc.to_json() == want


def test_after_clear_the_old_key_is_gone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    engine = SyncEngine(store, store.actor_id("me"), compact_every=3)
    _write(engine)
    engine.clear_all("me")
    assert store.load("notes") is None
    want = _write(engine)
    engine.close()
    stored = store.load("notes")
    assert stored is not None and stored.snapshot is not None and stored.tag is not None
    assert SnapshotKey(store.snapshot_key()).verify(stored.snapshot, stored.tag)
    assert SyncEngine(store, store.actor_id("me")).restore("notes").doc.to_json() == want
    store.close()


@dataclass
class KeylessStore(MemoryStore):
    """A store of an application's own that keeps no snapshot key."""

    def __getattribute__(self, name: str) -> object:
        if name == "snapshot_key":
            raise AttributeError(name)
        return super().__getattribute__(name)


@dataclass
class FailingKeyStore(MemoryStore):
    """A store whose key cannot be read (its backend fails)."""

    def snapshot_key(self) -> bytes:
        raise StorageError("the key's row cannot be read")


@pytest.mark.parametrize("store_cls", [KeylessStore, FailingKeyStore])
def test_without_a_key_snapshots_are_stored_untagged(store_cls: type[MemoryStore]) -> None:
    store = store_cls()
    engine = SyncEngine(store, store.actor_id("me"), compact_every=3)
    want = _write(engine)
    engine.close()
    stored = store.load("notes")
    assert stored is not None and stored.snapshot is not None and stored.tag is None
    logged = SyncEngine(store, store.actor_id("me")).restore("notes")
    assert logged.loaded == "checked"
    assert logged.doc.to_json() == want
