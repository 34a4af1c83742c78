"""Two servers on one PostgreSQL database and one Redis: a change committed on one reaches the
clients of the other at once (Redis), and after Redis missed messages the other catches up
from storage by version vector."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from live import ServerProcess, eventually, free_port, server_environment
from redistest import REDIS_URL, fresh_channel, require_redis

from synckit.client import Client, connect
from synckit.server import Limits, PostgresStore, RedisChangeBus, create_app, running


@asynccontextmanager
async def two_servers(
    pg_url: str, limits: Limits | None = None
) -> AsyncIterator[tuple[str, str, list[RedisChangeBus]]]:
    await require_redis()
    channel = fresh_channel()
    buses = [RedisChangeBus(REDIS_URL, channel) for _ in range(2)]
    apps = [create_app(PostgresStore(pg_url), change_bus=bus, limits=limits) for bus in buses]
    async with running(apps[0]) as one, running(apps[1]) as two:
        yield one, two, buses


def unheard(bus: RedisChangeBus) -> None:
    """From now on, ``bus`` sends nothing (the server's commit hook holds its bound
    ``publish``: the channel underneath is what is silenced)."""
    bus._channel.publish = lambda payload: None  # type: ignore[method-assign]


def fast(url: str, name: str) -> Client:
    return connect(url, client_id=name, ping_interval=1)


async def test_a_change_on_one_server_reaches_the_clients_of_the_other(pg_url: str) -> None:
    async with two_servers(pg_url) as (one, two, _), fast(one, "a") as a, fast(two, "b") as b:
        doc_a, doc_b = await a.open("d", wait=True), await b.open("d", wait=True)
        for i in range(20):
            doc_a.set(f"a{i}", i)
            doc_b.get_list("items").append(f"b{i}")
        await a.wait_synced(timeout=10)
        await b.wait_synced(timeout=10)
        await eventually(lambda: doc_b.get("a19") == 19, 5, "a's edits on server two")
        await eventually(lambda: len(doc_a.get_list("items")) == 20, 5, "b's edits on one")
        assert doc_a.to_json() == doc_b.to_json()
        # The other server's subscribers heard of it; nothing was re-subscribed.
        assert a.connections == 1 and b.connections == 1


async def test_missed_messages_are_caught_up_from_storage(pg_url: str) -> None:
    async with two_servers(pg_url) as (one, two, buses), fast(one, "a") as a, fast(two, "b") as b:
        doc_a, doc_b = await a.open("d", wait=True), await b.open("d", wait=True)
        unheard(buses[0])
        doc_a.set("unheard", 1)  # committed on one; its message never sent
        await a.wait_synced(timeout=10)
        await buses[1]._channel._redis.connection_pool.disconnect()  # two's subscription drops
        await eventually(lambda: doc_b.get("unheard") == 1, 10, "the catch-up from storage")
        assert doc_a.to_json() == doc_b.to_json()


async def test_two_serve_processes_on_one_database_and_redis(pg_url: str, tmp_path: Path) -> None:
    await require_redis()
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL}
    servers = [ServerProcess(tmp_path / n, free_port(), env=env).start() for n in ("a", "b")]
    try:
        async with fast(servers[0].url, "a") as a, fast(servers[1].url, "b") as b:
            doc_a, doc_b = await a.open("d", wait=True), await b.open("d", wait=True)
            text_a, text_b = doc_a.get_text("t"), doc_b.get_text("t")
            text_a.insert(0, "hello ")
            await eventually(lambda: str(text_b) == "hello ", 5, "a's text on server b")
            text_b.insert(len(text_b), "world")
            await eventually(lambda: str(text_a) == "hello world", 5, "b's text on server a")
            await a.wait_synced(timeout=10)
            await b.wait_synced(timeout=10)
            assert doc_a.to_json() == doc_b.to_json() == {"t": "hello world"}
    finally:
        for server in servers:
            server.terminate()


async def test_several_workers_on_one_port(pg_url: str, tmp_path: Path) -> None:
    # Clients of one `synckit serve --workers 3` are spread over its processes by the kernel;
    # whichever process each lands on, they converge.
    await require_redis()
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL}
    server = ServerProcess(tmp_path / "w", free_port(), ["--workers", "3"], env=env).start()
    try:
        clients = [fast(server.url, f"c{i}") for i in range(6)]
        for client in clients:
            await client.__aenter__()
        try:
            docs = [await client.open("d", wait=True) for client in clients]
            for i, doc in enumerate(docs):
                doc.set(f"k{i}", i)
            for client in clients:
                await client.wait_synced(timeout=10)
            want = {f"k{i}": i for i in range(6)}
            await eventually(lambda: all(d.to_json() == want for d in docs), 10, "convergence")
        finally:
            for client in clients:
                await client.__aexit__(None, None, None)
    finally:
        server.terminate()
    assert server.proc is not None and server.proc.returncode == 0


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synckit.cli", "serve", "--workers", "2", "--data", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=server_environment(),
    )
    assert done.returncode == 2
    assert "only on PostgreSQL" in done.stderr


async def test_a_log_compacted_by_another_server_is_caught_up_off_the_loop(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once another server compacted a document's log, a catch-up reads everything stored:
    it is rebuilt in a worker thread (on the loop that held it 1.9 s for 5.5 million
    characters), and only what the open document lacks is merged."""
    from synckit.server import _app

    rebuilt: list[tuple[bool, int]] = []
    real = _app._lacking

    def lacking(*args: Any) -> bytes:
        changes = real(*args)
        rebuilt.append((threading.current_thread() is threading.main_thread(), len(changes)))
        return changes

    monkeypatch.setattr(_app, "_lacking", lacking)
    limits = Limits(compact_every=2)
    async with (
        two_servers(pg_url, limits) as (one, two, buses),
        fast(one, "a") as a,
        fast(two, "b") as b,
    ):
        doc_a, doc_b = await a.open("d", wait=True), await b.open("d", wait=True)
        doc_b.get_text("t").insert(0, "held by both " * 200)
        await b.wait_synced(timeout=10)
        await eventually(lambda: len(doc_a.get_text("t")) == 2600, 10, "b's text on one")
        unheard(buses[0])
        for i in range(20):  # committed on one, compacted there; no message sent
            doc_a.set(f"unheard{i}", i)
            await a.wait_synced(timeout=10)
        await buses[1]._channel._redis.connection_pool.disconnect()  # two catches up
        await eventually(lambda: doc_b.get("unheard19") == 19, 10, "the catch-up from storage")
        assert doc_a.to_json() == doc_b.to_json()
    assert rebuilt and not any(on_loop for on_loop, _ in rebuilt)
    assert all(size < 1000 for _, size in rebuilt)  # what two lacked, not the 2.6 KB text


