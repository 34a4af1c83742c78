"""The hub's storage queue driven by hand: group commit, and no reply before its commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from peer import Peer

from synckit import Document
from synckit.core import VersionVector
from synckit.errors import StorageError
from synckit.protocol import (
    Ack,
    Broadcast,
    Error,
    ErrorCode,
    Event,
    Subscribe,
    Subscribed,
)
from synckit.server import Hub, Limits, MemoryStore, perform_io
from synckit.server._rooms import Commit, Load


class CountingStore(MemoryStore):
    """A memory store that records each transaction's batches."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[list[str]] = []

    def append_many(self, batches: Sequence[tuple[str, bytes]]) -> None:
        self.transactions.append([doc_id for doc_id, _ in batches])
        super().append_many(batches)


def step(hub: Hub, store: MemoryStore) -> object:
    """Perform the next queued storage operation; return it."""
    op = hub.next_io()
    assert op is not None
    hub.io_done(op, perform_io(op, store))
    return op


def drain(hub: Hub, store: MemoryStore) -> None:
    while (op := hub.next_io()) is not None:
        hub.io_done(op, perform_io(op, store))


def edit(name: str, value: int) -> bytes:
    doc = Document(name)
    doc.set(name, value)
    return doc.changes()


def test_pushes_that_arrive_during_a_commit_share_the_next_transaction() -> None:
    store = CountingStore()
    hub = Hub(None)
    peers = [Peer(hub, name) for name in "abc"]
    for peer in peers:
        peer.send(Subscribe("d"))
    assert isinstance(step(hub, store), Load)
    assert all(isinstance(p.received()[0], Subscribed) for p in peers)
    peers[0].push("d", edit("a", 1))
    first = hub.next_io()  # the first commit is now being stored...
    assert isinstance(first, Commit) and len(first.batches) == 1
    peers[1].push("d", edit("b", 2))  # ...while two more pushes arrive
    peers[2].push("d", edit("c", 3))
    assert [p.received() for p in peers] == [[], [], []]  # nothing acknowledged yet
    hub.io_done(first, perform_io(first, store))
    [ack] = peers[0].received()
    assert isinstance(ack, Ack)
    assert [type(e) for e in peers[1].received()] == [Broadcast]
    second = step(hub, store)
    assert isinstance(second, Commit) and len(second.batches) == 2
    assert store.transactions == [["d"], ["d", "d"]]
    # Both of the group are acknowledged once it is stored, each with the version after it.
    acks = [e for p in peers[1:] for e in p.received() if isinstance(e, Ack)]
    assert [VersionVector.decode(a.server_version) for a in acks] == [
        VersionVector({"a": 1, "b": 1}),
        VersionVector({"a": 1, "b": 1, "c": 1}),
    ]
    assert hub.next_io() is None


def test_a_subscriber_learns_no_version_that_storage_does_not_hold_yet() -> None:
    store = CountingStore()
    hub = Hub(None)
    writer, reader = Peer(hub, "w"), Peer(hub, "r")
    writer.send(Subscribe("d"))
    drain(hub, store)
    writer.received()
    writer.push("d", edit("w", 1))
    reader.send(Subscribe("d"))  # the room holds the push in memory, not yet in storage
    assert reader.received() == []
    drain(hub, store)
    [answer] = reader.received()
    assert isinstance(answer, Subscribed)
    assert VersionVector.decode(answer.server_version) == VersionVector({"w": 1})


def test_events_for_a_loading_document_wait_for_it_in_order() -> None:
    store = CountingStore()
    seed = Document("old")
    seed.set("old", True)
    store.append("d", seed.changes())
    hub = Hub(None)
    peer = Peer(hub, "new")
    peer.send(Subscribe("d"))
    peer.push("d", edit("new", 1))  # before the Subscribed: a hostile but legal order
    assert peer.received() == [] and hub.open_doc_ids == ["d"]
    drain(hub, store)
    events = peer.received()
    assert [type(e) for e in events] == [Subscribed, Ack]
    ack = events[1]
    assert isinstance(ack, Ack)
    assert VersionVector.decode(ack.server_version) == VersionVector({"old": 1, "new": 1})
    assert store.transactions == [["d"]]


