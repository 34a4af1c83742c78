"""Compactions built in a worker process (``offload``) under a real ``synckit serve`` on SQLite:
clients keep pushing while snapshots are built and written, the server is killed with SIGKILL
mid-stream, and a restarted server holds every acknowledged change, equal to the clients'
replicas."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
from live import ServerProcess, eventually, free_port

from synckit.client import Client, connect


def snapshots(data: Path) -> int:
    db = sqlite3.connect(data / "synckit.db")
    try:
        return int(db.execute("SELECT count(*) FROM snapshots").fetchone()[0])
    finally:
        db.close()


def fast(url: str, **options: Any) -> Client:
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


async def test_acked_pushes_survive_a_kill_during_offloaded_compactions(tmp_path: Path) -> None:
    config = tmp_path / "synckit.toml"
    # Every document counts as large: each compaction (every 8 batches) is built in the worker.
    config.write_text("[limits]\ncompact_every = 8\noffload_bytes = 1\n")
    data, port = tmp_path / "data", free_port()
    args = ["--config", str(config), "--durability", "process"]
    proc = ServerProcess(data, port, args).start()
    try:
        async with fast(proc.url, client_id="a") as a, fast(proc.url, client_id="b") as b:
            doc_a, doc_b = await a.open("notes"), await b.open("notes")
            for i in range(60):
                doc_a.get_list("items").append(f"a{i}")
                doc_b.get_text("log").insert(0, f"b{i} ")
                if i % 2:
                    await a.wait_synced(timeout=20)
                    await b.wait_synced(timeout=20)
            # A snapshot built in the worker process (started on first use) is written.
            await eventually(lambda: snapshots(data) == 1, timeout=30, what="a compaction")
            for i in range(60, 80):  # more compactions due: killed while they are built
                doc_a.get_list("items").append(f"a{i}")
                await a.wait_synced(timeout=20)
            await eventually(lambda: doc_a.to_json() == doc_b.to_json(), what="converged")
            expected = doc_a.to_json()
            proc.kill()
            await eventually(lambda: not a.online, what="client sees the server gone")
        proc = ServerProcess(data, port, args).start()
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
        db = sqlite3.connect(data / "synckit.db")
        try:
            # Compacted along the way: a snapshot, and fewer log rows than batches pushed.
            assert db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
            assert db.execute("SELECT count(*) FROM changes").fetchone()[0] < 100
        finally:
            db.close()
        proc = ServerProcess(data, port, args).start()
        assert httpx.get(f"{proc.url}/v1/docs/notes", timeout=10).json() == expected
    finally:
        proc.terminate()
