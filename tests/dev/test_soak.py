"""``python3 dev.py soak`` runs (for a few seconds here): a real server, honest clients whose
acked edits are all read back, abusers that get their typed errors, and the table of RSS,
file descriptors and asyncio tasks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from live import server_environment

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

ROOT = Path(__file__).resolve().parents[2]


def test_soak_for_a_few_seconds_passes_and_reports() -> None:
    env = dict(server_environment(), SYNCKIT_DEV_PYTHON=sys.executable)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    command = [sys.executable, str(ROOT / "dev.py"), "soak", "--seconds", "6"]
    command += ["--report-every", "1", "--honest", "3", "--seed", "5"]
    run = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert "soak: PASS" in out
    rows = re.findall(r"^\s+\d+\.\d\d\s+(\d+\.\d)\s+(\d+)\s+(\d+)\s", out, re.MULTILINE)
    assert len(rows) >= 5, out  # one a second
    assert all(float(rss) > 10 and int(fds) > 3 and int(tasks) >= 1 for rss, fds, tasks in rows)
    read_back = re.search(r"acked edits read back: (\d+) of (\d+) keys", out)
    assert read_back is not None and read_back[1] == read_back[2] and int(read_back[2]) > 0, out
    assert "slopes: too short to judge" in out
