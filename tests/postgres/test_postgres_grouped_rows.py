"""PostgresStore's grouped log rows (schema version 2): one row per document per commit,
holding its batches in order; compaction deletes only the rows a snapshot covers all of
(an off-by-one there deletes batches no snapshot holds); rows written by schema version 1
read unchanged after the migration."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from synckit import Document, VersionVector
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.errors import StorageError
from synckit.server import PostgresStore
from synckit.server._migrate import migrations, schema_version


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = await PostgresStore.connect(pg_url, max_size=4)
    try:
        yield s
    finally:
        await s.close()


async def _rows(store: PostgresStore, doc_id: str) -> list[tuple[bytes | None, list[bytes] | None]]:
    """The document's log rows as stored: (data, batches) in id order."""
    rows = await store.fetchval(
        "SELECT coalesce(array_agg(ROW(data, batches) ORDER BY id), '{}') FROM changes "
        "WHERE doc_id = $1",
        doc_id,
    )
    return [(r[0], None if r[1] is None else list(r[1])) for r in rows]


async def _covered(store: PostgresStore, doc_id: str) -> int:
    n = await store.fetchval("SELECT covered FROM snapshots WHERE doc_id = $1", doc_id)
    return int(n or 0)


async def test_one_row_per_document_per_commit(store: PostgresStore, pg_url: str) -> None:
    await store.append_many([("d", b"a"), ("e", b"x"), ("d", b"b"), ("d", b"c")])
    await store.append_many([("d", b"d")])
    assert await _rows(store, "d") == [(None, [b"a", b"b", b"c"]), (b"d", None)]
    assert await _rows(store, "e") == [(b"x", None)]
    assert await store.read("d") == StoredDoc(None, (b"a", b"b", b"c", b"d"))
    other = await PostgresStore.connect(pg_url)
    try:
        assert await other.load("d") == StoredDoc(None, (b"a", b"b", b"c", b"d"))
        assert await other.load("e") == StoredDoc(None, (b"x",))
        await store.append_many([("d", b"e"), ("e", b"y"), ("d", b"f")])
        # Catching up flattens the new row, in order.
        assert await other.read_new(["d", "e"]) == {
            "d": StoredDoc(None, (b"e", b"f")),
            "e": StoredDoc(None, (b"y",)),
        }
        assert await other.read_new(["d", "e"]) == {}
    finally:
        await other.close()


# Rows of 3, 1 and 2 batches: compaction covering 0..7 of them.
_LOG = [[b"a", b"b", b"c"], [b"d"], [b"e", b"f"]]


@pytest.mark.parametrize("covered", range(8))
async def test_compaction_deletes_only_the_rows_it_covers_whole(
    store: PostgresStore, covered: int
) -> None:
    for row in _LOG:
        await store.append_many([("d", b) for b in row])
    await store.compact("d", b"SNAP", covered)
    # The rows whose batches all lie within the first ``covered`` are gone; the rest stay,
    # a row covered in part with all its batches.
    ends = [3, 4, 6]
    kept = [batch for row, end in zip(_LOG, ends, strict=True) if end > covered for batch in row]
    gone = sum(len(row) for row, end in zip(_LOG, ends, strict=True) if end <= covered)
    assert await store.read("d") == StoredDoc(b"SNAP", tuple(kept))
    assert await _covered(store, "d") == gone
    # The store counts what is left of a row covered in part: covering the rest of the
    # server's batches then empties the log, and covering one fewer keeps the last row.
    left = max(0, 6 - covered)
    if left:
        await store.compact("d", b"S2", left - 1)
        assert (await store.read("d") or StoredDoc(None, ())).changes[-2:] == (b"e", b"f")
        await store.compact("d", b"S3", 1)
    assert await store.read("d") == StoredDoc(b"S3" if left else b"SNAP", ())
    assert await _covered(store, "d") == 6


async def test_compaction_in_steps_inside_one_row(store: PostgresStore) -> None:
    await store.append_many([("d", bytes([i])) for i in range(5)])
    await store.append_many([("d", b"x"), ("d", b"y")])
    for step in range(4):  # one batch at a time: the first row stays until all 5 are covered
        await store.compact("d", b"S%d" % step, 1)
        assert len(await _rows(store, "d")) == 2
        assert await _covered(store, "d") == 0
    await store.compact("d", b"S4", 1)
    assert await _rows(store, "d") == [(None, [b"x", b"y"])]
    assert await _covered(store, "d") == 5
    await store.compact("d", b"S5", 1)
    assert await _rows(store, "d") == [(None, [b"x", b"y"])]
    await store.compact("d", b"S6", 1)
    assert await _rows(store, "d") == []
    assert await _covered(store, "d") == 7


def _edit(doc: Document, key: str, value: int) -> bytes:
    seen = doc.version()
    doc.set(key, value)
    return doc.changes(seen)


