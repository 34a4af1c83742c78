"""Deleting documents on PostgreSQL: the tombstone table (schema version 3), a commit that
races a deletion, and two servers on one database and one Redis (a deletion on one reaches
the clients of the other; a lost Redis message does not let a push bring the document back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from live import ServerProcess, eventually, free_port
from redistest import REDIS_URL, fresh_channel, require_redis

from synckit.cli import main
from synckit.client import connect
from synckit.core import Document
from synckit.errors import DocumentDeletedError
from synckit.protocol import ErrorCode
from synckit.server import PostgresStore, RedisChangeBus, create_app, running
from synckit.server._migrate import schema_version


def _changes(writer: str, **fields: int) -> bytes:
    doc = Document(writer)
    for key, value in fields.items():
        doc.set(key, value)
    return doc.changes()


async def _rows(store: PostgresStore, doc_id: str) -> tuple[int, int, int, int]:
    """Log rows, snapshots, views and tombstones stored for ``doc_id``."""
    counts = []
    for table in ("changes", "snapshots", "views", "tombstones"):
        n = await store.fetchval(f"SELECT count(*) FROM {table} WHERE doc_id = $1", doc_id)
        counts.append(int(n))
    return counts[0], counts[1], counts[2], counts[3]


async def test_the_store_keeps_a_tombstone_and_stores_nothing_after_it(pg_url: str) -> None:
    store = await PostgresStore.connect(pg_url)
    try:
        conn = await asyncpg.connect(pg_url)
        try:
            assert await schema_version(conn) >= 3  # tombstones since version 3
        finally:
            await conn.close()
        await store.append_many(
            [("d", _changes("a", x=1)), ("e", _changes("a", y=1))], {"d": '{"x": 1}'}
        )
        assert await _rows(store, "d") == (1, 0, 1, 0)
        await store.compact("d", Document.load(Document("a").save()).save(), 0)
        assert await store.deleted_among(["d", "e"]) == frozenset()
        await store.delete_doc("d", "alice")
        assert await _rows(store, "d") == (0, 0, 0, 1)
        assert await store.load("d") == (loaded := await store.read("d"))
        assert loaded is not None and loaded.deleted and loaded.snapshot is None
        assert await store.doc_ids() == ["e"]
        assert await store.deleted_among(["d", "e", "f"]) == frozenset({"d"})
        # A commit holding batches of a deleted document stores the others, and says which.
        dead = await store.append_many([("d", _changes("b", z=1)), ("e", _changes("b", w=2))])
        assert dead == frozenset({"d"})
        assert await _rows(store, "d") == (0, 0, 0, 1)
        e = await store.load("e")
        assert e is not None and len(e.changes) == 2 and not e.deleted
        # A compaction another server queued before it heard of the deletion writes nothing.
        await store.compact("d", Document.load(Document("a").save()).save(), 0)
        assert await _rows(store, "d") == (0, 0, 0, 1)
        await store.delete_doc("d", "bob")  # again: nothing changes, the first stays
        who = await store.fetchval("SELECT principal FROM tombstones WHERE doc_id = 'd'")
        assert who == "alice"
    finally:
        await store.close()


@asynccontextmanager
async def _two_servers(pg_url: str) -> AsyncIterator[tuple[str, str, list[RedisChangeBus]]]:
    await require_redis()
    channel = fresh_channel()
    buses = [RedisChangeBus(REDIS_URL, channel) for _ in range(2)]
    apps = [create_app(PostgresStore(pg_url), change_bus=bus) for bus in buses]
    async with running(apps[0]) as one, running(apps[1]) as two:
        yield one, two, buses


async def test_a_deletion_on_one_server_reaches_the_clients_of_the_other(pg_url: str) -> None:
    told: list[ErrorCode] = []
    async with (
        _two_servers(pg_url) as (one, two, _),
        connect(one, client_id="a", ping_interval=1) as a,
        connect(two, client_id="admin", ping_interval=1) as admin,
    ):
        a.on_deleted(lambda doc_id, error: told.append(error.code))
        doc_a = await a.open("d", wait=True, timeout=10)
        doc_a.set("k", 1)
        await a.wait_synced(timeout=10)
        await admin.open("d", wait=True, timeout=10)
        await admin.delete("d", timeout=10)
        await eventually(lambda: told == [ErrorCode.DOC_DELETED], 10, "a told by Redis")
        assert a.documents() == []
        # Nobody subscribes to it again, on either server.
        for url in (one, two):
            async with connect(url, client_id="late") as late:
                with pytest.raises(DocumentDeletedError):
                    await late.open("d", wait=True, timeout=10)
    store = await PostgresStore.connect(pg_url)
    try:
        assert await _rows(store, "d") == (0, 0, 0, 1)
    finally:
        await store.close()


async def test_a_push_on_another_server_after_a_lost_deletion_message_is_refused(
    pg_url: str,
) -> None:
    async with (
        _two_servers(pg_url) as (one, two, buses),
        connect(one, client_id="w", ping_interval=1) as writer,
        connect(two, client_id="admin", ping_interval=1) as admin,
    ):
        doc = await writer.open("d", wait=True, timeout=10)
        doc.set("before", 1)
        await writer.wait_synced(timeout=10)
        await admin.open("d", wait=True, timeout=10)
        buses[1].publish_deleted = lambda doc_id: None  # type: ignore[method-assign]
        await admin.delete("d", timeout=10)
        # Server one never heard of it: its room is still open, and takes the push, but the
        # commit finds the tombstone under the document's lock and stores nothing.
        doc.set("resurrect", "attempt")
        await eventually(lambda: "d" in writer.deleted(), 10, "the writer told by its commit")
        assert writer.deleted()["d"].code is ErrorCode.DOC_DELETED
        await writer.wait_synced(timeout=5)
    store = await PostgresStore.connect(pg_url)
    try:
        assert await _rows(store, "d") == (0, 0, 0, 1)
    finally:
        await store.close()


async def test_a_deletion_racing_a_stream_of_pushes_on_the_other_server(pg_url: str) -> None:
    """One client keeps pushing on server one while an admin deletes on server two: whatever
    the interleaving, nothing of the document is left stored after the tombstone, and the
    writer is told."""
    async with (
        _two_servers(pg_url) as (one, two, _),
        connect(one, client_id="w", ping_interval=1) as writer,
        connect(two, client_id="admin", ping_interval=1) as admin,
    ):
        doc = await writer.open("d", wait=True, timeout=10)
        await admin.open("d", wait=True, timeout=10)
        stop = asyncio.Event()

        async def keep_pushing() -> int:
            n = 0
            while not stop.is_set() and "d" not in writer.deleted():
                doc.get_list("items").append(n)
                n += 1
                await asyncio.sleep(0.002)
            return n

        pusher = asyncio.create_task(keep_pushing())
        await asyncio.sleep(0.2)
        await admin.delete("d", timeout=10)
        await eventually(lambda: "d" in writer.deleted(), 10, "the writer told")
        stop.set()
        assert await pusher > 10
        await writer.wait_synced(timeout=5)
    store = await PostgresStore.connect(pg_url)
    try:
        assert await _rows(store, "d") == (0, 0, 0, 1)
        loaded = await store.load("d")
        assert loaded is not None and loaded.deleted
    finally:
        await store.close()


async def test_a_forged_deletion_message_changes_nothing(pg_url: str) -> None:
    """Redis is not the truth: a deletion message with no tombstone in storage behind it (a
    forged or garbled one) makes no server tell its clients anything."""
    async with (
        _two_servers(pg_url) as (one, two, buses),
        connect(one, client_id="a", ping_interval=1) as a,
        connect(two, client_id="b", ping_interval=1) as b,
    ):
        doc_a, doc_b = await a.open("d", wait=True, timeout=10), await b.open("d", wait=True)
        buses[1].publish_deleted("d")  # as if server two had deleted it
        buses[1].publish_deleted("!garbage id")
        await asyncio.sleep(0.5)
        doc_b.set("after", "forgery")
        await b.wait_synced(timeout=10)
        await eventually(lambda: doc_a.get("after") == "forgery", 10, "a still syncing")
        assert a.deleted() == {} and a.documents() == ["d"]


async def test_a_lost_deletion_message_is_caught_up_from_storage(pg_url: str) -> None:
    """The deleting server's message never goes out and nobody pushes: the other server
    learns of the deletion from its periodic catch-up (the tombstones of its open documents)
    and tells its clients."""
    await require_redis()
    channel = fresh_channel()
    buses = [RedisChangeBus(REDIS_URL, channel) for _ in range(2)]
    apps = [
        create_app(PostgresStore(pg_url), change_bus=bus, catch_up_seconds=0.5) for bus in buses
    ]
    buses[1].publish_deleted = lambda doc_id: None  # type: ignore[method-assign]
    async with (
        running(apps[0]) as one,
        running(apps[1]) as two,
        connect(one, client_id="reader", ping_interval=1) as reader,
        connect(two, client_id="admin", ping_interval=1) as admin,
    ):
        await reader.open("d", wait=True, timeout=10)
        await admin.open("d", wait=True, timeout=10)
        await admin.delete("d", timeout=10)
        await eventually(lambda: "d" in reader.deleted(), 10, "the catch-up")
        assert reader.documents() == []


async def test_two_serve_processes_on_one_database_and_redis(pg_url: str, tmp_path: Path) -> None:
    """`synckit serve --database --redis` twice: a deletion through one process (with the
    CLI) reaches a client of the other, and neither takes the document again."""
    await require_redis()
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL}
    servers = [ServerProcess(tmp_path / n, free_port(), env=env).start() for n in ("a", "b")]
    try:
        async with connect(servers[0].url, client_id="a", ping_interval=1) as a:
            doc = await a.open("d", wait=True, timeout=10)
            doc.set("k", 1)
            await a.wait_synced(timeout=10)
            argv = ["delete", "--url", servers[1].url, "d"]
            assert await asyncio.to_thread(main, argv, {}) == 0
            await eventually(lambda: "d" in a.deleted(), 10, "a told through Redis")
        for server in servers:
            got = httpx.get(f"{server.url}/v1/docs/d", timeout=10)
            assert got.status_code == 410, got.text
    finally:
        for server in servers:
            server.terminate()
