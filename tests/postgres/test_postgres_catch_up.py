"""Catching up on what other servers wrote, reading only what a server lacks
(``PostgresStore.read_new``), on a real PostgreSQL: the entries after the last one read; the
whole document after another server's compaction; and never an entry missed while other
servers append to the same document at once (appends commit their ids in order)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from synckit import Document
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.server import PostgresStore


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Three stores on one database: three servers."""
    opened = [await PostgresStore.connect(pg_url, max_size=4) for _ in range(3)]
    try:
        yield opened
    finally:
        for s in opened:
            await s.close()


async def test_only_the_entries_after_the_last_one_read(stores: list[PostgresStore]) -> None:
    mine, other, _ = stores
    await other.append_many([("d", b"1"), ("d", b"2")])
    assert await mine.load("d") == StoredDoc(None, (b"1", b"2"))
    assert await mine.read_new(["d"]) == {}  # nothing new: nothing read
    await other.append_many([("d", b"3"), ("e", b"x")])
    await mine.append_many([("d", b"mine")])
    # Its own append is returned too (another server's may lie below it, unread).
    assert await mine.read_new(["d"]) == {"d": StoredDoc(None, (b"3", b"mine"))}
    assert await mine.read_new(["d"]) == {}
    await other.append_many([("d", b"4")])
    assert await mine.read_new(["d"]) == {"d": StoredDoc(None, (b"4",))}


async def test_own_compaction_keeps_it_incremental(stores: list[PostgresStore]) -> None:
    mine, other, _ = stores
    await mine.append_many([("d", b"1"), ("d", b"2")])
    await mine.load("d")
    await mine.compact("d", b"SNAP", 2)
    await other.append_many([("d", b"3")])
    assert await mine.read_new(["d"]) == {"d": StoredDoc(None, (b"3",))}


async def test_another_servers_compaction_makes_it_read_everything(
    stores: list[PostgresStore],
) -> None:
    mine, other, _ = stores
    await other.append_many([("d", b"1")])
    await mine.load("d")
    await other.load("d")
    await other.append_many([("d", b"2")])
    await other.compact("d", b"SNAP", 2)  # "2" is gone into the snapshot, never read by mine
    assert await mine.read_new(["d"]) == {"d": StoredDoc(b"SNAP", ())}
    assert await mine.read_new(["d"]) == {}  # and from then on, incremental again
    await other.append_many([("d", b"3")])
    assert await mine.read_new(["d"]) == {"d": StoredDoc(None, (b"3",))}


async def test_a_document_it_knows_nothing_of_is_read_whole(stores: list[PostgresStore]) -> None:
    mine, other, _ = stores
    await other.append_many([("d", b"1")])
    assert await mine.read_new(["d", "none"]) == {"d": StoredDoc(None, (b"1",))}


async def test_no_entry_missed_while_two_servers_append_at_once(
    stores: list[PostgresStore],
) -> None:
    """Two servers append to one document as fast as they can while a third catches up over
    and over; what the third got (its load, then every read_new) must hold every change.
    Without appends committing their ids in order, an entry committed after a larger id was
    read would be skipped for good."""
    one, two, reader = stores
    writers = [Document("w1"), Document("w2")]
    await reader.load("d")
    copy = Document("reader")
    stop = asyncio.Event()

    async def write(store: PostgresStore, doc: Document) -> None:
        for i in range(150):
            before = doc.version()
            doc.get_counter("n").increment(1)
            doc.set(f"{doc.client_id}:{i}", i)
            await store.append_many([("d", doc.changes(before))])
        stop.set()

    async def catch_up() -> int:
        reads = 0
        while not (stop.is_set() and all(w.is_set() for w in done)):
            for stored in (await reader.read_new(["d"])).values():
                restored = LoggedDocument.restore(stored).doc if stored.snapshot else None
                if restored is not None:
                    copy.merge(restored)
                for batch in stored.changes:
                    copy.apply(batch)
            reads += 1
        for stored in (await reader.read_new(["d"])).values():
            for batch in stored.changes:
                copy.apply(batch)
        return reads

    done = [asyncio.Event(), asyncio.Event()]

    async def writer(i: int) -> None:
        await write((one, two)[i], writers[i])
        done[i].set()

    results = await asyncio.gather(writer(0), writer(1), catch_up())
    assert results[2] > 10  # it really read while they wrote
    assert copy.get_counter("n").value == 300
    assert copy.waiting == 0
    whole = LoggedDocument.restore(await reader.read("d")).doc
    assert copy.to_json() == whole.to_json()
