"""``max_doc_bytes`` against what a compaction leaves, not against how far behind compaction
happens to be: a push over the limit while the log still holds batches waits for the
compaction that folds them, and is refused only if the document is still too large after it."""

from __future__ import annotations

from pathlib import Path

from peer import Peer
from test_offload_hub import Builds, drain, rebuilt

from synckit import Document
from synckit.core import VersionVector
from synckit.protocol import Ack, Error, ErrorCode, Subscribe
from synckit.server import Hub, Limits, MemoryStore, SQLiteStore

VALUE = 4_000  # bytes of each replaced value: the log grows by about this per push


def replace(doc: Document, i: int) -> bytes:
    before = doc.version()
    doc.set("big", chr(ord("a") + i % 26) * VALUE)
    return doc.changes(before)


def test_replacing_a_value_far_past_the_limit_is_never_refused() -> None:
    """Forty replacements of a 4 KB value push 160 KB through a 20 KB limit: the document
    itself never passes 5 KB, so every push is acknowledged."""
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=20_000, compact_every=1_000))
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")
    for i in range(40):
        peer.push("d", replace(doc, i))
    events = peer.received()
    assert [type(e) for e in events] == [Ack] * 40, events
    assert [e.batch_id for e in events if isinstance(e, Ack)] == list(range(1, 41))
    stored = store.load("d")
    assert stored is not None and stored.size < 20_000
    assert rebuilt(stored).get("big") == chr(ord("a") + 39 % 26) * VALUE


def test_a_document_still_too_large_after_compaction_is_refused_unchanged() -> None:
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=20_000, compact_every=1_000))
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")
    refused = None
    for i in range(10):  # distinct keys: nothing folds away
        before = doc.version()
        doc.set(f"k{i}", "x" * VALUE)
        peer.push("d", doc.changes(before))
        errors = [e for e in peer.received() if isinstance(e, Error)]
        if errors:
            refused = (i, errors)
            break
    assert refused is not None
    i, [err] = refused
    assert err.code is ErrorCode.DOC_TOO_LARGE and not err.fatal and err.batch_id == i + 1
    stored = store.load("d")
    assert stored is not None
    assert sorted(rebuilt(stored).to_json()) == [f"k{j}" for j in range(i)]  # not the refused


def offloaded(tmp_path: Path, *names: str) -> tuple[SQLiteStore, Builds, Hub, list[Peer]]:
    """A hub that builds every snapshot off the loop (by hand), with peers subscribed to d."""
    store = SQLiteStore(tmp_path / "s.db", durability="process")
    builds = Builds()
    limits = Limits(max_doc_bytes=20_000, compact_every=1_000, offload_bytes=1, room_linger=0)
    hub = Hub(None, limits=limits, offload=builds)
    peers = [Peer(hub, name) for name in names]
    for peer in peers:
        peer.send(Subscribe("d"))
        drain(hub, store)
        peer.received()
    return store, builds, hub, peers


def test_pushes_wait_in_order_for_a_snapshot_built_elsewhere(tmp_path: Path) -> None:
    """With compaction off the loop, pushes over the limit and every push after them (from
    any connection) wait for the build; they are then committed in the order they came."""
    store, builds, hub, [writer, other] = offloaded(tmp_path, "w", "o")
    doc = Document("w")
    for i in range(4):
        writer.push("d", replace(doc, i))
        drain(hub, store)
    assert [type(e) for e in writer.received()] == [Ack] * 4
    other.received()  # the broadcasts of those four
    writer.push("d", replace(doc, 4))  # 5 x 4 KB + the old log: over 20 KB
    drain(hub, store)
    assert builds.pending and writer.received() == []  # held for the build
    mine = Document("o")
    mine.get_counter("n").increment()
    other.push("d", mine.changes(VersionVector()))  # small, but after a held push: waits
    drain(hub, store)
    assert other.received() == []
    builds.finish()
    drain(hub, store)
    assert [(type(e), e.batch_id) for e in writer.received() if isinstance(e, Ack)] == [(Ack, 5)]
    assert [type(e) for e in other.received()].count(Ack) == 1
    stored = store.load("d")
    assert stored is not None and stored.size < 20_000
    hub.close()


def test_a_build_that_fails_releases_the_held_pushes(tmp_path: Path) -> None:
    store, builds, hub, [writer] = offloaded(tmp_path, "w")
    doc = Document("w")
    for i in range(5):
        writer.push("d", replace(doc, i))
        drain(hub, store)
    assert builds.pending
    builds.finish(fail=True)  # the log still holds everything: a second build is asked for
    drain(hub, store)
    assert builds.pending
    builds.finish()
    drain(hub, store)
    acks = [e.batch_id for e in writer.received() if isinstance(e, Ack)]
    assert acks == [1, 2, 3, 4, 5]
    hub.close()
