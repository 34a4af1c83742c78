"""Loading a large document with offload (driven by hand): the checks of an untagged snapshot
and of the batches after it run in the worker, which hands back one tagged snapshot; only
that is decoded for the room (by the fast path), and it is stored in place of what it holds,
ahead of every commit pushed while the document loaded."""

from __future__ import annotations

import random
import sqlite3
import zlib
from collections.abc import Callable
from pathlib import Path

from peer import Peer
from test_offload_hub import Builds, drain

from synckit import Document, SnapshotKey
from synckit._logged import LoggedDocument, build_snapshot
from synckit._storage import StoredDoc
from synckit.errors import DecodeError, StorageError
from synckit.protocol import Ack, Error, ErrorCode, Subscribe, Subscribed
from synckit.server import Hub, Limits, SQLiteStore
from synckit.server._observer import HubObserver

KEY = SnapshotKey(b"offload load key, 32 bytes long!")
# Text that does not deflate: its snapshot is over the 1,000 bytes the hub offloads from.
TEXT = "".join(random.Random(5).choices("abcdefghijklmnopqrstuvwxyz ", k=3000))
Restored = Callable[[LoggedDocument | Exception], None]


class CheckingBuilds(Builds):
    """:class:`Builds` whose builds report a DecodeError as the worker does (as the result)."""

    def finish(self, fail: bool = False) -> int:
        done, self.pending = self.pending, []
        for base, batches, key, base_tag, then in done:
            if fail:
                then(StorageError("worker died"))
                continue
            try:
                built = build_snapshot(base, batches, key, base_tag)
            except DecodeError as exc:
                then(exc)
            else:
                then(built)
        return len(done)


class Threads:
    """An ``offload_load`` hook that keeps each load until the test runs it."""

    def __init__(self) -> None:
        self.pending: list[tuple[StoredDoc, bool, SnapshotKey | None, Restored]] = []

    def __call__(
        self, stored: StoredDoc, track: bool, key: SnapshotKey | None, then: Restored
    ) -> None:
        self.pending.append((stored, track, key, then))

    def finish(self) -> list[StoredDoc]:
        done, self.pending = self.pending, []
        for stored, track, key, then in done:
            then(LoggedDocument.restore(stored, track=track, key=key))
        return [stored for stored, *_ in done]


class Loads(HubObserver):
    __slots__ = ("kinds",)

    def __init__(self) -> None:
        self.kinds: list[bool] = []

    def snapshot_loaded(self, tagged: bool) -> None:
        self.kinds.append(tagged)


def _stored(
    path: Path, snapshot: bytes, batches: list[bytes], tag: bytes | None = None, doc_id: str = "d"
) -> None:
    store = SQLiteStore(path, durability="process")
    store.compact(doc_id, snapshot, 0, tag)
    store.append_many([(doc_id, b) for b in batches])
    store.close()


def _big() -> tuple[Document, bytes, list[bytes]]:
    """A document stored as an (untagged) snapshot and two batches after it."""
    doc = Document("a")
    doc.get_text("t").insert(0, TEXT)
    snapshot = doc.save()
    batches = []
    for i in range(2):
        before = doc.version()
        doc.set(f"f{i}", i)
        batches.append(doc.changes(before))
    return doc, snapshot, batches


def _hub(path: Path, ready: bool = True) -> tuple[Hub, SQLiteStore, Builds, Threads, Loads]:
    store = SQLiteStore(path, durability="process")
    builds, threads, loads = CheckingBuilds(), Threads(), Loads()
    hub = Hub(
        None,
        limits=Limits(compact_every=100, offload_bytes=1000, room_linger=0),
        offload=builds,
        offload_load=threads,
        offload_ready=lambda: ready,
        snapshot_key=KEY,
        observer=loads,
    )
    return hub, store, builds, threads, loads


