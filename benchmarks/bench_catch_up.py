"""The periodic catch-up of one open document with nothing new: before (the whole stored
document read, decoded and merged) and after (``PostgresStore.read_new``: the log entries
after the last one read).

    .venv/bin/python benchmarks/bench_catch_up.py [--changes 10000] [--rounds 20]

On a fresh PostgreSQL database (created on the server ``DATABASE_URL`` names, default
postgresql://postgres@127.0.0.1:5432/postgres, dropped afterwards), one document gets
``--changes`` batches of one edit each (fields, a counter, a list, a text), stored two ways:
all in the log (never compacted), and as a snapshot of all but the last 100 plus those 100 in
the log (a compacted document, as a server keeps it with ``compact_every`` 256). A server
loads it (as when a client opens it), then catches up ``--rounds`` times with nothing new.
Rows: median time per catch-up and payload bytes read from PostgreSQL (snapshot and log
entries), before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from synckit import Document
from synckit._logged import LoggedDocument
from synckit.server import PostgresStore

ADMIN_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def batches(count: int) -> tuple[list[bytes], Document]:
    """``count`` change batches of one random edit each, and the document they make."""
    doc, rnd = Document("writer"), random.Random(1)
    out = []
    for i in range(count):
        before = doc.version()
        roll = rnd.random()
        if roll < 0.3:
            doc.set(f"f{i % 500}", i)
        elif roll < 0.5:
            doc.get_counter("n").increment(1)
        elif roll < 0.7:
            items = doc.get_list("l")
            items.insert(rnd.randint(0, len(items)), i)
        else:
            text = doc.get_text("t")
            text.insert(rnd.randint(0, len(text)), "abcdefgh"[i % 8])
        out.append(doc.changes(before))
    return out, doc


async def fill(store: PostgresStore, doc_id: str, data: list[bytes]) -> None:
    for start in range(0, len(data), 500):
        await store.append_many([(doc_id, b) for b in data[start : start + 500]])


async def measure(url: str, changes: int, rounds: int) -> list[tuple[str, str, float, int]]:
    data, whole = batches(changes)
    writer = await PostgresStore.connect(url)
    server = await PostgresStore.connect(url)
    rows = []
    try:
        await fill(writer, "log", data)
        await fill(writer, "snap", data)
        await writer.load("snap")
        await writer.compact("snap", whole.save(), len(data) - 100)  # the last 100 stay
        for doc_id, shape in (("log", "all in the log"), ("snap", "snapshot + 100 in the log")):
            held = LoggedDocument.restore(await server.load(doc_id)).doc
            before, before_bytes = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                stored = await server.read(doc_id)  # the old catch-up: everything, decoded
                assert stored is not None
                held.apply(LoggedDocument.restore(stored).doc.changes())
                before.append(time.perf_counter() - started)
                before_bytes = stored.size
            after, after_bytes = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                found = await server.read_new([doc_id])
                for new in found.values():
                    for batch in new.changes:
                        held.apply(batch)
                after.append(time.perf_counter() - started)
                after_bytes = sum(s.size for s in found.values())
            rows.append((shape, "before", statistics.median(before) * 1000, before_bytes))
            rows.append((shape, "after", statistics.median(after) * 1000, after_bytes))
    finally:
        await writer.close()
        await server.close()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    name = f"synckit_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
        rows = await measure(url, args.changes, args.rounds)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"catch-up of one open document of {args.changes:,} changes, nothing new")
    print(f"{'stored as':<28} {'catch-up':<8} {'ms (median)':>12} {'bytes read':>12}")
    for shape, which, ms, nbytes in rows:
        print(f"{shape:<28} {which:<8} {ms:>12.2f} {nbytes:>12,}")


if __name__ == "__main__":
    asyncio.run(main())