async def test_every_commit_writes_the_documents_json_view(pg_url: str) -> None:
    app = create_app(PostgresStore(pg_url))
    async with running(app) as url, fast(url, "v") as client:
        doc = await client.open("todo", wait=True)
        doc.set("title", "shopping")
        doc.get_list("items").append({"text": "milk", "done": False})
        await client.wait_synced(timeout=10)
        doc.set("note", "nul\x00inside")  # jsonb refuses NUL: the view says U+FFFD instead
        doc.get_counter("done").increment(2)
        # Beyond ASCII (written as \u escapes, emoji as surrogate pairs): the same characters.
        doc.set("intl", 'café 中文 😀👍🏽 \u2028 "q" \\')
        doc.get_text("body").insert(0, "naïve ✓ 🎉\nline")
        await client.wait_synced(timeout=10)
        conn = await asyncpg.connect(pg_url)
        try:
            row = await conn.fetchrow("SELECT view FROM views WHERE doc_id = 'todo'")
            items = await conn.fetchval(
                "SELECT view -> 'items' -> 0 ->> 'text' FROM views WHERE doc_id = 'todo'"
            )
        finally:
            await conn.close()
        assert row is not None
        assert json.loads(row["view"]) == {**doc.to_json(), "note": "nul\ufffdinside"}
        assert json.loads(row["view"])["intl"] == 'café 中文 😀👍🏽 \u2028 "q" \\'
        assert items == "milk"
        assert doc.get("note") == "nul\x00inside"  # the document keeps what was written


async def test_a_large_documents_view_is_written_at_a_pace_and_catches_up(pg_url: str) -> None:
    """A document of view_inline_bytes or more has its view written at most once per
    max(1 s, view bytes / view_bytes_per_second): commits in between leave the stored view
    behind, and it catches up once due, with no further commit."""
    limits = Limits(view_inline_bytes=2000, view_bytes_per_second=1000)
    app = create_app(PostgresStore(pg_url), limits=limits)
    async with running(app) as url, fast(url, "v") as client:
        doc = await client.open("big", wait=True)
        doc.get_text("body").insert(0, "z" * 4000)  # a 4 KB view: about 4 s apart
        await client.wait_synced(timeout=10)
        conn = await asyncpg.connect(pg_url)
        try:

            async def stored() -> dict[str, object]:
                text = await conn.fetchval("SELECT view FROM views WHERE doc_id = 'big'")
                return dict(json.loads(text)) if text else {}

            first = await stored()
            assert first.get("body") == "z" * 4000
            for i in range(5):
                doc.set("n", i)
                await client.wait_synced(timeout=10)
            assert (await stored()).get("n") != 4  # committed, the view lagging behind
            for _ in range(150):  # due about 4 s after the first: the tick writes it
                if await stored() == doc.to_json():
                    break
                await asyncio.sleep(0.1)
            assert await stored() == doc.to_json()
        finally:
            await conn.close()
