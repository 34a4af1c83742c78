"""Compactions built in a worker process (``offload``) under a real ``synckit serve``, on SQLite
and on a real PostgreSQL: clients keep pushing while snapshots are built and written, the server
is killed with SIGKILL mid-stream, and a restarted server holds every acknowledged change,
equal to the clients' replicas."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from live import ServerProcess, eventually, free_port

from synckit.client import Client, connect


def fast(url: str, **options: Any) -> Client:
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


class Stored:
    """What the server's store holds, read behind its back."""

    def __init__(self, data: Path, pg_url: str | None) -> None:
        self.data, self.pg_url = data, pg_url

    @property
    def args(self) -> list[str]:
        if self.pg_url is None:
            return ["--durability", "process"]
        return ["--database", self.pg_url]

    async def _one(self, sql: str) -> int:
        if self.pg_url is not None:
            conn = await asyncpg.connect(self.pg_url)
            try:
                return int(await conn.fetchval(sql))
            finally:
                await conn.close()
        db = sqlite3.connect(self.data / "synckit.db")
        try:
            return int(db.execute(sql).fetchone()[0])
        finally:
            db.close()

    async def snapshots(self) -> int:
        return await self._one("SELECT count(*) FROM snapshots")

    async def compacted(self) -> bool:
        """The snapshot covers batches: on PostgreSQL it says how many (at least one
        compaction's 8); on SQLite the log holds fewer rows than the batches pushed."""
        if self.pg_url is not None:
            return await self._one("SELECT covered FROM snapshots") >= 8
        return await self._one("SELECT count(*) FROM changes") < 100


@pytest.fixture(params=["sqlite", "postgresql"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Stored:
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return Stored(tmp_path / "data", pg_url)


async def test_acked_pushes_survive_a_kill_during_offloaded_compactions(
    stored: Stored, tmp_path: Path
) -> None:
    config = tmp_path / "synckit.toml"
    # Every document counts as large: each compaction (every 8 batches) is built in the worker.
    config.write_text("[limits]\ncompact_every = 8\noffload_bytes = 1\n")
    port = free_port()
    args = ["--config", str(config), *stored.args]
    proc = ServerProcess(stored.data, port, args).start()
    try:
        async with fast(proc.url, client_id="a") as a, fast(proc.url, client_id="b") as b:
            doc_a, doc_b = await a.open("notes"), await b.open("notes")
            for i in range(60):
                doc_a.get_list("items").append(f"a{i}")
                doc_b.get_text("log").insert(0, f"b{i} ")
                if i % 2:
                    await a.wait_synced(timeout=20)
                    await b.wait_synced(timeout=20)

            async def one_snapshot() -> bool:
                return await stored.snapshots() == 1

            # A snapshot built in the worker process (started on first use) is written.
            await eventually(one_snapshot, timeout=30, what="a compaction")
            for i in range(60, 80):  # more compactions due: killed while they are built
                doc_a.get_list("items").append(f"a{i}")
                await a.wait_synced(timeout=20)
            await eventually(lambda: doc_a.to_json() == doc_b.to_json(), what="converged")
            expected = doc_a.to_json()
            proc.kill()
            await eventually(lambda: not a.online, what="client sees the server gone")
        proc = ServerProcess(stored.data, port, args).start()
        view = httpx.get(f"{proc.url}/v1/docs/notes", timeout=10).json()
        assert view == expected
        assert len(view["items"]) == 80
        async with fast(proc.url, client_id="c") as c:
            doc_c = await c.open("notes")
            await eventually(lambda: doc_c.to_json() == expected, what="replica complete")
            for i in range(20):
                doc_c.get_list("items").append(f"c{i}")
                await c.wait_synced(timeout=20)
            expected = doc_c.to_json()
        proc.terminate()
        # Compacted along the way: one snapshot, and the batches it covers left the log.
        assert await stored.snapshots() == 1
        assert await stored.compacted()
        proc = ServerProcess(stored.data, port, args).start()
        assert httpx.get(f"{proc.url}/v1/docs/notes", timeout=10).json() == expected
    finally:
        proc.terminate()
