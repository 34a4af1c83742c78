"""`synckit serve --database`: a real server process on a real PostgreSQL, real clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from live import ServerProcess, eventually, free_port

from synckit.cli import main
from synckit.client import Client, connect


def fast(url: str, **options: Any) -> Client:
    """A client that retries quickly (the test restarts the server)."""
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


async def test_two_clients_converge_and_acks_survive_a_kill(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "synckit.toml"
    config.write_text("[limits]\ncompact_every = 8\n")  # compactions happen along the way
    port = free_port()
    data = tmp_path / "unused"
    proc = ServerProcess(data, port, ["--database", pg_url, "--config", str(config)]).start()
    assert "data in postgresql://" in proc.banner
    try:
        async with fast(proc.url, client_id="a") as a, fast(proc.url, client_id="b") as b:
            doc_a, doc_b = await a.open("notes"), await b.open("notes")
            for i in range(40):
                doc_a.get_list("items").append(f"a{i}")
                doc_b.get_list("items").append(f"b{i}")
                if i % 4 == 3:
                    # Each group its own push (a client coalesces the edits made while a push
                    # is in flight): at least 20 batches, so compaction (every 8) happens for
                    # sure, before the last acknowledgement (storage work runs in order).
                    await a.wait_synced(timeout=10)
                    await b.wait_synced(timeout=10)
            doc_a.get_text("title").insert(0, "Plan")
            doc_b.get_counter("n").increment(3)
            await a.wait_synced(timeout=10)
            await b.wait_synced(timeout=10)
            await eventually(lambda: doc_a.to_json() == doc_b.to_json(), what="converged")
            expected = doc_a.to_json()
            assert len(expected["items"]) == 80  # type: ignore[arg-type]
            proc.kill()  # SIGKILL right after the acknowledgements
            await eventually(lambda: not a.online, what="client sees the server gone")
        assert not data.exists()  # --data is unused with --database
        # Restarted with the URL from the environment instead of the flag.
        proc = ServerProcess(data, port, env={"DATABASE_URL": pg_url}).start()
        view = httpx.get(f"{proc.url}/v1/docs/notes", timeout=5).json()
        assert view == expected
        async with fast(proc.url) as fresh:
            copy = await fresh.open("notes")
            await eventually(lambda: copy.to_json() == expected, what="fresh copy complete")
        conn = await asyncpg.connect(pg_url)
        try:
            # Compacted along the way: a snapshot, and a log shorter than the batches pushed.
            assert await conn.fetchval("SELECT count(*) FROM snapshots") == 1
            assert await conn.fetchval("SELECT covered FROM snapshots") >= 8
        finally:
            await conn.close()
    finally:
        proc.terminate()


def test_serve_refuses_a_bad_or_unreachable_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--database", "mysql://x/y", "--data", str(tmp_path)], {}) == 2
    assert "postgresql://... URL" in capsys.readouterr().err
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/none"
    assert main(["serve", "--port", "0"], {"DATABASE_URL": url}) == 1
    err = capsys.readouterr().err
    assert "cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1" in err
    assert "hunter2" not in err
