"""The TypeScript client's own test suite (``clients/typescript``), run as part of this one.

``npm ci`` installs the pinned packages from the committed lockfile when ``node_modules`` is
missing or older than the lockfile; then ``npm test`` type-checks (``tsc --strict``) and runs
the ``node:test`` suites; the end-to-end ones start ``synckit serve`` with this interpreter
(``SYNCKIT_PYTHON``). Without Node.js the test skips saying so, except under
``SYNCKIT_REQUIRE_SERVICES=1`` (as CI runs), where a missing Node fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        message = "Node.js and npm are not installed: the TypeScript client's tests cannot run"
        if os.environ.get("SYNCKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} (SYNCKIT_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
    return npm


def _installed(npm: str) -> None:
    stamp = PACKAGE / "node_modules" / ".package-lock.json"
    lock = PACKAGE / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


def test_typescript_suite_passes() -> None:
    npm = _npm()
    _installed(npm)
    # The end-to-end tests start `synckit serve` and a Python peer with this interpreter.
    env = {**os.environ, "SYNCKIT_PYTHON": sys.executable}
    done = subprocess.run(
        [npm, "test"],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"npm test failed:\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    passed = re.search(r"\bpass (\d+)", done.stdout)
    assert passed is not None and int(passed.group(1)) > 0, done.stdout[-5000:]
    assert re.search(r"\bfail 0\b", done.stdout), done.stdout[-5000:]