def test_the_worker_checks_an_untagged_load_and_its_snapshot_replaces_the_log(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    doc, snapshot, batches = _big()
    _stored(path, snapshot, batches)
    hub, store, builds, threads, loads = _hub(path)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    assert drain(hub, store) == ["Load"]
    [(base, given, key, base_tag, _)] = builds.pending
    assert (base, given, key, base_tag) == (snapshot, batches, KEY, None)
    # A push arriving while the document loads waits for it.
    writer = Peer(hub, "w")
    writer.send(Subscribe("d"))
    mine = Document("w")
    mine.apply(doc.changes())
    before = mine.version()
    mine.set("late", True)
    writer.push("d", mine.changes(before))
    assert drain(hub, store) == [] and reader.received() == []
    builds.finish()
    assert drain(hub, store) == []  # the decoding of the built snapshot is pending
    [fresh] = threads.finish()
    assert fresh.changes == () and fresh.tag == KEY.tag(fresh.snapshot or b"")
    # The snapshot goes to storage first, then the push's commit.
    assert drain(hub, store) == ["Compact", "Commit"]
    assert any(isinstance(e, Subscribed) for e in reader.received())
    assert any(isinstance(e, Ack) for e in writer.received())
    assert loads.kinds == [False]  # the stored snapshot was checked (in the worker)
    stored = store.load("d")
    assert stored is not None and stored.snapshot == fresh.snapshot and len(stored.changes) == 1
    assert LoggedDocument.restore(stored).doc.to_json() == mine.to_json()
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    # Its size: what is stored, its texts counted decoded (see LoggedDocument.size).
    size = stored.size + room.logged.doc.text_length()
    assert (room.logged.log_count, room.logged.size) == (1, size)
    assert room.logged.base == fresh.snapshot and room.logged.base_tag == fresh.tag
    store.close()
    # Reopened: the tagged snapshot (and the one batch) load without the worker... unless
    # batches follow it: they are applied in the worker too.
    hub, store, builds, threads, loads = _hub(path)
    Peer(hub, "r2").send(Subscribe("d"))
    drain(hub, store)
    assert len(builds.pending) == 1 and builds.pending[0][3] == fresh.tag
    store.close()


def test_before_the_worker_is_up_the_thread_loads_and_the_worker_tags_it_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    doc, snapshot, batches = _big()
    _stored(path, snapshot, batches)
    hub, store, builds, threads, loads = _hub(path, ready=False)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    drain(hub, store)
    assert builds.pending == []  # not waiting for the worker to start
    [given] = threads.finish()
    assert given.snapshot == snapshot and given.changes == tuple(batches)
    assert loads.kinds == [False]
    assert any(isinstance(e, Subscribed) for e in reader.received())
    # Then compacted through the worker (which that starts): the next load is tagged.
    [(base, taken, key, base_tag, _)] = builds.pending
    assert (base, taken, key, base_tag) == (snapshot, batches, KEY, None)
    builds.finish()
    assert drain(hub, store) == ["Compact"]
    stored = store.load("d")
    assert stored is not None and stored.changes == () and stored.tag is not None
    assert LoggedDocument.restore(stored, key=KEY).loaded == "tagged"
    assert LoggedDocument.restore(stored).doc.to_json() == doc.to_json()
    store.close()


def test_a_tagged_snapshot_alone_is_decoded_without_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _, snapshot, _ = _big()
    _stored(path, snapshot, [], KEY.tag(snapshot))
    hub, store, builds, threads, loads = _hub(path)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    drain(hub, store)
    assert builds.pending == [] and len(threads.pending) == 1
    threads.finish()
    assert drain(hub, store) == []  # nothing to store
    assert loads.kinds == [True]
    assert any(isinstance(e, Subscribed) for e in reader.received())
    store.close()


def test_a_hostile_snapshot_is_refused_by_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    a = Document("a")
    text = a.get_text("t")
    text.insert(0, TEXT)
    text.insert(5, " world")
    text.delete(0, 1)
    data = a.save()
    body = data[:-5]
    # A hostile edit only the full checks catch: the version (field 5, a varint) lowered by
    # one below the delete it holds, resealed with a good checksum.
    seq = a.version()[a.client_id]

    def varint(n: int) -> bytes:
        return bytes([(n & 0x7F) | 0x80, n >> 7]) if n >= 0x80 else bytes([n])

    seqs = b"*" + bytes([len(varint(seq))]) + varint(seq)
    assert body.count(seqs) == 1 and len(varint(seq - 1)) == len(varint(seq))
    lowered = body.replace(seqs, b"*" + bytes([len(varint(seq))]) + varint(seq - 1), 1)
    hostile = lowered + b"\x5d" + zlib.crc32(lowered).to_bytes(4, "little")
    # Under a tag of the good bytes, as an attacker that replaced them would leave it.
    _stored(path, hostile, [], KEY.tag(data))
    hub, store, builds, threads, loads = _hub(path)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    drain(hub, store)
    builds.finish()
    assert threads.pending == [] and drain(hub, store) == []
    [error] = reader.received()
    assert isinstance(error, Error) and error.code == ErrorCode.INTERNAL
    assert loads.kinds == []  # nothing was loaded
    stored = store.load("d")
    assert stored is not None and stored.snapshot == hostile  # nothing written
    store.close()


def test_a_worker_that_died_leaves_the_load_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _, snapshot, batches = _big()
    _stored(path, snapshot, batches)
    hub, store, builds, threads, loads = _hub(path)
    reader = Peer(hub, "r")
    reader.send(Subscribe("d"))
    drain(hub, store)
    builds.finish(fail=True)
    [given] = threads.finish()
    assert given.snapshot == snapshot and given.changes == tuple(batches)
    assert drain(hub, store) == []
    assert any(isinstance(e, Subscribed) for e in reader.received())
    assert loads.kinds == [False]
    store.close()


async def test_a_real_server_loads_an_untagged_document_through_its_worker(
    tmp_path: Path,
) -> None:
    from live import ServerProcess, eventually, free_port

    from synckit.client import connect

    data = tmp_path / "d"
    data.mkdir()
    doc, snapshot, batches = _big()
    for doc_id in ("d", "e"):  # untagged, as an earlier release left them
        _stored(data / "synckit.db", snapshot, batches, doc_id=doc_id)
    config = tmp_path / "synckit.toml"
    config.write_text("[limits]\noffload_bytes = 1000\n")
    proc = ServerProcess(data, free_port(), ["--config", str(config)]).start()
    try:
        async with connect(proc.url, client_id="c") as client:
            mine = await client.open("d")
            await eventually(lambda: mine.to_json() == doc.to_json(), what="loaded")

            def retagged(doc_id: str) -> bool:
                # While it runs: what the worker built replaced the snapshot and the batches.
                db = sqlite3.connect(f"{(data / 'synckit.db').as_uri()}?mode=ro", uri=True)
                try:
                    (tag,) = db.execute(
                        "SELECT tag FROM snapshots WHERE doc_id = ?", (doc_id,)
                    ).fetchone()
                    (left,) = db.execute(
                        "SELECT count(*) FROM changes WHERE doc_id = ?", (doc_id,)
                    ).fetchone()
                finally:
                    db.close()
                return tag is not None and left == 0

            # The first: decoded in the thread while the worker starts, then compacted by it.
            await eventually(lambda: retagged("d"), what="d stored tagged")
            # The second, with the worker up: checked and rebuilt there, decoded tagged.
            other = await client.open("e")
            await eventually(lambda: other.to_json() == doc.to_json(), what="e loaded")
            await eventually(lambda: retagged("e"), what="e stored tagged")
            mine.set("after", 1)
            await client.wait_synced(timeout=20)
            expected = mine.to_json()
    finally:
        proc.terminate()
    store = SQLiteStore(data / "synckit.db")
    try:
        stored = store.load("d")
        assert stored is not None and stored.snapshot is not None and stored.tag is not None
        key = SnapshotKey(store.snapshot_key())
        restored = LoggedDocument.restore(stored, key=key)
        assert restored.loaded == "tagged" and restored.doc.to_json() == expected
    finally:
        store.close()


async def test_the_load_thread_decodes_what_a_tagged_load_defers(tmp_path: Path) -> None:
    """A tagged snapshot's texts are decoded lazily, at the first edit: on the event loop that
    was the first push's merge (294 ms for 5.5 million characters). The server's load thread
    decodes them before handing the document over."""
    import asyncio

    from synckit.server._offload import Offloader

    _, snapshot, _ = _big()
    lazy = LoggedDocument.restore(StoredDoc(snapshot, (), tag=KEY.tag(snapshot)), key=KEY)
    assert lazy.loaded == "tagged" and lazy.doc._texts["t"]._lazy is not None  # (by itself)
    offloader = Offloader()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[LoggedDocument | Exception] = loop.create_future()
    offloader.restore(StoredDoc(snapshot, (), tag=KEY.tag(snapshot)), True, KEY, done.set_result)
    logged = await asyncio.wait_for(done, 30)
    offloader.close()
    assert isinstance(logged, LoggedDocument) and logged.loaded == "tagged"
    assert logged.doc._texts["t"]._lazy is None
    assert str(logged.doc.get_text("t")) == TEXT


async def test_loads_are_decoded_one_at_a_time_on_one_thread(tmp_path: Path) -> None:
    """A decode holds the interpreter's lock for much of its time: several at once (the
    default executor ran up to six) left the event loop a sixth of it, and a subscriber
    opening 30 large documents at once held an honest writer up to 1.7 s. One thread
    decodes them, one after another."""
    import asyncio
    import threading

    from synckit.server import _offload
    from synckit.server._offload import Offloader

    _, snapshot, _ = _big()
    seen: list[tuple[str, int]] = []  # (thread, decodes running) at each start
    running = [0]
    lock = threading.Lock()
    real = _offload._restore_decoded

    def counting(stored: StoredDoc, track: bool, key: SnapshotKey | None) -> LoggedDocument:
        with lock:
            running[0] += 1
            seen.append((threading.current_thread().name, running[0]))
        try:
            return real(stored, track, key)
        finally:
            with lock:
                running[0] -= 1

    _offload._restore_decoded = counting
    offloader = Offloader()
    try:
        loop = asyncio.get_running_loop()
        results: list[asyncio.Future[LoggedDocument | Exception]] = []
        for _ in range(4):
            done: asyncio.Future[LoggedDocument | Exception] = loop.create_future()
            offloader.restore(StoredDoc(snapshot, ()), True, None, done.set_result)
            results.append(done)
        loaded = await asyncio.wait_for(asyncio.gather(*results), 60)
    finally:
        _offload._restore_decoded = real
        offloader.close()
    assert all(isinstance(r, LoggedDocument) for r in loaded)
    assert len(seen) == 4 and {n for _, n in seen} == {1}  # never two at once
    assert len({name for name, _ in seen}) == 1 and seen[0][0].startswith("synckit-load")


async def test_a_sqlite_load_is_read_off_the_event_loop(tmp_path: Path) -> None:
    """The server's SQLite store read each document on the event loop: 30 documents of
    6.6 MB held it about 15 ms each. It reads on a worker thread now, on a connection of its
    own, and sees every commit made before."""
    import asyncio
    import threading

    from synckit.server import InlineStore

    threads: list[str] = []

    class Recording(SQLiteStore):
        def load_isolated(self, doc_id: str) -> StoredDoc | None:
            threads.append(threading.current_thread().name)
            return super().load_isolated(doc_id)

    store = InlineStore(Recording(tmp_path / "synckit.db"))
    doc = Document("w")
    doc.get_text("t").insert(0, TEXT)
    await store.append_many([("d", doc.changes())])
    stored = await store.load("d")
    assert stored is not None and len(stored.changes) == 1
    assert threads and threads[0] != threading.current_thread().name
    assert await asyncio.wait_for(store.load("nothing"), 10) is None
    await store.close()
