"""The web examples (``examples/web``) and the React package (``clients/react``), run here.

``npm ci`` installs each package's pinned dependencies from its committed lockfile when
``node_modules`` is missing or older than the lockfile (``clients/typescript``, then
``clients/react`` and ``examples/web``, which use it through ``file:``). Then:

* ``clients/react``: ``npm test`` (``tsc --strict``, re-render counts with
  react-test-renderer, presence through a real ``synckit serve``);
* ``examples/web``: ``npm run build`` (type-check and bundle both apps), then
  ``npm run test:browser``: headless Chromium (the system's ``chromium``, driven by
  ``playwright-core``) against a real ``synckit serve --static`` started with this
  interpreter. Screenshots of each app after its scripted session go to
  ``artifacts/browser/`` (git-ignored).

Without Node.js or Chromium a test skips saying what is missing, except under
``SYNCKIT_REQUIRE_SERVICES=1`` (as CI runs), where that fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
REACT = ROOT / "clients" / "react"
WEB = ROOT / "examples" / "web"
ARTIFACTS = ROOT / "artifacts" / "browser"


def _missing(message: str) -> None:
    if os.environ.get("SYNCKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (SYNCKIT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _missing("Node.js and npm are not installed: the web examples' tests cannot run")
    assert npm is not None
    return npm


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        _missing("Chromium is not installed (apt-get install -y chromium): no browser tests")
    return found


def _run(argv: list[str], cwd: Path, timeout: int, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    assert done.returncode == 0, (
        f"{' '.join(argv)} in {cwd} failed:\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    )
    return done.stdout


def _installed(npm: str, package: Path) -> None:
    stamp = package / "node_modules" / ".package-lock.json"
    lock = package / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run([npm, "ci", "--no-audit", "--no-fund"], package, 600)


def _all_installed(npm: str) -> None:
    for package in (CLIENT, REACT, WEB):
        _installed(npm, package)


def _passed(stdout: str) -> None:
    passed = re.search(r"\bpass (\d+)", stdout)
    assert passed is not None and int(passed.group(1)) > 0, stdout[-5000:]
    assert re.search(r"\bfail 0\b", stdout), stdout[-5000:]


def test_react_package_suite_passes() -> None:
    npm = _npm()
    _all_installed(npm)
    # Its presence test starts `synckit serve` with this interpreter.
    env = {**os.environ, "SYNCKIT_PYTHON": sys.executable}
    _passed(_run([npm, "test"], REACT, 600, env))


def test_web_examples_in_chromium() -> None:
    npm = _npm()
    chromium = _chromium()
    _all_installed(npm)
    _run([npm, "run", "build"], WEB, 600)
    env = {
        **os.environ,
        "SYNCKIT_PYTHON": sys.executable,
        "CHROMIUM": chromium,
        "SYNCKIT_ARTIFACTS": str(ARTIFACTS),
    }
    _passed(_run([npm, "run", "test:browser"], WEB, 900, env))
    for name in ("todo", "todo-offline", "todo-revoked", "notes"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 0, name
