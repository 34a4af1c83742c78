"""PostgresStore against a real PostgreSQL: the log, compaction (alone and with two servers
writing one document at once), views, actors and access rules."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from synckit import Document, VersionVector
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.errors import LimitExceededError, StorageError
from synckit.server import InlineStore, PostgresStore, SQLiteStore, SyncServer, create_app


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = await PostgresStore.connect(pg_url, max_size=4)
    try:
        yield s
    finally:
        await s.close()


async def test_append_compact_load(store: PostgresStore) -> None:
    assert await store.load("d") is None
    for batch in (b"a", b"bb", b"ccc"):
        await store.append_many([("d", batch)])
    await store.append_many([("other", b"x")])
    assert await store.load("d") == StoredDoc(None, (b"a", b"bb", b"ccc"))
    await store.compact("d", b"SNAP", 2)  # the batch after the covered two stays
    held = await store.load("d")
    assert held == StoredDoc(b"SNAP", (b"ccc",))
    assert held is not None and held.size == 7
    await store.compact("d", b"S2", 5)  # covering more than is there empties the log
    assert await store.load("d") == StoredDoc(b"S2", ())
    assert await store.read("other") == StoredDoc(None, (b"x",))
    assert await store.doc_ids() == ["d", "other"]
    assert await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'") == 3


async def test_same_results_as_sqlite_for_one_writer(store: PostgresStore, tmp_path: Path) -> None:
    """One server alone: every load after random appends, loads and compactions equals
    what SQLiteStore returns for the same calls. (Each commit holds at most one batch per
    document here, so that every log row holds one batch and a compaction never covers part
    of one: test_postgres_grouped_rows covers rows of several batches.)"""
    sqlite = InlineStore(SQLiteStore(tmp_path / "s.db"))
    rnd = random.Random(11)
    docs = ["a", "b", "Z", "é"]
    count = dict.fromkeys(docs, 0)  # what the server would count since its last snapshot
    try:
        for step in range(300):
            doc = rnd.choice(docs)
            roll = rnd.random()
            if roll < 0.6:
                n = rnd.randint(1, 4)
                batches = [(d, f"{step}.{i}".encode()) for i, d in enumerate(rnd.sample(docs, n))]
                for d, _ in batches:
                    count[d] += 1
                await store.append_many(batches)
                await sqlite.append_many(batches)
            elif roll < 0.85:
                covered = rnd.randint(0, count[doc])
                snap = f"snap{step}".encode()
                await store.compact(doc, snap, covered)
                await sqlite.compact(doc, snap, covered)
                count[doc] -= covered
            else:
                held = await store.load(doc)
                assert held == await sqlite.load(doc)
                count[doc] = 0 if held is None else len(held.changes)
        for doc in docs:
            assert await store.load(doc) == await sqlite.load(doc)
        assert await store.doc_ids() == await sqlite.doc_ids()
    finally:
        await sqlite.close()


async def test_compaction_keeps_another_servers_batches(pg_url: str) -> None:
    """Server A's snapshot covers what A loaded and wrote, not B's batch written in between:
    deleting by count would lose B's; by id keeps it. B, compacting after A, merges A's
    snapshot into its own."""
    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    try:
        wa, wb = Document("wa"), Document("wb")
        wa.set("x", 1)
        await a.append_many([("d", wa.changes())])
        doc_a = LoggedDocument.restore(await a.load("d"))
        doc_b = LoggedDocument.restore(await b.load("d"))
        assert doc_a.log_count == doc_b.log_count == 1
        seen = wb.version()
        wb.set("y", 2)
        await b.append_many([("d", wb.changes(seen))])  # B's batch lands between A's
        seen = wa.version()
        wa.set("z", 3)
        batch = wa.changes(seen)
        await a.append_many([("d", batch)])
        doc_a.doc.apply(batch)
        doc_a.appended(len(batch))
        await a.compact("d", *doc_a.snapshot()[:2])  # covers 2 of the 3 entries
        left = await a.read("d")
        assert left is not None and len(left.changes) == 1  # B's batch is still there
        assert LoggedDocument.restore(left).doc.to_json() == {"x": 1, "y": 2, "z": 3}
        # B never saw A's snapshot (nor "z"): its compaction merges it in.
        doc_b.doc.apply(await_changes(left))
        await b.compact("d", doc_b.doc.save(), 2)
        final = await b.read("d")
        assert final is not None and final.changes == ()
        assert LoggedDocument.restore(final).doc.to_json() == {"x": 1, "y": 2, "z": 3}
    finally:
        await a.close()
        await b.close()


def await_changes(stored: StoredDoc) -> bytes:
    """The one batch left in a stored log."""
    (batch,) = stored.changes
    return batch


async def _writer(
    store: PostgresStore,
    doc_id: str,
    name: str,
    edits: int,
    every: int,
    rnd: random.Random,
    acked: dict[str, VersionVector],
) -> Document:
    """One server's part: its document (loaded, then its own batches) compacted every
    ``every`` batches; returns the writer whose changes it appended."""
    logged = LoggedDocument.restore(await store.load(doc_id))
    writer = Document(name)
    for i in range(edits):
        seen = writer.version()
        writer.get_list("items").append(f"{name}{i}")
        writer.get_counter("n").increment(1)
        if rnd.random() < 0.3:
            writer.get_text("t").insert(0, name[-1])
        batch = writer.changes(seen)
        await store.append_many([(doc_id, batch)])
        acked[name] = writer.version()
        logged.doc.apply(batch)
        logged.appended(len(batch))
        if logged.compaction_due(every):
            snapshot, covered, size = logged.snapshot()
            await store.compact(doc_id, snapshot, covered)
            logged.compacted(snapshot, covered, size)
        if rnd.random() < 0.2:
            await asyncio.sleep(rnd.random() / 1000)
    return writer


async def _check_acked(
    store: PostgresStore, doc_id: str, acked: dict[str, VersionVector], done: asyncio.Event
) -> int:
    """Until ``done``: read the document and check it holds every acknowledged change."""
    reads = 0
    while not done.is_set():
        expected = dict(acked)
        stored = await store.read(doc_id)
        version = LoggedDocument.restore(stored).doc.version()
        for name, vv in expected.items():
            assert version.dominates(vv), f"{name}: {version!r} lacks {vv!r}"
        reads += 1
    return reads


async def test_two_servers_append_and_compact_one_document_at_once(pg_url: str) -> None:
    """Two stores on one database write one document concurrently, each compacting every few
    batches: a fresh load holds every change, and every appended batch is either still in the
    log or was folded into the snapshot exactly once."""
    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    c = await PostgresStore.connect(pg_url)
    rnd = random.Random(7)
    edits = 120
    acked: dict[str, VersionVector] = {}
    done = asyncio.Event()
    try:
        checker = asyncio.create_task(_check_acked(c, "d", acked, done))
        writers = await asyncio.gather(
            _writer(a, "d", "wa", edits, 5, rnd, acked),
            _writer(b, "d", "wb", edits, 7, rnd, acked),
            _writer(a, "e", "ea", 30, 4, rnd, {}),
        )
        done.set()
        assert await checker > 10
        expected = Document("check")
        for w in writers[:2]:
            expected.merge(w)
        stored = await a.read("d")
        assert stored is not None
        got = LoggedDocument.restore(stored).doc
        assert got.to_json() == expected.to_json()
        assert got.version() == expected.version()
        assert len(got.get_list("items")) == 2 * edits  # nothing twice, nothing lost
        covered = await a.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'")
        assert covered + len(stored.changes) == 2 * edits
        assert len(set(stored.changes)) == len(stored.changes)
        # What is left in the log is exactly what the two servers have not compacted yet.
        ids = await a.fetchval("SELECT array_agg(id ORDER BY id) FROM changes WHERE doc_id='d'")
        pending = sorted(row.id for s in (a, b) for row in s._known["d"].ids)
        assert list(ids or []) == pending
    finally:
        done.set()
        for s in (a, b, c):
            await s.close()


async def test_views_commit_with_the_batches(store: PostgresStore) -> None:
    view = json.dumps({"title": "Plan", "tags": ["a", "b"], "n": 3})
    await store.append_many([("p1", b"one")], views={"p1": view})
    await store.append_many([("p2", b"two")], views={"p2": '{"title": "Other", "n": 5}'})
    await store.append_many([("p1", b"three")], views={"p1": '{"title": "Plan B", "n": 4}'})
    titles = await store.fetchval(
        "SELECT array_agg(view->>'title' ORDER BY doc_id) FROM views WHERE (view->>'n')::int > 3"
    )
    assert titles == ["Plan B", "Other"]
    # All or nothing: a view that is not JSON fails the batches with it.
    with pytest.raises(StorageError, match=r"cannot commit changes to 'p1', 'p3'"):
        await store.append_many([("p3", b"lost")], views={"p1": "{not json"})
    assert await store.read("p3") is None
    assert await store.load("p1") == StoredDoc(None, (b"one", b"three"))


async def test_claim_actor(pg_url: str) -> None:
    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    try:
        assert await a.claim_actor("c1", "alice") == "alice"
        assert await b.claim_actor("c1", "bob") == "alice"
        assert await a.claim_actor("c2", "alice", 2) == "alice"
        with pytest.raises(LimitExceededError, match="already owns 2 client ids"):
            await b.claim_actor("c3", "alice", 2)
        assert await b.claim_actor("c1", "alice", 2) == "alice"  # known ids always pass
        # Concurrent claims on two servers: one owner per id, and never beyond the limit.
        results = await asyncio.gather(
            *(s.claim_actor(f"x{i}", "carol", 5) for i in range(12) for s in (a, b)),
            return_exceptions=True,
        )
        owners = [r for r in results if isinstance(r, str)]
        assert all(r == "carol" or isinstance(r, LimitExceededError) for r in results)
        assert await a.fetchval("SELECT count(*) FROM actors WHERE principal = 'carol'") == 5
        assert len(owners) >= 5
    finally:
        await a.close()
        await b.close()


async def test_access_rules(store: PostgresStore) -> None:
    assert await store.access_rules() == {}
    await store.set_access_rules("alice", '{"a/*": "write"}')
    await store.set_access_rules("alice", '{"a/*": "read"}')
    await store.set_access_rules("bob", '{"*": "admin"}')
    await store.set_access_rules("bob", None)
    assert await store.access_rules() == {"alice": '{"a/*": "read"}'}


async def test_unreachable_database_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"cannot connect to PostgreSQL at .*:\*\*\*@"):
        await PostgresStore.connect("postgresql://u:secret@127.0.0.1:1/none")
    lazy = PostgresStore("postgresql://u@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="cannot connect"):
        await lazy.load("d")
    await lazy.close()
    with pytest.raises(StorageError, match="closed"):
        await lazy.load("d")


async def test_server_app_on_a_lazy_store(pg_url: str) -> None:
    """``create_app`` takes the store unopened; the app's lifespan opens it in its loop."""
    store = PostgresStore(pg_url)
    app = create_app(store)
    server: SyncServer = app.state.synckit
    await server.start()
    assert store._pool is not None
    await server.aclose()
    assert store._pool is None


