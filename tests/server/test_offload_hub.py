"""Compaction built away from the hub (``offload``), driven by hand: the snapshot is taken of
the document as it was when asked for, pushes keep being committed while it is built, and
the compaction then replaces only the batches it holds, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from peer import Peer

from synckit import Document, SnapshotKey
from synckit._logged import LoggedDocument, build_snapshot
from synckit._storage import StoredDoc
from synckit.errors import StorageError
from synckit.protocol import Ack, Subscribe
from synckit.server import Hub, Limits, SQLiteStore, perform_io
from synckit.server._rooms import Compact, Load

Then = Callable[[tuple[bytes, bytes | None] | Exception], None]
Build = tuple[bytes | None, list[bytes], SnapshotKey | None, bytes | None, Then]


class Builds:
    """An offload hook that keeps each build until the test finishes it."""

    def __init__(self) -> None:
        self.pending: list[Build] = []

    def __call__(
        self,
        base: bytes | None,
        batches: list[bytes],
        key: SnapshotKey | None,
        base_tag: bytes | None,
        then: Then,
    ) -> None:
        self.pending.append((base, batches, key, base_tag, then))

    def finish(self, fail: bool = False) -> int:
        done, self.pending = self.pending, []
        for base, batches, key, base_tag, then in done:
            then(
                StorageError("worker died")
                if fail
                else build_snapshot(base, batches, key, base_tag)
            )
        return len(done)


def drain(hub: Hub, store: SQLiteStore) -> list[str]:
    kinds = []
    while (op := hub.next_io()) is not None:
        kinds.append(type(op).__name__)
        hub.io_done(op, perform_io(op, store))
    return kinds


def rebuilt(stored: StoredDoc | None) -> Document:
    return LoggedDocument.restore(stored).doc


def setup(tmp_path: Path) -> tuple[Hub, SQLiteStore, Builds, Peer, Document]:
    store = SQLiteStore(tmp_path / "s.db", durability="process")
    builds = Builds()
    hub = Hub(None, limits=Limits(compact_every=4, offload_bytes=1, room_linger=0), offload=builds)
    writer = Peer(hub, "w")
    writer.send(Subscribe("d"))
    drain(hub, store)
    writer.received()
    return hub, store, builds, writer, Document("w")


def push(writer: Peer, doc: Document, value: int) -> None:
    before = doc.version()
    doc.get_list("items").append(value)
    writer.push("d", doc.changes(before))


def test_pushes_committed_while_a_snapshot_is_built_stay_in_the_log(tmp_path: Path) -> None:
    hub, store, builds, writer, doc = setup(tmp_path)
    value = 0
    for _ in range(5):
        for _ in range(6):
            push(writer, doc, value)
            value += 1
            drain(hub, store)
        # Committed meanwhile: the build of the snapshot asked for at 4 batches is pending.
        assert builds.pending
        assert builds.finish() == 1
        assert "Compact" in drain(hub, store)
    acks = [e for e in writer.received() if isinstance(e, Ack)]
    assert len(acks) == 30
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None
    # The snapshot did not swallow the batches after it: the log still holds them.
    assert 0 < len(stored.changes) < 30
    assert rebuilt(stored).to_json() == doc.to_json()
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    assert room.logged.log_count == len(stored.changes)
    assert room.logged.size == stored.size
    store.close()


def test_a_failed_build_loses_nothing_and_the_next_one_compacts(tmp_path: Path) -> None:
    hub, store, builds, writer, doc = setup(tmp_path)
    for value in range(5):
        push(writer, doc, value)
        drain(hub, store)
    assert builds.finish(fail=True) == 1
    assert "Compact" not in drain(hub, store)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is None and len(stored.changes) == 5
    push(writer, doc, 5)  # due again: a new build
    drain(hub, store)
    assert builds.finish() == 1
    assert "Compact" in drain(hub, store)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None and stored.changes == ()
    assert rebuilt(stored).to_json() == doc.to_json()
    store.close()


def test_a_room_reopened_during_its_last_build_loads_after_the_compaction(
    tmp_path: Path,
) -> None:
    hub, store, builds, writer, doc = setup(tmp_path)
    for value in range(3):
        push(writer, doc, value)
        drain(hub, store)
    hub.disconnect(writer.conn)  # the room closes: its snapshot is built
    drain(hub, store)
    assert len(builds.pending) == 1
    again = Peer(hub, "w2")
    again.send(Subscribe("d"))
    assert drain(hub, store) == []  # no Load yet: it would read the log the build replaces
    builds.finish()
    kinds = drain(hub, store)
    assert kinds[:2] == ["Compact", "Load"]
    more = Document("w2")
    more.apply(doc.changes())
    push(again, more, 99)
    drain(hub, store)
    assert rebuilt(store.load("d")).to_json() == more.to_json()
    store.close()


def test_a_build_of_an_abandoned_document_is_not_written(tmp_path: Path) -> None:
    hub, store, builds, writer, doc = setup(tmp_path)
    for value in range(4):
        push(writer, doc, value)
        drain(hub, store)
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    logged = room.logged
    hub.rooms.evict("d")  # as after a failed commit: memory ahead of storage
    builds.finish()
    op = hub.next_io()
    assert not isinstance(op, Compact)
    assert not logged.compacting
    stored = store.load("d")
    assert stored is not None and stored.snapshot is None and len(stored.changes) == 4
    store.close()


def test_without_offload_nothing_is_tracked(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", durability="process")
    hub = Hub(None, limits=Limits(compact_every=4, offload_bytes=1))
    writer = Peer(hub, "w")
    writer.send(Subscribe("d"))
    kinds = drain(hub, store)
    assert kinds == ["Load"] and not isinstance(kinds, Load)
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None and room.logged.since is None
    store.close()


def test_a_snapshot_built_elsewhere_is_stored_with_its_tag(tmp_path: Path) -> None:
    hub, store, builds, writer, doc = setup(tmp_path)
    key = SnapshotKey(b"offload test key, 32 bytes long!")
    hub.snapshot_key = key
    for value in range(4):
        push(writer, doc, value)
        drain(hub, store)
    [(_, _, given, base_tag, _)] = builds.pending
    assert given is key and base_tag is None  # the document had no snapshot yet
    builds.finish()
    assert "Compact" in drain(hub, store)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None and stored.tag is not None
    assert key.verify(stored.snapshot, stored.tag)
    # The next build starts from that snapshot, and is given its tag.
    for value in range(4, 8):
        push(writer, doc, value)
        drain(hub, store)
    [(base, _, _, base_tag, _)] = builds.pending
    assert base == stored.snapshot and base_tag == stored.tag
    builds.finish()
    drain(hub, store)
    restored = LoggedDocument.restore(store.load("d"), key=key)
    assert restored.loaded == "tagged" and restored.doc.to_json() == doc.to_json()
    store.close()