def test_a_failed_load_answers_every_queued_event_and_forgets_the_room() -> None:
    hub = Hub(None)
    peer = Peer(hub, "p")
    peer.send(Subscribe("d"))
    peer.push("d", edit("x", 1))
    op = hub.next_io()
    assert isinstance(op, Load)
    hub.io_done(op, StorageError("disk gone"))
    errors = peer.received()
    assert all(isinstance(e, Error) and "disk gone" in e.message for e in errors)
    assert [e.batch_id for e in errors if isinstance(e, Error)] == [0, 1]
    assert hub.open_doc_ids == []


def test_a_waiting_change_is_stored_once_however_often_it_is_pushed() -> None:
    store = CountingStore()
    hub = Hub(store)
    first = Document("a")
    first.set("a", 1)
    later = Document("b")
    later.apply(first.changes())
    later.get_list("l").append("needs a's clock")
    waiting = later.changes(since=first.version())
    peer = Peer(hub, "b")
    peer.send(Subscribe("d"))
    for _ in range(5):  # the same waiting change again and again
        peer.push("d", waiting)
    acks = [e for e in peer.received() if isinstance(e, Ack)]
    assert len(acks) == 5
    assert store.transactions == [["d"]]  # stored once: repeats cannot fill the log
    author = Peer(hub, "a")
    author.send(Subscribe("d"))
    author.push("d", first.changes())
    assert store.transactions == [["d"], ["d"]]
    assert hub.doc_json("d") == later.to_json()


def test_requests_waiting_for_a_load_are_bounded() -> None:
    hub = Hub(None, limits=Limits(max_load_waiters=8))
    peer = Peer(hub, "flood")
    peer.send(Subscribe("d"))
    refused: list[Event] = []
    doc = Document("flood")
    for i in range(20):
        before = doc.version()
        doc.set("k", i)
        peer.push("d", doc.changes(before))
        refused += peer.received()
    assert len(refused) == 13
    assert all(
        isinstance(e, Error) and e.retryable and "still loading" in e.message for e in refused
    )
    drain(hub, MemoryStore())
    acks = [e for e in peer.received() if isinstance(e, Ack)]
    assert len(acks) == 7  # the subscribe and 7 pushes waited; each got its answer


def test_one_compaction_at_a_time_keeps_the_size_and_the_log_true() -> None:
    """Pushes keep coming while a compaction waits in the queue: none other is queued
    meanwhile (two in flight would each subtract what the other covers: the document's size
    went wrong by hundreds of MB and honest pushes were refused as too large)."""
    store = CountingStore()
    hub = Hub(None, limits=Limits(compact_every=4))
    writer = Peer(hub, "w")
    writer.send(Subscribe("d"))
    drain(hub, store)
    writer.received()
    doc = Document("w")
    compactions = 0
    for round_ in range(10):
        for n in range(6):  # the storage task is busy: six pushes queue up
            before = doc.version()
            doc.set("k", round_ * 10 + n)
            writer.push("d", doc.changes(before))
        while (op := hub.next_io()) is not None:
            compactions += type(op).__name__ == "Compact"
            hub.io_done(op, perform_io(op, store))
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    logged = room.logged
    stored = store.load("d")
    assert stored is not None
    assert 0 <= logged.log_count == len(stored.changes) < 4 + 6
    assert logged.size == len(stored.snapshot or b"") + sum(map(len, stored.changes))
    assert compactions <= 10
    again = Document.load(stored.snapshot) if stored.snapshot else Document()
    for batch in stored.changes:
        again.apply(batch)
    assert again.get("k") == 95


def test_a_commit_of_many_pushes_reaches_each_subscriber_as_one_broadcast() -> None:
    store = CountingStore()
    hub = Hub(None)
    writers = [Peer(hub, name) for name in ("a", "b", "c")]
    reader = Peer(hub, "r")
    for peer in (*writers, reader):
        peer.send(Subscribe("d"))
    drain(hub, store)
    for peer in (*writers, reader):
        peer.received()
    docs = [Document(name) for name in "abc"]
    for n, (doc, peer) in enumerate(zip(docs, writers, strict=True)):  # one transaction
        doc.set(doc.client_id, n)
        peer.push("d", doc.changes())
    drain(hub, store)
    assert len(store.transactions[-1]) == 3
    [out] = reader.received()
    assert isinstance(out, Broadcast)
    seen = Document()
    seen.apply(out.changes)
    assert {name: seen.get(name) for name in "abc"} == {"a": 0, "b": 1, "c": 2}
    for peer in writers:  # its Ack, then the commit's one broadcast (its own edit included)
        events = peer.received()
        assert [type(e) for e in events] == [Ack, Broadcast]

    # One writer's pushes: the others get one broadcast, the writer none.
    doc = docs[0]
    for n in range(3):
        before = doc.version()
        doc.set("a", 10 + n)
        writers[0].push("d", doc.changes(before))
    drain(hub, store)
    assert [type(e) for e in writers[0].received()] == [Ack, Ack, Ack]
    [out] = reader.received()
    assert isinstance(out, Broadcast)
    seen.apply(out.changes)
    assert seen.get("a") == 12


