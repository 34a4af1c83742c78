"""benchmarks/bench_scale.py still drives SyncKit: a smoke run of its SyncKit side (no peers,
no Node) at its smallest sizes. The figures are not checked, only that every client got every
edit and the fresh clients their whole document (the script exits 1 otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_scale_smoke_run_of_synckit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT / "src")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_scale.py"),
            "--quick",
            "--libs",
            "synckit",
            "--only",
            "latency100",
            "join",
            "--json",
            str(tmp_path / "out.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "| edit -> other client, 20 clients in one document" in out.stdout
    assert "| fresh client joins a 1,000-key document" in out.stdout
    assert "FAILED" not in out.stdout
    assert (tmp_path / "out.json").exists()