async def test_an_append_draws_its_ids_only_once_it_holds_the_lock(
    store: PostgresStore, pg_url: str
) -> None:
    """A commit is one statement; its log row ids must still be drawn after the document's
    append lock is held, so ids commit in ascending order (what catch-up relies on). Another
    transaction holds that lock, the append waits; the holder then draws an id and commits:
    the append's id must come after it, and its view must be written after the holder's."""
    import asyncpg

    from synckit.server._postgres import _append_key

    await store.append_many([("d", b"first")], {"d": '{"n": 1}'})
    holder = await asyncpg.connect(pg_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1)", _append_key("d"))
        append = asyncio.create_task(store.append_many([("d", b"second")], {"d": '{"n": 3}'}))
        await asyncio.sleep(0.3)
        assert not append.done(), "the append did not wait for the document's lock"
        held_id = await holder.fetchval(
            "INSERT INTO changes (doc_id, data) VALUES ('d', 'held') RETURNING id"
        )
        await holder.execute("UPDATE views SET view = '{\"n\": 2}' WHERE doc_id = 'd'")
        await tx.commit()
        await asyncio.wait_for(append, 10)
        rows = await holder.fetch("SELECT id, data FROM changes WHERE doc_id = 'd' ORDER BY id")
        assert [bytes(r["data"]) for r in rows] == [b"first", b"held", b"second"]
        assert rows[1]["id"] == held_id
        view = await holder.fetchval("SELECT view::text FROM views WHERE doc_id = 'd'")
        assert json.loads(view) == {"n": 3}
    finally:
        await holder.close()