def test_a_core_failure_mid_merge_stores_nothing_and_reloads_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defence in depth: should ``Document.apply`` ever fail with something other than a
    refusal (a bug in the core, as a field operation naming a nested container once did),
    the half-changed document must reach neither storage nor anyone else: the pusher gets
    INTERNAL, the room is dropped and loaded again from what storage holds."""
    store = MemoryStore()
    hub = Hub(None)
    writer, other = Peer(hub, "w"), Peer(hub, "o")
    writer.send(Subscribe("d"))
    other.send(Subscribe("d"))
    drain(hub, store)
    writer.received(), other.received()
    writer.push("d", edit("w", 1))
    drain(hub, store)
    assert isinstance(writer.received()[0], Ack)
    other.received()

    real_apply = Document.apply

    def half_apply(doc: Document, data: bytes, **kw: object) -> None:
        doc.set("junk", "half-applied")  # changed, then a crash
        raise TypeError("a bug")

    monkeypatch.setattr(Document, "apply", half_apply)
    writer.push("d", edit("w2", 2))
    monkeypatch.setattr(Document, "apply", real_apply)
    drain(hub, store)
    [refusal] = [e for e in writer.received() if isinstance(e, Error) and e.batch_id]
    assert refusal.code == ErrorCode.INTERNAL and "nothing stored" in refusal.message
    assert not any(isinstance(e, Broadcast) for e in other.received())
    stored = store.load("d")
    assert stored is not None
    again = Document("check")
    assert stored.snapshot is None
    for batch in stored.changes:
        again.apply(batch)
    assert again.to_json() == {"w": 1}
    fresh = Peer(hub, "f")
    fresh.send(Subscribe("d"))
    drain(hub, store)
    [sub] = [e for e in fresh.received() if isinstance(e, Subscribed)]
    seen = Document("seen")
    seen.apply(sub.changes)
    assert seen.to_json() == {"w": 1}


def test_a_commit_wakes_each_connection_once_with_all_of_its_frames() -> None:
    """Answering a commit queues an Ack per push: the writer's transport is woken once, after
    all of its Acks are queued (so it writes them in one go), in order; the subscriber is
    woken for its Broadcast. Outside a storage answer a frame wakes its connection at once."""
    store = CountingStore()
    hub = Hub(None)
    wakes = {"a": 0, "b": 0}

    def waker(name: str) -> Callable[[], None]:
        def wake() -> None:
            wakes[name] += 1

        return wake

    a, b = Peer(hub, "a", wake=waker("a")), Peer(hub, "b", wake=waker("b"))
    for peer in (a, b):
        peer.send(Subscribe("d"))
    drain(hub, store)
    a.received(), b.received()
    writer = Document("a")

    def push(value: int) -> bytes:
        held = writer.version()
        writer.set("k", value)
        changes = writer.changes(held)
        a.push("d", changes)
        return changes

    push(1)
    first = hub.next_io()
    assert isinstance(first, Commit)
    for value in (2, 3, 4):  # three pushes wait for the next commit
        last = push(value)
    hub.io_done(first, perform_io(first, store))
    a.received(), b.received()
    wakes.update(a=0, b=0)
    second = hub.next_io()
    assert isinstance(second, Commit) and len(second.batches) == 3
    hub.io_done(second, perform_io(second, store))
    assert wakes == {"a": 1, "b": 1}
    events = a.received()
    assert [type(e) for e in events] == [Ack, Ack, Ack]
    assert [e.batch_id for e in events if isinstance(e, Ack)] == [2, 3, 4]
    [broadcast] = b.received()
    assert isinstance(broadcast, Broadcast)
    # Not answering storage: woken at once. A push of what is stored already is
    # acknowledged at once (no commit is queued).
    a.push("d", last)
    assert wakes["a"] == 2
    assert [type(e) for e in a.received()] == [Ack]


def test_a_pushers_acks_and_the_commits_broadcast_leave_in_one_wake() -> None:
    """One wake-up (one transport write) per pusher and commit: its Acks, then the commit's
    broadcast. A subscriber that pushed nothing is woken for the broadcast alone."""
    store = MemoryStore()
    hub = Hub(None)
    wakes = {"a": 0, "b": 0, "c": 0}

    def waker(name: str) -> Callable[[], None]:
        def wake() -> None:
            wakes[name] += 1

        return wake

    a, b, c = (Peer(hub, name, wake=waker(name)) for name in "abc")
    for peer in (a, b, c):
        peer.send(Subscribe("d"))
    drain(hub, store)
    a.push("d", edit("a", 1))
    first = hub.next_io()  # being stored while the next two pushes arrive
    assert isinstance(first, Commit)
    doc = Document("a")
    doc.set("a", 1)
    held = doc.version()
    doc.set("a", 2)
    a.push("d", doc.changes(held))
    b.push("d", edit("b", 2))
    hub.io_done(first, perform_io(first, store))
    for peer in (a, b, c):
        peer.received()
    wakes.update(a=0, b=0, c=0)
    second = hub.next_io()
    assert isinstance(second, Commit) and len(second.batches) == 2
    hub.io_done(second, perform_io(second, store))
    assert wakes == {"a": 1, "b": 1, "c": 1}
    assert [type(e) for e in a.received()] == [Ack, Broadcast]
    assert [type(e) for e in b.received()] == [Ack, Broadcast]
    assert [type(e) for e in c.received()] == [Broadcast]


def test_a_commit_goes_ahead_of_loads_of_other_documents_then_a_load_goes() -> None:
    """A subscriber opening many documents at once queued their loads before every later
    commit: 30 snapshots of 6.6 MB held an honest writer's acknowledgements up to 1.1 s. A
    commit right behind loads of other documents now goes first, and then one operation is
    taken in order, so that loads still get every other turn."""
    store = CountingStore()
    for i in range(3):
        store.append(f"cold-{i}", edit("old", i))
    hub = Hub(None)
    writer, reader = Peer(hub, "w"), Peer(hub, "r")
    writer.send(Subscribe("hot"))
    drain(hub, store)
    writer.received()
    for i in range(3):
        reader.send(Subscribe(f"cold-{i}"))
    mine = Document("w")
    mine.set("n", 1)
    writer.push("hot", mine.changes())
    first = hub.next_io()
    assert isinstance(first, Commit) and [d for d, _ in first.batches] == ["hot"]
    hub.io_done(first, perform_io(first, store))
    assert [type(e) for e in writer.received()] == [Ack]  # not after three loads
    held = mine.version()
    mine.set("n", 2)
    writer.push("hot", mine.changes(held))
    second = hub.next_io()  # the turn after a commit that went ahead is a load's
    assert isinstance(second, Load) and second.doc_id == "cold-0"
    hub.io_done(second, perform_io(second, store))
    third = hub.next_io()
    assert isinstance(third, Commit)
    hub.io_done(third, perform_io(third, store))
    drain(hub, store)
    assert [type(e) for e in writer.received()] == [Ack]
    assert sorted(e.doc_id for e in reader.received() if isinstance(e, Subscribed)) == [
        "cold-0",
        "cold-1",
        "cold-2",
    ]


def test_a_commit_never_goes_ahead_of_a_load_of_its_own_document() -> None:
    """A document closed with a commit still queued and opened again loads after that
    commit: a commit holding batches of a document being loaded keeps its place."""
    from synckit.server._rooms import Rooms

    rooms = Rooms(compact_every=256, live_docs=8)
    queue = rooms._queue
    load_a, load_b = Load("a"), Load("b")
    commit_b = Commit([("b", b"x")])
    queue.extend([load_a, load_b, commit_b])
    assert rooms.next_io() is load_a  # the commit holds a batch of b, loaded before it
    rooms.done(load_a, None)
    commit_c = Commit([("c", b"y")])
    queue.appendleft(Load("z"))
    queue.insert(1, commit_c)  # [Load z, commit c, Load b, commit b]
    assert rooms.next_io() is commit_c
    rooms.done(commit_c, None)
    assert isinstance(rooms.next_io(), Load)  # taken in order after one went ahead