async def test_partly_covered_rows_with_another_servers_rows_interleaved(pg_url: str) -> None:
    """A and B write one document, their rows interleaved; each compacts what it holds,
    covering rows of its own in part. No row of the other server is touched, a row covered
    in part stays, and every change survives in a fresh load."""
    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    try:
        wa, wb = Document("wa"), Document("wb")
        doc_a, doc_b = LoggedDocument.restore(None), LoggedDocument.restore(None)

        async def write(store: PostgresStore, logged: LoggedDocument, batches: list[bytes]) -> None:
            await store.append_many([("d", batch) for batch in batches])
            for batch in batches:
                logged.doc.apply(batch)
                logged.appended(len(batch))

        await write(a, doc_a, [_edit(wa, "a1", 1), _edit(wa, "a2", 2)])
        await write(b, doc_b, [_edit(wb, "b1", 1), _edit(wb, "b2", 2), _edit(wb, "b3", 3)])
        await write(a, doc_a, [_edit(wa, "a3", 3)])
        await write(b, doc_b, [_edit(wb, "b4", 4), _edit(wb, "b5", 5)])
        rows = await a.fetchval("SELECT array_agg(id ORDER BY id) FROM changes WHERE doc_id='d'")
        r1, r2, r3, r4 = rows
        assert r1 < r2 < r3 < r4
        # A covers its 2 batches of r1 (its first row, whole): only r1 goes, r3 is not touched.
        await a.compact("d", doc_a.doc.save(), 2)
        ids = await a.fetchval("SELECT array_agg(id ORDER BY id) FROM changes WHERE doc_id='d'")
        assert ids == [r2, r3, r4]
        # B covers 4 of its 5 batches: r2 whole (3), r4 in part (1 of 2): r4 stays.
        await b.compact("d", doc_b.doc.save(), 4)
        ids = await a.fetchval("SELECT array_agg(id ORDER BY id) FROM changes WHERE doc_id='d'")
        assert ids == [r3, r4]
        assert [(r.id, r.left) for r in b._known["d"].ids] == [(r4, 1)]
        everything = {"a1": 1, "a2": 2, "a3": 3, "b1": 1, "b2": 2, "b3": 3, "b4": 4, "b5": 5}
        stored = await a.read("d")
        assert LoggedDocument.restore(stored).doc.to_json() == everything
        # A's last batch: r3 goes, B's r4 stays; then B's last: r4 goes.
        await a.compact("d", doc_a.doc.save(), 1)
        assert await a.fetchval("SELECT array_agg(id) FROM changes WHERE doc_id='d'") == [r4]
        await b.compact("d", doc_b.doc.save(), 1)
        assert await a.fetchval("SELECT count(*) FROM changes WHERE doc_id='d'") == 0
        assert await _covered(a, "d") == 8
        fresh = LoggedDocument.restore(await a.read("d")).doc
        assert fresh.to_json() == everything
        expected = Document("x")
        expected.merge(wa)
        expected.merge(wb)
        assert fresh.version() == expected.version()
    finally:
        await a.close()
        await b.close()


def test_applying_batches_a_snapshot_holds_changes_nothing() -> None:
    """What loading a row covered in part relies on: batches applied again over a snapshot
    that holds them (all, or some, in any order) leave the document exactly as it was."""
    writer = Document("w")
    batches = []
    for i in range(6):
        seen = writer.version()
        writer.get_list("items").append(i)
        writer.get_text("t").insert(0, str(i))
        writer.get_counter("n").increment(1)
        batches.append(writer.changes(seen))
    snapshot = writer.save()
    for again in (batches, batches[:3], batches[2:4][::-1], batches + batches):
        doc = Document.load(snapshot)
        for batch in again:
            doc.apply(batch)
        assert doc.to_json() == writer.to_json()
        assert doc.version() == writer.version()
    restored = LoggedDocument.restore(StoredDoc(snapshot, tuple(batches[1:])))
    assert restored.doc.to_json() == writer.to_json()
    assert restored.doc.get_counter("n").value == 6


