"""benchmarks/bench_scale.py still drives SyncKit: a smoke run of its SyncKit side (no peers)
at its smallest sizes, with its Python clients (no Node) and with SyncKit's TypeScript client on
the machine's Node (``_scale_clients.mjs``; skipped without Node or the client's npm packages).
The figures are not checked, only that every client got every edit, every push was
acknowledged and the fresh clients got their whole document (the script exits 1 otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TS_CLIENT = ROOT / "clients" / "typescript"


def _bench(tmp_path: Path, clients: str, *more: str, env: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in (env or os.environ).items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT / "src")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_scale.py"),
            "--quick",
            "--libs",
            "synckit",
            "--synckit-clients",
            clients,
            "--only",
            "latency100",
            "join",
            *more,
            "--json",
            str(tmp_path / "out.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "FAILED" not in out.stdout
    assert (tmp_path / "out.json").exists()
    return out.stdout


def test_bench_scale_smoke_run_of_synckit(tmp_path: Path) -> None:
    stdout = _bench(tmp_path, "python", "writers", "--durability", "full", "--no-postgres")
    assert "| edit -> other client, 20 clients in one document, p50 / p99 ms |" in stdout
    assert "| 10 writers on one document, acknowledged updates/s |" in stdout
    library = "(SyncKit: apps on synckit.client, which coalesces)"
    assert f"| 10 writers on one document, acknowledged updates/s {library} |" in stdout
    assert "| fresh client joins a 1,000-key document, median ms |" in stdout
    assert "TS clients on Node" not in stdout


def test_bench_scale_smoke_run_of_synckit_with_ts_clients(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: SyncKit's TS bench clients cannot run")
    if not (TS_CLIENT / "node_modules" / ".package-lock.json").exists():
        pytest.skip("clients/typescript has no node_modules (npm ci): its build cannot run")
    # the machine's Node (>= 20, the client's engines) instead of the peers' Node 22 install
    env = dict(os.environ, BENCH_NODE=node)
    more = ("writers", "--durability", "full", "--no-postgres")
    stdout = _bench(tmp_path, "node", *more, env=env)
    tag = "(SyncKit: TS clients on Node)"
    assert f"| edit -> other client, 20 clients in one document, p50 / p99 ms {tag} |" in stdout
    assert f"| 10 writers on one document, acknowledged updates/s {tag} |" in stdout
    assert f"| fresh client joins a 1,000-key document, median ms {tag} |" in stdout
