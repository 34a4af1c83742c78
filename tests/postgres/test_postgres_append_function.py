"""A commit in one round trip (schema version 4, ``synckit_append``): one statement per
commit, all or nothing; a commit of many pushes to one document reloads to the document
the server held, and compaction counts its batches; a database written at schema version 3
migrates and keeps its data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pgtest import run_sync

from synckit import Document
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.errors import StorageError
from synckit.server import PostgresStore
from synckit.server._migrate import migrations, schema_version


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = await PostgresStore.connect(pg_url, max_size=1)
    try:
        yield s
    finally:
        await s.close()


async def test_a_commit_is_one_statement(store: PostgresStore) -> None:
    """Every query the pool's one connection runs during append_many is logged (after a
    first commit, which prepares the statement): one per commit, the function call, whatever
    the number of documents and batches; giving the connection back to the pool costs no
    query either (the store leaves no session state to reset)."""
    await store.append_many([("a", b"0")])
    pool = await store._get_pool()
    seen: list[str] = []

    def log(record: asyncpg.connection.LoggedQuery) -> None:
        seen.append(record.query)

    async with pool.acquire() as conn:
        conn.add_query_logger(log)
    try:
        await store.append_many(
            [("a", b"1"), ("b", b"2"), ("a", b"3")], {"a": '{"n": 1}', "b": "{}"}
        )
        await store.append_many([("a", b"4")])
    finally:
        async with pool.acquire() as conn:
            conn.remove_query_logger(log)
    assert len(seen) == 2, seen
    assert all("synckit_append" in q for q in seen)
    assert await store.read("a") == StoredDoc(None, (b"0", b"1", b"3", b"4"))
    assert await store.read("b") == StoredDoc(None, (b"2",))
    assert json.loads(await store.fetchval("SELECT view::text FROM views WHERE doc_id = 'a'")) == {
        "n": 1
    }


async def test_queries_of_the_caller_leave_no_session_state(store: PostgresStore) -> None:
    """The pool does not reset the store's own connections; fetchval, which runs the caller's
    queries, does: a setting or a session lock it leaves is gone for the next user of the
    pool's one connection."""
    await store.fetchval("SELECT set_config('application_name', 'left-over', false)")
    await store.fetchval("SELECT pg_advisory_lock(42)")
    assert await store.fetchval("SHOW application_name") != "left-over"
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    assert await store.fetchval(held) == 0
    await store.append_many([("a", b"1")])
    assert await store.read("a") == StoredDoc(None, (b"1",))


async def test_a_failing_commit_stores_nothing_and_releases_its_locks(
    store: PostgresStore, pg_url: str
) -> None:
    """A commit fails after its rows were inserted (a view that is not JSON: the server
    never sends one, a backend's refusal stands for any failure): no batch and no view of it
    is stored, and the append lock it held is free again (a later commit, from another
    connection, goes through at once)."""
    await store.append_many([("d", b"kept")], {"d": '{"v": 1}'})
    with pytest.raises(StorageError, match="cannot commit changes"):
        await store.append_many([("d", b"lost"), ("e", b"lost")], {"d": "{not json", "e": "{}"})
    assert await store.read("d") == StoredDoc(None, (b"kept",))
    assert await store.read("e") is None
    assert await store.fetchval("SELECT view->>'v' FROM views WHERE doc_id = 'd'") == "1"
    other = await PostgresStore.connect(pg_url)
    try:
        await other.append_many([("d", b"next")])
        assert await other.load("d") == StoredDoc(None, (b"kept", b"next"))
    finally:
        await other.close()


def _edits(doc: Document, n: int) -> list[bytes]:
    """n pushes of one writer, each setting one of seven keys."""
    out = []
    for i in range(n):
        before = doc.version()
        doc.set(f"k{i % 7}", i)
        out.append(doc.changes(before))
    return out