async def test_an_append_that_waited_for_a_deletion_stores_nothing(
    store: PostgresStore, pg_url: str
) -> None:
    """The deletion holds the document's append lock; an append queued behind it must see the
    tombstone committed meanwhile (its statement's snapshot is taken after the lock is held),
    store nothing for that document and say so, and still store the other document."""
    import asyncpg

    from synckit.server._postgres import _append_key

    await store.append_many([("gone", b"before")])
    holder = await asyncpg.connect(pg_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1)", _append_key("gone"))
        append = asyncio.create_task(
            store.append_many([("gone", b"after"), ("kept", b"k")], {"gone": "{}", "kept": "{}"})
        )
        await asyncio.sleep(0.3)
        assert not append.done()
        await holder.execute("INSERT INTO tombstones (doc_id, principal) VALUES ('gone', 'x')")
        await holder.execute("DELETE FROM changes WHERE doc_id = 'gone'")
        await tx.commit()
        dead = await asyncio.wait_for(append, 10)
        assert dead == frozenset({"gone"})
        assert await holder.fetchval("SELECT count(*) FROM changes WHERE doc_id = 'gone'") == 0
        assert await holder.fetchval("SELECT count(*) FROM views WHERE doc_id = 'gone'") == 0
        assert await store.load("kept") == StoredDoc(None, (b"k",))
    finally:
        await holder.close()