async def test_schema_version_1_rows_read_after_the_migration(pg_url: str) -> None:
    """A database written by schema version 1 (one batch per row): after the migration its
    rows load unchanged, in order, and mix with grouped rows in loads, catch-up and
    compaction."""
    conn = await asyncpg.connect(pg_url)
    try:
        first = migrations()[0]
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(first.sql)
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'initial')")
        # What version 1's append_many wrote: one row per batch.
        await conn.execute(
            "INSERT INTO changes (doc_id, data) SELECT d, c FROM unnest($1::text[], "
            "$2::bytea[]) WITH ORDINALITY AS t(d, c, n) ORDER BY n",
            ["d", "d", "e", "d"],
            [b"o1", b"o2", b"e1", b"o3"],
        )
        assert await schema_version(conn) == 1
    finally:
        await conn.close()
    store = await PostgresStore.connect(pg_url)
    other = await PostgresStore.connect(pg_url)
    try:
        assert await store.fetchval("SELECT max(version) FROM schema_migrations") == len(
            migrations()
        )
        assert await store.load("d") == StoredDoc(None, (b"o1", b"o2", b"o3"))
        assert await other.load("e") == StoredDoc(None, (b"e1",))
        await store.append_many([("d", b"n1"), ("d", b"n2"), ("e", b"e2")])
        assert await other.load("d") == StoredDoc(None, (b"o1", b"o2", b"o3", b"n1", b"n2"))
        await store.append_many([("e", b"e3"), ("e", b"e4")])
        assert await other.read_new(["e"]) == {"e": StoredDoc(None, (b"e2", b"e3", b"e4"))}
        # The old rows and one batch of the grouped row: the old rows go, the grouped stays.
        await store.compact("d", b"SNAP", 4)
        assert await store.read("d") == StoredDoc(b"SNAP", (b"n1", b"n2"))
        assert await _covered(store, "d") == 3
        await store.compact("d", b"S2", 1)
        assert await store.read("d") == StoredDoc(b"S2", ())
        assert await _covered(store, "d") == 5
    finally:
        await store.close()
        await other.close()


async def test_the_schema_refuses_malformed_rows(store: PostgresStore) -> None:
    for data, batches in (
        (None, None),
        (b"x", [b"a", b"b"]),
        (None, [b"a"]),
        (None, []),
        (None, [b"a", None]),
    ):
        with pytest.raises(StorageError, match="CheckViolationError"):
            await store.fetchval(
                "INSERT INTO changes (doc_id, data, batches) VALUES ('d', $1, $2)", data, batches
            )


async def _grouped_writer(
    store: PostgresStore,
    doc_id: str,
    name: str,
    edits: int,
    rnd: random.Random,
    acked: dict[str, VersionVector],
) -> Document:
    """One server's part: commits of 1 to 4 batches, and compactions covering a random
    number of its batches (often ending inside a row)."""
    logged = LoggedDocument.restore(await store.load(doc_id))
    writer = Document(name)
    done = 0
    while done < edits:
        batches = []
        for _ in range(min(rnd.randint(1, 4), edits - done)):
            seen = writer.version()
            writer.get_list("items").append(f"{name}{done}")
            writer.get_counter("n").increment(1)
            batches.append(writer.changes(seen))
            done += 1
        await store.append_many([(doc_id, batch) for batch in batches])
        acked[name] = writer.version()
        for batch in batches:
            logged.doc.apply(batch)
            logged.appended(len(batch))
        if logged.log_count >= 3 and rnd.random() < 0.5:
            snapshot, count, size = logged.snapshot()
            covered = rnd.randint(1, count)
            await store.compact(doc_id, snapshot, covered)
            logged.compacted(snapshot, covered, size)
        if rnd.random() < 0.2:
            await asyncio.sleep(rnd.random() / 1000)
    return writer


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_two_servers_grouped_rows_and_partial_compactions(pg_url: str, seed: int) -> None:
    """Two stores write one document at once in commits of several batches, compacting at
    random points (inside rows too): nothing is lost or doubled, every batch is either in a
    row still there or counted once as covered, and the rows left are exactly the ones the
    two servers have not compacted all of."""
    a = await PostgresStore.connect(pg_url)
    b = await PostgresStore.connect(pg_url)
    rnd = random.Random(seed)
    edits = 150
    acked: dict[str, VersionVector] = {}
    try:
        writers = await asyncio.gather(
            _grouped_writer(a, "d", "wa", edits, rnd, acked),
            _grouped_writer(b, "d", "wb", edits, rnd, acked),
        )
        expected = Document("check")
        for w in writers:
            expected.merge(w)
        stored = await a.read("d")
        assert stored is not None
        got = LoggedDocument.restore(stored).doc
        assert got.to_json() == expected.to_json()
        assert got.version() == expected.version()
        assert len(got.get_list("items")) == 2 * edits
        assert got.get_counter("n").value == 2 * edits
        in_rows = await a.fetchval(
            "SELECT coalesce(sum(coalesce(cardinality(batches), 1)), 0) FROM changes "
            "WHERE doc_id = 'd'"
        )
        assert await _covered(a, "d") + in_rows == 2 * edits
        ids = await a.fetchval("SELECT array_agg(id ORDER BY id) FROM changes WHERE doc_id='d'")
        pending = sorted(row.id for s in (a, b) for row in s._known["d"].ids)
        assert list(ids or []) == pending
        fresh = LoggedDocument.restore(await b.load("d")).doc
        assert fresh.to_json() == expected.to_json()
    finally:
        await a.close()
        await b.close()
