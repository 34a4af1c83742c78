"""The client without a server, and its store: identity, persistence, waits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from synckit.client import MemoryStore, SQLiteStore, SyncEngine, connect, sync_url
from synckit.errors import StorageError, SyncTimeoutError
from synckit.protocol import Hello, ServerSession, Subscribe, Welcome, decode_frame

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def test_sync_url() -> None:
    assert sync_url("http://h:8080") == "ws://h:8080/v1/sync"
    assert sync_url("https://h/base/") == "wss://h/base/v1/sync"
    assert sync_url("ws://h/v1/sync") == "ws://h/v1/sync"
    with pytest.raises(ValueError, match="URL"):
        sync_url("ftp://h")
    with pytest.raises(ValueError, match="URL"):
        sync_url("localhost:8080")


def test_actor_ids_differ_per_store_incarnation(tmp_path: Path) -> None:
    a, b = MemoryStore(), MemoryStore()
    assert a.actor_id("me") != b.actor_id("me")
    assert a.actor_id("me") == a.actor_id("me")
    assert a.actor_id("me").startswith("me~")
    path = tmp_path / "c.db"
    first = SQLiteStore(path)
    actor = first.actor_id("me")
    assert first.actor_id("you") != actor
    first.close()
    again = SQLiteStore(path)
    assert again.actor_id("me") == actor  # the same file continues the same actor
    again.close()
    path.unlink()
    fresh = SQLiteStore(path)  # a deleted file is a new incarnation
    assert fresh.actor_id("me") != actor
    fresh.close()


def test_store_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    held = SQLiteStore(tmp_path / "c.db")
    with pytest.raises(StorageError, match="in use"):
        SQLiteStore(tmp_path / "c.db")
    held.close()
    SQLiteStore(tmp_path / "c.db").close()


def test_edits_persist_and_seqs_continue(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    actor = store.actor_id("me")
    engine = SyncEngine(store, actor, compact_every=3)
    doc = engine.open("notes")
    for i in range(7):
        doc.get_list("l").append(i)
    doc.get_text("t").insert(0, "kept")
    version = doc.version()
    engine.close()
    store.close()

    store = SQLiteStore(path)
    engine = SyncEngine(store, store.actor_id("me"))
    again = engine.open("notes")
    assert again.to_json() == {"l": list(range(7)), "t": "kept"}
    assert again.version() == version
    again.get_counter("n").increment()
    assert again.version()[actor] == version[actor] + 1  # no seq is reused
    store.close()


def test_unsynced_until_acknowledged() -> None:
    engine = SyncEngine(MemoryStore(), "me~1")
    doc = engine.open("d")
    assert engine.unsynced() == []  # nothing written yet
    doc.get_counter("n").increment()
    assert engine.unsynced() == ["d"]


def test_engine_speaks_first_and_subscribes_after_welcome() -> None:
    engine = SyncEngine(MemoryStore(), "me~1", token="tok")
    engine.open("a")
    engine.connection_made(0.0)
    [hello] = engine.data_to_send()
    assert decode_frame(hello) == Hello("me~1", "tok", ("presence", "version-deltas"))
    srv = ServerSession()
    srv.receive(hello)
    srv.send(Welcome())
    for frame in srv.data_to_send():
        engine.receive(frame, 0.1)
    assert engine.online
    [sub] = engine.data_to_send()
    got = srv.receive(sub)
    assert len(got) == 1 and isinstance(got[0], Subscribe) and got[0].doc_id == "a"


def test_engine_gives_up_on_a_silent_server() -> None:
    engine = SyncEngine(MemoryStore(), "me~1", response_timeout=1.0, ping_interval=0.5)
    engine.connection_made(0.0)
    assert engine.tick(0.5)  # waiting for the Welcome, not yet overdue
    assert not engine.tick(1.6)


async def test_connect_never_waits_on_the_network(tmp_path: Path) -> None:
    start = time.monotonic()
    async with connect(NOWHERE, store=tmp_path / "c.db") as client:
        doc = await client.open("d")
        doc.get_text("t").insert(0, "offline")
        assert not client.online
        with pytest.raises(SyncTimeoutError, match="offline"):
            await client.wait_synced(timeout=0.2)
        with pytest.raises(ValueError, match="document id"):
            await client.open("no spaces")
    assert time.monotonic() - start < 2


async def test_wait_synced_returns_at_once_without_local_edits() -> None:
    async with connect(NOWHERE) as client:
        await client.open("d")
        await asyncio.wait_for(client.wait_synced(timeout=1), 1)


def test_a_rolled_back_store_is_detected_not_silently_dropped() -> None:
    from synckit.protocol import ErrorCode
    from synckit.server import Hub
    from synckit.server import MemoryStore as ServerStore

    hub = Hub(ServerStore())

    def sync(engine: SyncEngine) -> None:
        conn = hub.connect()
        engine.connection_made(0.0)
        for _ in range(10):
            engine.flush()
            for frame in engine.data_to_send():
                hub.receive(conn, frame)
            for frame in conn.take_frames():
                engine.receive(frame, 0.0)
        hub.disconnect(conn)
        engine.connection_lost()

    first = SyncEngine(MemoryStore(), "phone~1")
    doc = first.open("d")
    doc.get_list("l").append("a")
    doc.get_list("l").append("b")
    sync(first)
    assert hub.doc_json("d") == {"l": ["a", "b"]}
    # The same actor id over an older (here: empty) copy of its store, as after a restore.
    restored = SyncEngine(MemoryStore(), "phone~1")
    again = restored.open("d")
    again.get_list("l").append("lost?")  # reuses seq 1
    sync(restored)
    error = restored.sync_error()
    assert error is not None and error.code is ErrorCode.EQUIVOCATION
    assert "restored" in error.message
    assert hub.doc_json("d") == {"l": ["a", "b"]}  # nothing wrong was stored
