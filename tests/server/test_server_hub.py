"""The server's Hub without a network: real sessions, real SQLite, frames moved by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from peer import Peer

from synckit import Document
from synckit.core import VersionVector
from synckit.protocol import (
    VERSION_DELTAS,
    Ack,
    Broadcast,
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    HttpSyncRequest,
    ServerHttpExchange,
    State,
    Unsubscribe,
    encode_http_request,
)
from synckit.server import Connection, Hub, Limits, MemoryStore, SQLiteStore, StoredDoc


def text_doc(name: str, text: str) -> Document:
    doc = Document(name)
    doc.get_text("t").insert(0, text)
    return doc


def test_ack_comes_after_commit(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    hub = Hub(SQLiteStore(db))
    peer = Peer(hub, "a")
    peer.subscribe("d")
    peer.push("d", text_doc("a", "hello").changes())
    [ack] = peer.received()
    assert isinstance(ack, Ack) and ack.batch_id == 1
    # When the ack exists, another connection to the file already sees the change.
    with sqlite3.connect(db) as other:
        rows = other.execute("SELECT count(*) FROM changes WHERE doc_id = 'd'").fetchone()
    assert rows[0] == 1
    assert VersionVector.decode(ack.server_version) == VersionVector({"a": 5})
    hub.close()


def test_broadcast_to_other_subscribers_only() -> None:
    hub = Hub(MemoryStore())
    a, b, c = Peer(hub, "a"), Peer(hub, "b"), Peer(hub, "c")
    a.subscribe("d")
    b.subscribe("d")
    c.subscribe("other")
    a.push("d", text_doc("a", "x").changes())
    assert [type(e) for e in a.received()] == [Ack]
    [cast] = b.received()
    assert isinstance(cast, Broadcast)
    doc = Document("b")
    doc.apply(cast.changes)
    assert str(doc.get_text("t")) == "x"
    assert c.received() == []


def test_duplicate_push_is_acked_not_stored_twice() -> None:
    store = MemoryStore()
    hub = Hub(store)
    a, b = Peer(hub, "a"), Peer(hub, "b")
    a.subscribe("d")
    b.subscribe("d")
    changes = text_doc("a", "once").changes()
    a.push("d", changes)
    a.push("d", changes)
    assert [type(e) for e in a.received()] == [Ack, Ack]
    assert len(b.received()) == 1  # nothing new the second time: no broadcast
    stored = store.load("d")
    assert stored is not None and len(stored.changes) == 1


def test_subscribe_answers_what_the_client_lacks() -> None:
    hub = Hub(MemoryStore())
    a = Peer(hub, "a")
    a.subscribe("d")
    writer = text_doc("a", "abc")
    a.push("d", writer.changes())
    b = Peer(hub, "b")
    answer = b.subscribe("d", writer.version())
    reader = Document("b")
    reader.apply(answer.changes)
    assert reader.version() == VersionVector()  # it had everything already
    assert VersionVector.decode(answer.server_version) == writer.version()


def test_rooms_unload_and_compact(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    clock = [100.0]
    hub = Hub(store, limits=Limits(compact_every=3, room_linger=30), monotonic=lambda: clock[0])
    peer = Peer(hub, "w")
    peer.subscribe("d")
    doc = Document("w")
    for i in range(7):
        doc.get_counter("n").increment(i)
        peer.push("d", doc.changes(VersionVector({"w": i})))
    held = store.load("d")
    assert held is not None and held.snapshot is not None and len(held.changes) == 1
    assert hub.open_doc_ids == ["d"]
    hub.disconnect(peer.conn)
    # The room lingers: a client that comes back (or polls over HTTP) finds it open.
    clock[0] += 29
    hub.tick()
    assert hub.open_doc_ids == ["d"]
    again = Peer(hub, "w")
    again.subscribe("d")
    hub.disconnect(again.conn)
    clock[0] += 29
    hub.tick()
    assert hub.open_doc_ids == ["d"]  # its linger started again when the last one left
    clock[0] += 2
    hub.tick()
    assert hub.open_doc_ids == []
    held = store.load("d")
    assert held is not None and held.changes == ()  # snapshotted on unload
    assert hub.doc_json("d") == {"n": sum(range(7))}
    assert hub.doc_json("missing") is None


def test_polling_over_http_reads_a_document_from_storage_once(tmp_path: Path) -> None:
    class Counting(SQLiteStore):
        loads = 0

        def load(self, doc_id: str) -> StoredDoc | None:
            Counting.loads += 1
            return super().load(doc_id)

    hub = Hub(Counting(tmp_path / "s.db"))
    writer = Document("w")
    writer.set("k", 1)
    body = encode_http_request(HttpSyncRequest("w", "", changes=writer.changes()))
    hub.exchange(ServerHttpExchange("d", body, max_body_bytes=1 << 20))
    for _ in range(20):
        poll = encode_http_request(HttpSyncRequest("r", "", writer.version().encode()))
        hub.exchange(ServerHttpExchange("d", poll, max_body_bytes=1 << 20))
    assert Counting.loads == 1


def test_lingering_rooms_are_bounded_by_live_docs() -> None:
    hub = Hub(MemoryStore(), limits=Limits(live_docs=3))
    peer = Peer(hub, "a")
    for i in range(10):
        peer.subscribe(f"d{i}")
        peer.send(Unsubscribe(f"d{i}"))
    assert hub.open_doc_ids == ["d7", "d8", "d9"]


def test_storage_failure_means_no_ack(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    hub = Hub(store)
    peer = Peer(hub, "a")
    peer.subscribe("d")
    store.close()  # every later commit fails
    peer.push("d", text_doc("a", "lost?").changes())
    events = peer.received()
    assert not any(isinstance(e, Ack) for e in events)
    errors = [e for e in events if isinstance(e, Error)]
    assert errors and errors[0].code is ErrorCode.INTERNAL and errors[0].retryable
    assert peer.conn.closed  # the room was evicted; the client reconnects and resyncs


def test_doc_too_large_leaves_document_unchanged() -> None:
    store = MemoryStore()
    hub = Hub(store, limits=Limits(max_doc_bytes=500))
    peer = Peer(hub, "a")
    peer.subscribe("d")
    peer.push("d", text_doc("a", "y" * 1000).changes())
    [err] = peer.received()
    assert isinstance(err, Error)
    assert (err.code, err.batch_id, err.fatal) == (ErrorCode.DOC_TOO_LARGE, 1, False)
    assert "500 bytes" in err.message
    assert store.load("d") is None
    assert peer.session.state is State.OPEN


def test_slow_consumer_is_disconnected_with_reason() -> None:
    hub = Hub(MemoryStore(), limits=Limits(max_queue_frames=5))
    writer, lazy = Peer(hub, "w"), Peer(hub, "lazy")
    writer.subscribe("d")
    lazy.subscribe("d")
    doc = Document("w")
    for i in range(10):
        doc.get_counter("n").increment()
        writer.push("d", doc.changes(VersionVector({"w": i})))
        writer.received()  # the writer keeps up
    [frame] = lazy.conn.take_frames()  # the backlog was dropped; only the reason is left
    [event] = lazy.session.receive(frame)
    assert isinstance(event, Error)
    assert event.code is ErrorCode.SLOW_CONSUMER and event.fatal and event.retryable
    assert lazy.conn.closed
    assert lazy.conn not in hub.connections
    assert writer.conn in hub.connections


def test_authentication() -> None:
    hub = Hub(MemoryStore(), authenticate=lambda client, token: token == "s3cret")
    conn = hub.connect()
    session = ClientSession()
    session.send(Hello("mallory", token="guess"))
    for frame in session.data_to_send():
        hub.receive(conn, frame)
    [err] = [e for f in conn.take_frames() for e in session.receive(f)]
    assert isinstance(err, Error) and err.code is ErrorCode.AUTH_FAILED and err.fatal
    assert session.state is State.CLOSED


def test_close_tells_everyone() -> None:
    store = MemoryStore()
    hub = Hub(store)
    peer = Peer(hub, "a")
    peer.subscribe("d")
    peer.push("d", text_doc("a", "keep").changes())
    peer.received()
    hub.close()
    [err] = peer.received()
    assert isinstance(err, Error) and err.code is ErrorCode.SHUTTING_DOWN and err.retryable
    held = store.load("d")
    assert held is not None and held.snapshot is not None
    late = hub.connect()
    assert late.closed


def test_slow_consumer_catches_up_after_reconnecting() -> None:
    from synckit.client import MemoryStore as ClientStore
    from synckit.client import SyncEngine

    hub = Hub(MemoryStore(), limits=Limits(max_queue_frames=8))

    def pump(engine: SyncEngine, conn: Connection, *, read: bool = True) -> None:
        for _ in range(5):
            engine.flush()
            for frame in engine.data_to_send():
                hub.receive(conn, frame)
            if read:
                for frame in conn.take_frames():
                    engine.receive(frame, 0.0)

    writer, lazy = SyncEngine(ClientStore(), "w~1"), SyncEngine(ClientStore(), "l~1")
    wdoc, ldoc = writer.open("d"), lazy.open("d")
    wconn, lconn = hub.connect(), hub.connect()
    writer.connection_made(0.0)
    lazy.connection_made(0.0)
    pump(writer, wconn)
    pump(lazy, lconn)
    for i in range(40):
        wdoc.get_list("l").append(i)
        pump(writer, wconn)
        pump(lazy, lconn, read=False)  # lazy never reads
    pump(lazy, lconn)  # now it reads: the backlog ends with the reason
    assert lazy.last_error is not None and lazy.last_error.code is ErrorCode.SLOW_CONSUMER
    assert lazy.closing
    hub.disconnect(lconn)
    lazy.connection_lost()
    assert ldoc.to_json() != wdoc.to_json()
    lconn = hub.connect()
    lazy.connection_made(1.0)
    pump(lazy, lconn)
    assert ldoc.to_json() == wdoc.to_json() == {"l": list(range(40))}


def test_least_recently_used_documents_are_compacted_and_wake_on_use(tmp_path: Path) -> None:
    hub = Hub(SQLiteStore(tmp_path / "s.db"), limits=Limits(live_docs=2))
    alice, bob = Peer(hub, "alice"), Peer(hub, "bob")
    writers = {d: Document("alice") for d in ("d1", "d2", "d3")}
    for doc_id in writers:
        alice.subscribe(doc_id)
        bob.subscribe(doc_id)
    for doc_id, w in writers.items():
        w.set("n", 1)
        alice.push(doc_id, w.changes())
    rooms = {d: r.logged for d, r in hub.rooms.items() if r.logged is not None}
    assert [d for d in ("d1", "d2", "d3") if rooms[d].doc.compacted] == ["d1"]
    # A push to the compacted document wakes it; the least recently used one is compacted.
    w = writers["d1"]
    since = w.version()
    w.set("n", 2)
    alice.push("d1", w.changes(since))
    assert not rooms["d1"].doc.compacted and rooms["d2"].doc.compacted
    acks = [e for e in alice.received() if isinstance(e, Ack)]
    assert len(acks) == 4
    broadcasts = [e for e in bob.received() if isinstance(e, Broadcast)]
    assert [b.doc_id for b in broadcasts] == ["d1", "d2", "d3", "d1"]
    # Everything is served and stored as if nothing had been compacted.
    assert hub.doc_json("d1") == {"n": 2}
    assert hub.doc_json("d2") == {"n": 1} and not rooms["d2"].doc.compacted
    late = Peer(hub, "late")
    for doc_id, w in writers.items():
        got = Document("late")
        got.apply(late.subscribe(doc_id).changes)
        assert got.to_json() == w.to_json()
    assert sum(not r.doc.compacted for r in rooms.values()) == 2
    hub.close()
    reopened = Hub(SQLiteStore(tmp_path / "s.db"))
    assert [reopened.doc_json(d) for d in ("d1", "d2", "d3")] == [{"n": 2}, {"n": 1}, {"n": 1}]
    reopened.close()


def test_clients_with_nothing_share_one_encoding_until_the_document_changes() -> None:
    hub = Hub(MemoryStore())
    writer = Peer(hub, "writer")
    writer.subscribe("d")
    doc = Document("writer")
    doc.update({f"k{i}": i for i in range(1000)})
    writer.push("d", doc.changes())
    writer.received()
    room = hub.rooms.get("d")
    assert room is not None
    first = Peer(hub, "a").subscribe("d")
    cached = room.whole
    assert cached is not None
    second = Peer(hub, "b").subscribe("d")
    assert room.whole is cached and first.changes == second.changes  # encoded once
    before = doc.version()
    doc.set("k0", "changed")
    writer.push("d", doc.changes(before))
    writer.received()
    third = Peer(hub, "c").subscribe("d")
    # The kept encoding followed by what came since: the document is not encoded whole again.
    assert room.whole is cached and third.changes.startswith(first.changes)
    assert len(third.changes) > len(first.changes)
    fresh = Document()
    fresh.apply(third.changes)
    assert fresh.get("k0") == "changed" and fresh.get("k999") == 999
    # A client that holds part of it gets only what it lacks, as before.
    partial = Peer(hub, "e").subscribe("d", before)
    assert len(partial.changes) < len(third.changes)
    # Once what came since passes a 32nd of the kept bytes, it is encoded whole again.
    for i in range(40):
        before = doc.version()
        doc.set(f"k{i}", f"changed again {i}")
        writer.push("d", doc.changes(before))
        writer.received()
    fourth = Peer(hub, "f").subscribe("d")
    assert room.whole is not cached and not fourth.changes.startswith(first.changes)
    fresh = Document()
    fresh.apply(fourth.changes)
    assert fresh.to_json() == doc.to_json() and fresh.version() == doc.version()


def test_a_push_of_new_operations_only_is_stored_and_broadcast_as_sent() -> None:
    store = MemoryStore()
    hub = Hub(store)
    a, b = Peer(hub, "a"), Peer(hub, "b")
    a.subscribe("d")
    b.subscribe("d")
    doc = Document("a")
    doc.set("k", 1)
    first = doc.changes()
    a.push("d", first)
    doc.set("k", 2)
    doc.set("j", 3)
    # Everything again (the first write is held): the server stores and sends only what is new.
    everything = doc.changes()
    a.push("d", everything)
    assert [type(e) for e in a.received()] == [Ack, Ack]
    casts = b.received()
    assert len(casts) == 2 and all(isinstance(e, Broadcast) for e in casts)
    stored = store.load("d")
    assert stored is not None and len(stored.changes) == 2
    assert stored.changes[0] == first  # all new: kept as pushed, not encoded again
    assert [c.changes for c in casts if isinstance(c, Broadcast)] == list(stored.changes)
    assert stored.changes[1] != everything  # without the repeat of seq 1
    replica = Document("b")
    replica.apply(stored.changes[1])
    assert replica.version() == VersionVector() and replica.waiting == 1  # waits for seq 1
    replica.apply(stored.changes[0])
    assert replica.to_json() == {"k": 2, "j": 3} and replica.waiting == 0


def test_a_push_in_an_odd_encoding_is_passed_on_as_protobuf_writes_it() -> None:
    """The pushed bytes are passed on, not encoded again - but as our protobuf library
    writes them: another client's library, stricter or more lenient with odd encodings,
    must parse exactly what the server parsed."""
    store = MemoryStore()
    hub = Hub(store)
    a, b = Peer(hub, "a"), Peer(hub, "b")
    a.subscribe("d")
    b.subscribe("d")
    doc = Document("a")
    doc.set("k", 1)
    plain = doc.changes()
    # `format` (field 1) said twice, the last one counting; field 2 (clients, a string) once
    # more with a fixed32 wire type, which parsers keep aside as an unknown field.
    odd = bytes([0x08, 99]) + plain + bytes([(2 << 3) | 5, 1, 2, 3, 4])
    assert odd != plain and Document("x").apply(odd) is None
    a.push("d", odd)
    assert [type(e) for e in a.received()] == [Ack]
    [cast] = b.received()
    assert isinstance(cast, Broadcast) and cast.changes == plain
    stored = store.load("d")
    assert stored is not None and list(stored.changes) == [plain]


def test_version_deltas_keep_acks_and_broadcasts_small_in_a_document_of_many_writers() -> None:
    """With the version-deltas capability the server's version in an Ack or Broadcast is what
    grew (Subscribed holds all of it, and the client merges): a document's past writers no
    longer ride on every frame. A client without the capability still gets the whole."""
    hub = Hub(MemoryStore())
    for i in range(120):
        writer = Peer(hub, f"past-writer-{i:03d}")
        writer.subscribe("d")
        doc = Document(f"past-writer-{i:03d}")
        doc.set(f"k{i}", i)
        writer.push("d", doc.changes())
        writer.send(Unsubscribe("d"))
        writer.received()
    new = Peer(hub, "new", capabilities=(VERSION_DELTAS,))
    assert VERSION_DELTAS in new.welcome.capabilities and new.session.version_deltas
    old = Peer(hub, "old")
    assert not old.session.version_deltas
    known = VersionVector.decode(new.subscribe("d").server_version)
    old.subscribe("d")
    assert len(known) == 120

    mine = Document("new")
    mine.apply(hub.rooms.get("d").logged.doc.changes())  # type: ignore[union-attr]
    held = mine.version()
    mine.set("n", 1)
    new.push("d", mine.changes(held))
    [ack] = new.received()
    assert isinstance(ack, Ack)
    assert VersionVector.decode(ack.server_version) == VersionVector({"new": 1})
    assert len(ack.server_version) < 10
    [cast] = old.received()
    assert isinstance(cast, Broadcast)
    assert len(VersionVector.decode(cast.server_version)) == 121  # the whole, as before

    theirs = Document("old")
    theirs.set("o", 1)
    old.push("d", theirs.changes())
    [their_ack] = old.received()
    assert isinstance(their_ack, Ack) and len(VersionVector.decode(their_ack.server_version)) == 122
    [grown] = new.received()
    assert isinstance(grown, Broadcast)
    assert VersionVector.decode(grown.server_version) == VersionVector({"old": 1})
    known = known.merge(VersionVector.decode(ack.server_version))
    known = known.merge(VersionVector.decode(grown.server_version))
    assert known == hub.rooms.get("d").logged.doc.version()  # type: ignore[union-attr]
    hub.close()