async def test_a_commit_of_many_pushes_reloads_to_the_same_document(
    store: PostgresStore, pg_url: str
) -> None:
    """A commit of 100 pushes to one document (and 3 to another, interleaved), then one of
    50: another server loads exactly the server's document; compactions covering part of a
    row, a row's end, and everything count the covered batches right, and every reload
    still equals the document."""
    writer = Document("w")
    pushes = _edits(writer, 150)
    side = Document("s")
    side_pushes = _edits(side, 3)
    first = [("d", b) for b in pushes[:100]]
    first[10:10] = [("e", side_pushes[0])]
    first[50:50] = [("e", b) for b in side_pushes[1:]]
    await store.append_many(first)
    await store.append_many([("d", b) for b in pushes[100:]])
    rows = await store.fetchval(
        "SELECT array_agg(coalesce(cardinality(batches), 1) ORDER BY id) FROM changes "
        "WHERE doc_id = 'd'"
    )
    assert list(rows) == [100, 50]

    async def reloads_equal() -> None:
        other = await PostgresStore.connect(pg_url)
        try:
            loaded = LoggedDocument.restore(await other.load("d")).doc
            assert loaded.to_json() == writer.to_json()
            assert loaded.version() == writer.version()
            side_loaded = LoggedDocument.restore(await other.load("e")).doc
            assert side_loaded.to_json() == side.to_json()
        finally:
            await other.close()

    await reloads_equal()
    server_doc = LoggedDocument.restore(await store.load("d")).doc
    assert server_doc.to_json() == writer.to_json()
    covered = 0
    for step in (37, 63, 49, 1):  # inside row 1, its end, inside row 2, its end
        await store.compact("d", writer.save(), step)
        covered += step
        kept = await store.fetchval(
            "SELECT coalesce(sum(coalesce(cardinality(batches), 1)), 0) FROM changes "
            "WHERE doc_id = 'd'"
        )
        # A row goes once its last batch is covered; the snapshot counts what went.
        expected_kept = 150 - (100 if covered >= 100 else 0) - (50 if covered >= 150 else 0)
        assert kept == expected_kept
        assert (
            await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'")
            == 150 - expected_kept
        )
        await reloads_equal()
    assert await store.read("d") == StoredDoc(writer.save(), ())


async def test_a_schema_version_3_database_migrates_and_keeps_its_data(pg_url: str) -> None:
    """A database at schema version 3, written as its servers wrote it (rows of one batch and
    of several, a snapshot with its covered count, views, a tombstone): the store migrates
    it to the newest version and reads everything unchanged; commits then go through the
    function, a tombstoned document still stores nothing, and compaction counts the old rows
    and the new alike."""
    old = [m for m in migrations() if m.version <= 3]
    assert [m.version for m in old] == [1, 2, 3]
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for m in old:
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name
            )
        await conn.execute(
            "INSERT INTO snapshots (doc_id, data, generation, covered) VALUES ('d', 'SNAP', 2, 9)"
        )
        await conn.execute(
            "INSERT INTO changes (doc_id, data, batches) VALUES "
            "('d', 'o1', NULL), ('d', NULL, ARRAY['o2', 'o3']::bytea[]), ('x', 'x1', NULL), "
            "('d', 'o4', NULL)"
        )
        await conn.execute("INSERT INTO views (doc_id, view) VALUES ('d', '{\"old\": true}')")
        await conn.execute("INSERT INTO tombstones (doc_id, principal) VALUES ('gone', 'p')")
        assert await schema_version(conn) == 3
        assert await conn.fetchval("SELECT to_regproc('synckit_append')") is None
    finally:
        await conn.close()
    store = await PostgresStore.connect(pg_url)
    try:
        assert await store.fetchval("SELECT max(version) FROM schema_migrations") == len(
            migrations()
        )
        assert await store.load("d") == StoredDoc(b"SNAP", (b"o1", b"o2", b"o3", b"o4"))
        assert await store.read("x") == StoredDoc(None, (b"x1",))
        assert await store.fetchval("SELECT view->>'old' FROM views WHERE doc_id = 'd'") == ("true")
        dead = await store.append_many(
            [("d", b"n1"), ("gone", b"g"), ("d", b"n2")], {"d": '{"new": 1}', "gone": "{}"}
        )
        assert dead == frozenset({"gone"})
        assert await store.read("gone") == StoredDoc(None, (), deleted=True)
        assert await store.fetchval("SELECT count(*) FROM views WHERE doc_id = 'gone'") == 0
        assert await store.fetchval("SELECT view->>'new' FROM views WHERE doc_id = 'd'") == "1"
        assert await store.read("d") == StoredDoc(
            b"SNAP", (b"o1", b"o2", b"o3", b"o4", b"n1", b"n2")
        )
        # Covering o1, o2 (half of the old grouped row) and nothing else: o1's row goes.
        await store.compact("d", b"S2", 2)
        assert await store.read("d") == StoredDoc(b"S2", (b"o2", b"o3", b"o4", b"n1", b"n2"))
        assert await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'") == 10
        # The rest of the old rows and one batch of the new row: both old rows go (covered
        # counts a deleted row's batches: 2 + 1), the new row stays.
        await store.compact("d", b"S3", 3)
        assert await store.read("d") == StoredDoc(b"S3", (b"n1", b"n2"))
        assert await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'") == 13
        await store.compact("d", b"S4", 1)
        assert await store.read("d") == StoredDoc(b"S4", ())
        assert await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'") == 15
    finally:
        await store.close()


