"""Edit -> other client latency on one server and across two servers (PostgreSQL + Redis).

    .venv/bin/python benchmarks/bench_fanout.py [--edits 200]

Two SyncKit servers (uvicorn on loopback, in this process) share a fresh PostgreSQL database
(created on the server ``DATABASE_URL`` names, default postgresql://postgres@127.0.0.1:5432/
postgres, dropped afterwards) and a ``RedisChangeBus`` on ``REDIS_URL`` (default
redis://127.0.0.1:6379/0). Client a sets a field; the time until client b sees it is one
sample; edits are sequential. Rows: both clients on server one, then a on one and b on two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from synckit.client import connect
from synckit.server import PostgresStore, RedisChangeBus, create_app, running

ADMIN_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def measure(url: str, edits: int) -> list[tuple[str, float, float]]:
    channel = f"synckit-bench:{secrets.token_hex(6)}"
    apps = [
        create_app(PostgresStore(url), change_bus=RedisChangeBus(REDIS_URL, channel))
        for _ in range(2)
    ]
    rows = []
    async with running(apps[0]) as one, running(apps[1]) as two:
        for label, (url_a, url_b) in (("one server", (one, one)), ("two servers", (one, two))):
            async with connect(url_a, client_id="a") as a, connect(url_b, client_id="b") as b:
                doc_id = label.replace(" ", "-")
                doc_a, doc_b = await a.open(doc_id, wait=True), await b.open(doc_id, wait=True)
                samples = []
                for i in range(edits):
                    started = time.perf_counter()
                    doc_a.set("k", i)
                    while doc_b.get("k") != i:
                        await asyncio.sleep(0.0002)
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                p50 = samples[len(samples) // 2]
                p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
                rows.append((label, p50, p99))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=200)
    args = parser.parse_args()
    name = f"synckit_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(ADMIN_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    try:
        rows = await measure(url, args.edits)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    base = rows[0][2]
    print(f"\n{args.edits} sequential edits, SyncKit, PostgreSQL + Redis\n")
    print("| clients on | p50, ms | p99, ms | p99 / one server's |")
    print("|---|---|---|---|")
    for label, p50, p99 in rows:
        print(f"| {label} | {p50:.2f} | {p99:.2f} | {p99 / base:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
