"""How the engine paces its pushes over a WebSocket: one push per document in flight, and the
edits made meanwhile together in the next (against a real Hub, frames moved by hand)."""

from __future__ import annotations

from synckit.client import MemoryStore, SyncEngine
from synckit.errors import StorageError
from synckit.protocol import Ack, Push, decode_frame
from synckit.server import Connection, Hub
from synckit.server import MemoryStore as ServerStore


def pushes(frames: list[bytes]) -> list[Push]:
    return [e for e in (decode_frame(f) for f in frames) if isinstance(e, Push)]


def exchange(hub: Hub, conn: Connection, engine: SyncEngine, frames: list[bytes]) -> list[bytes]:
    """Give ``frames`` to the hub, its answers to the engine; returns the answers."""
    for frame in frames:
        hub.receive(conn, frame)
    answers = conn.take_frames()
    for frame in answers:
        engine.receive(frame, 0.0)
    return answers


def test_edits_made_while_a_push_is_out_go_together_in_the_next_one() -> None:
    hub = Hub(ServerStore())
    conn = hub.connect()
    engine = SyncEngine(MemoryStore(), "writer~1")
    doc = engine.open("d")
    engine.connection_made(0.0)
    for _ in range(3):  # Hello -> Welcome, Subscribe -> Subscribed
        exchange(hub, conn, engine, engine.data_to_send())
    assert engine.online

    doc.set("n", 0)
    engine.flush()
    first = engine.data_to_send()
    assert len(pushes(first)) == 1
    for n in range(1, 50):  # the first push is not acknowledged yet
        doc.set("n", n)
        doc.get_counter("edits").increment()
        engine.flush()
        assert pushes(engine.data_to_send()) == []

    answers = exchange(hub, conn, engine, first)
    assert any(isinstance(decode_frame(f), Ack) for f in answers)
    second = engine.data_to_send()  # the Ack let out everything held back, in one push
    [push] = pushes(second)
    assert push.batch_id != pushes(first)[0].batch_id
    exchange(hub, conn, engine, second)
    engine.flush()
    assert pushes(engine.data_to_send()) == []
    assert hub.doc_json("d") == {"n": 49, "edits": 49}
    assert engine.unsynced() == []
    assert engine.acked_pushes == 2


class RecordingStore(MemoryStore):
    """A memory store that records its appends and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[str] = []
        self.failing = False

    def append(self, doc_id: str, changes: bytes) -> None:
        if self.failing:
            raise StorageError(f"cannot store {doc_id!r}: disk full")
        self.appends.append(doc_id)
        super().append(doc_id, changes)


def _online(store: MemoryStore) -> tuple[Hub, Connection, SyncEngine, list[int]]:
    """An engine that stores each turn's edits when told to (``store_soon`` only counts)."""
    hub = Hub(ServerStore())
    conn = hub.connect()
    engine = SyncEngine(store, "writer~1")
    asked: list[int] = []
    engine.store_soon = lambda: asked.append(1)
    engine.open("d")
    engine.connection_made(0.0)
    for _ in range(3):  # Hello -> Welcome, Subscribe -> Subscribed
        exchange(hub, conn, engine, engine.data_to_send())
    return hub, conn, engine, asked


def test_a_burst_of_edits_is_stored_as_one_append_before_it_is_sent() -> None:
    store = RecordingStore()
    hub, conn, engine, asked = _online(store)
    doc = engine.document("d")
    assert doc is not None
    for n in range(100):
        doc.set("n", n)
    assert store.appends == [] and asked == [1]  # noted once; nothing stored, nothing sent
    assert pushes(engine.data_to_send()) == []
    engine.flush()  # the push stores first
    assert store.appends == ["d"]
    sent = engine.data_to_send()
    assert len(pushes(sent)) == 1
    exchange(hub, conn, engine, sent)
    assert hub.doc_json("d") == {"n": 99} and engine.unsynced() == []
    doc.set("n", 100)
    assert engine.store_pending() and store.appends == ["d", "d"] and asked == [1, 1]
    assert SyncEngine(store, "writer~1").open("d").get("n") == 100


def test_a_remote_change_stores_the_local_edits_noted_before_it() -> None:
    """A remote apply marks everything the document holds as stored: the noted local edits
    are appended first, so none is lost from the store."""
    store = RecordingStore()
    hub, conn, engine, _ = _online(store)
    other = hub.connect()
    peer = SyncEngine(MemoryStore(), "peer~1")
    peer.open("d")
    peer.connection_made(0.0)
    for _ in range(3):
        exchange(hub, other, peer, peer.data_to_send())
    doc = engine.document("d")
    assert doc is not None
    doc.set("mine", 1)  # noted, not stored
    peer_doc = peer.document("d")
    assert peer_doc is not None
    peer_doc.set("theirs", 2)
    peer.store_pending()
    peer.flush()
    exchange(hub, other, peer, peer.data_to_send())
    for frame in conn.take_frames():  # the broadcast reaches the engine before its turn ends
        engine.receive(frame, 0.0)
    assert store.appends[0] == "d"  # the local edit went in before the remote one
    reopened = SyncEngine(store, "writer~1").open("d")
    assert reopened.to_json() == {"mine": 1, "theirs": 2}


def test_edits_a_failing_store_cannot_keep_are_not_sent() -> None:
    store = RecordingStore()
    hub, conn, engine, _ = _online(store)
    doc = engine.document("d")
    assert doc is not None
    store.failing = True
    doc.set("n", 1)
    assert not engine.store_pending()
    assert isinstance(engine.store_failure, StorageError)
    engine.flush()
    assert pushes(engine.data_to_send()) == []  # nothing unstored goes out
    store.failing = False
    engine.flush()  # tried again: stored, then pushed
    assert engine.store_failure is None and store.appends == ["d"]
    exchange(hub, conn, engine, engine.data_to_send())
    assert hub.doc_json("d") == {"n": 1}