async def test_a_compaction_merges_again_when_another_lands_while_it_merges(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compaction is one statement that writes nothing when another server's snapshot came
    in meanwhile: it hands that snapshot back, the store merges and tries again expecting its
    generation. Here a third writer replaces the snapshot while the first merge runs: the
    second try must see that, merge again, and the snapshot finally stored holds every
    server's fields; the log rows covered go, and covered counts them once."""
    import synckit.server._postgres as pg

    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    try:
        ours = Document("a")
        ours.set("a", 1)
        first = ours.save()
        await a.append_many([("d", b"r1"), ("d", b"r2")])
        await a.compact("d", first, 0)  # generation 1, A knows it
        assert await b.load("d") == StoredDoc(first, (b"r1", b"r2"))
        theirs = Document.load(first, "b")
        theirs.set("b", 2)
        await b.compact("d", theirs.save(), 0)  # generation 2, A does not know it
        merges = 0
        real_merge = pg._merge_snapshots

        async def third_writer() -> None:
            conn = await asyncpg.connect(pg_url)
            try:
                stored = await conn.fetchval("SELECT data FROM snapshots WHERE doc_id = 'd'")
                third = Document.load(bytes(stored), "c")
                third.set("c", 3)
                await conn.execute(
                    "UPDATE snapshots SET data = $1, generation = generation + 1 "
                    "WHERE doc_id = 'd'",
                    third.save(),
                )
            finally:
                await conn.close()

        def merging(stored: bytes, ours: bytes) -> bytes:
            nonlocal merges
            merges += 1
            if merges == 1:  # another compaction lands while this one merges
                run_sync(third_writer)
            return real_merge(stored, ours)

        monkeypatch.setattr(pg, "_merge_snapshots", merging)
        ours.set("z", 26)
        await a.compact("d", ours.save(), 2)
        assert merges == 2
        stored = await a.read("d")
        assert stored is not None and stored.snapshot is not None
        assert Document.load(stored.snapshot).to_json() == {"a": 1, "b": 2, "c": 3, "z": 26}
        assert stored.changes == ()
        assert await a.fetchval("SELECT covered FROM snapshots WHERE doc_id = 'd'") == 2
        # After a merge, A's next compaction merges again (its document lacks b and c).
        ours.set("z", 27)
        await a.compact("d", ours.save(), 0)
        assert merges == 3
        final = await a.read("d")
        assert final is not None and final.snapshot is not None
        assert Document.load(final.snapshot).to_json() == {"a": 1, "b": 2, "c": 3, "z": 27}
    finally:
        await a.close()
        await b.close()
