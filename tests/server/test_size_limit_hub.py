"""``max_doc_bytes`` against what a compaction leaves, not against how far behind a snapshot
built off the loop happens to be: a push over the limit while that build runs waits for it,
and is refused only if the document is still too large after it."""

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


def test_a_document_too_large_is_refused_unchanged() -> None:
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=20_000))
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


def offloaded(
    tmp_path: Path, *names: str, limit: int = 20_000
) -> tuple[SQLiteStore, Builds, Hub, list[Peer]]:
    """A hub that builds every snapshot off the loop (by hand) every 4 batches, with peers
    subscribed to d."""
    store = SQLiteStore(tmp_path / "s.db", durability="process")
    builds = Builds()
    limits = Limits(max_doc_bytes=limit, compact_every=4, offload_bytes=1, room_linger=0)
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


def test_a_build_that_fails_answers_the_held_push(tmp_path: Path) -> None:
    """The log still holds every batch after a failed build: the held push is refused (not
    left waiting), and nothing of it is stored."""
    store, builds, hub, [writer] = offloaded(tmp_path, "w")
    doc = Document("w")
    for i in range(5):
        writer.push("d", replace(doc, i))
        drain(hub, store)
    assert builds.pending
    assert [e.batch_id for e in writer.received() if isinstance(e, Ack)] == [1, 2, 3, 4]
    builds.finish(fail=True)
    drain(hub, store)
    [err] = writer.received()
    assert isinstance(err, Error) and err.code is ErrorCode.DOC_TOO_LARGE and err.batch_id == 5
    assert rebuilt(store.load("d")).get("big") == chr(ord("a") + 3) * VALUE
    hub.close()


def test_replacing_a_value_far_past_the_limit_is_never_refused(tmp_path: Path) -> None:
    """Forty replacements of a 4 KB value push 160 KB through a 24 KB limit (room for the
    snapshot and the 4 batches before the next build) while snapshots are built late: the
    document itself never passes 5 KB, so every push is acknowledged, in order."""
    store, builds, hub, [writer] = offloaded(tmp_path, "w", limit=24_000)
    doc = Document("w")
    for i in range(40):
        writer.push("d", replace(doc, i))
        drain(hub, store)
        if i % 7 == 6:
            builds.finish()
            drain(hub, store)
    while builds.finish():
        drain(hub, store)
    events = writer.received()
    assert [type(e) for e in events] == [Ack] * 40, events
    assert [e.batch_id for e in events if isinstance(e, Ack)] == list(range(1, 41))
    stored = store.load("d")
    assert stored is not None and stored.size < 24_000
    assert rebuilt(stored).get("big") == chr(ord("a") + 39 % 26) * VALUE
    hub.close()


def test_repetitive_text_counts_at_its_decoded_length_after_compactions() -> None:
    """A snapshot stores text DEFLATE-compressed (4,000 x "x" takes a few dozen bytes), so
    counting snapshot bytes alone let such a document grow without bound, one compaction at
    a time. Its texts count at their decoded length: refused once past the limit."""
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=20_000, compact_every=2))
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")
    acked = 0
    for _ in range(30):
        before = doc.version()
        doc.get_text("t").insert(0, "x" * 4_000)
        peer.push("d", doc.changes(before))
        events = peer.received()
        if any(isinstance(e, Error) for e in events):
            [err] = events
            assert isinstance(err, Error) and err.code is ErrorCode.DOC_TOO_LARGE
            break
        acked += 1
    else:
        raise AssertionError("30 pushes of 4,000 characters went through a 20,000 byte limit")
    assert 1 < acked <= 5
    stored = store.load("d")
    assert stored is not None and stored.snapshot  # compacted along the way
    assert len(rebuilt(stored).get_text("t")) == acked * 4_000


def test_a_push_over_the_limit_compacts_first_and_is_taken_if_that_makes_room() -> None:
    """The log of a document may hold an eighth of it before a compaction is due by its own
    accord: a push that the log pushes past max_doc_bytes makes one happen, and waits for
    it, instead of being refused for what the snapshot folds away."""
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=20_000, compact_every=1000))
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")
    for i in range(12):  # 12 x 4 KB replacing one value: 48 KB through a 20 KB limit
        peer.push("d", replace(doc, i))
        answers = peer.received()
        assert [type(e) for e in answers] == [Ack], (i, answers)
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None and stored.size < 20_000
    assert rebuilt(stored).get("big") == chr(ord("a") + 11) * VALUE


def test_a_push_over_the_limit_does_not_compact_a_document_for_a_small_log() -> None:
    """A snapshot costs as much as the whole document: a push over the limit starts one only
    when the log holds a sixty-fourth of the document or more (else a writer could make the
    server rewrite a large document with every other push), and only when the push would
    fit beside the document without its log."""
    from synckit.server._metrics import Metrics

    metrics = Metrics()
    store = MemoryStore()
    limits = Limits(max_doc_bytes=20_000, compact_every=1000)
    hub = Hub(store, limits=limits, observer=metrics)
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")

    def put(key: str, size: int) -> list[type]:
        before = doc.version()
        doc.set(key, "v" * size)
        peer.push("d", doc.changes(before))
        return [type(e) for e in peer.received()]

    assert [put(f"k{i}", VALUE) for i in range(4)] == [[Ack]] * 4  # 16 KB of log, no snapshot
    assert put("k4", VALUE) == [Error]  # compacted first (the whole log), still too large
    assert metrics._compactions == 1
    assert put("small", 10) == [Ack]  # a log of ~60 bytes beside a 16 KB snapshot
    assert put("k5", VALUE) == [Error]  # refused at once: no compaction for that log
    assert metrics._compactions == 1
    assert put("k6", 30_000) == [Error]  # would not fit even without the log
    assert metrics._compactions == 1
