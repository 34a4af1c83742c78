"""What a large document's JSON view costs everyone else on PostgreSQL.

A server on PostgreSQL (``create_app(PostgresStore(url))`` on uvicorn in this process, a
fresh database) writes each committed document's JSON view into the ``views`` table. One
client types into a document holding a large text (``--mb``, default 5.5), one character per
push, as fast as its pushes are acknowledged; another sets a field of a small document, one
push at a time, and times each push until its Ack. Figures: the small writer's
acknowledgements per second and their p50 / p99 / max (ms), the typist's, and the views
written (the ``views`` row's ``updated_at`` changes) over ``--seconds``.

``--spread N`` replaces the typist by an author of N documents, each a list of ``--items``
maps (``{"title": ..., "done": ...}``: 2,000 of them are about 140 KB stored, a small
document whose view is written with every commit, and the costliest shape to view per
stored byte), who ticks one item in every document and waits for the acks, again and again:
every commit then carries N such views. Its figure is rounds per second.

Run: ``python benchmarks/bench_views.py [--mb 5.5] [--seconds 10] [--spread N --items K]``
(``DATABASE_URL`` or postgresql://postgres@127.0.0.1:5432/postgres for the server that makes
the database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

import asyncpg

from synckit.client import connect
from synckit.server import PostgresStore, create_app, running

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _db_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def measure(mb: float, seconds: float, spread: int = 0, items: int = 0) -> dict[str, float]:
    name = f"bench_views_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        if spread:
            return await _run_spread(_db_url(name), spread, items, seconds)
        return await _run(_db_url(name), mb, seconds)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _run(url: str, mb: float, seconds: float) -> dict[str, float]:
    app = create_app(PostgresStore(url))
    async with (
        running(app) as server,
        connect(server, client_id="typist") as typist,
        connect(server, client_id="writer") as writer,
    ):
        big = await typist.open("big", wait=True)
        words = "lorem ipsum dolor sit amet "
        big.get_text("body").insert(0, words * int(mb * 1e6 / len(words)))
        await typist.wait_synced(timeout=120)
        small = await writer.open("small", wait=True)
        db = await asyncpg.connect(url)
        stop = time.perf_counter() + seconds
        typed = 0
        views: set[object] = set()

        async def type_() -> None:
            nonlocal typed
            while time.perf_counter() < stop:
                big.get_text("body").insert(typed % 1000, "k")
                typed += 1
                await typist.wait_synced(timeout=60)

        async def watch() -> None:
            while time.perf_counter() < stop:
                views.add(await db.fetchval("SELECT updated_at FROM views WHERE doc_id='big'"))
                await asyncio.sleep(0.05)

        began = time.perf_counter()
        _, acks, _ = await asyncio.gather(type_(), _small_writer(writer, small, stop), watch())
        took = time.perf_counter() - began
        await db.close()
    return {
        **_ack_figures(acks, took),
        "typed_per_s": typed / took,
        "big_views_written": len(views) - 1,
    }


def _ack_figures(acks: list[float], took: float) -> dict[str, float]:
    """The small writer's figures: acknowledgements per second over ``took`` seconds, and
    the p50 / p99 / max of their times (ms)."""
    acks = sorted(acks)
    return {
        "small_acks_per_s": len(acks) / took,
        "small_p50_ms": acks[len(acks) // 2],
        "small_p99_ms": acks[int(len(acks) * 0.99)],
        "small_max_ms": acks[-1],
    }


async def _small_writer(writer: Any, small: Any, stop: float) -> list[float]:
    """Set a field of ``small`` one push at a time until ``stop``: each push's ms to its ack."""
    acks: list[float] = []
    i = 0
    while time.perf_counter() < stop:
        i += 1
        small.set("n", i)
        began = time.perf_counter()
        await writer.wait_synced(timeout=60)
        acks.append(1000 * (time.perf_counter() - began))
    return acks


async def _run_spread(url: str, spread: int, items: int, seconds: float) -> dict[str, float]:
    app = create_app(PostgresStore(url))
    async with (
        running(app) as server,
        connect(server, client_id="author") as author,
        connect(server, client_id="writer") as writer,
    ):
        docs = []
        for d in range(spread):
            doc = await author.open(f"list-{d}", wait=True)
            todo = doc.get_list("todo")
            for i in range(items):
                item = todo.insert_map(i)
                item.set("title", f"item {i} of list {d}")
                item.set("done", False)
            docs.append(doc)
        await author.wait_synced(timeout=300)
        small = await writer.open("small", wait=True)
        stop = time.perf_counter() + seconds
        rounds = 0

        async def tick_all() -> None:
            nonlocal rounds
            while time.perf_counter() < stop:
                rounds += 1
                for doc in docs:
                    doc.get_list("todo").get_map(rounds % items).set("done", rounds % 2 == 0)
                await author.wait_synced(timeout=120)

        began = time.perf_counter()
        _, acks = await asyncio.gather(tick_all(), _small_writer(writer, small, stop))
        took = time.perf_counter() - began
        views = app.state.synckit.hub.views_behind
    return {
        **_ack_figures(acks, took),
        "author_rounds_per_s": rounds / took,
        "views_behind_at_end": views,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=5.5, help="megabytes of text in 'big'")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--spread", type=int, default=0, help="documents of the author of lists")
    parser.add_argument("--items", type=int, default=2000, help="maps in each of those lists")
    args = parser.parse_args()
    result = asyncio.run(measure(args.mb, args.seconds, args.spread, args.items))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
