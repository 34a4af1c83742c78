"""How the engine paces its pushes over a WebSocket: one push per document in flight, and the
edits made meanwhile together in the next (against a real Hub, frames moved by hand)."""

from __future__ import annotations

from synckit.client import MemoryStore, SyncEngine
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
