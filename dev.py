#!/usr/bin/env python3
"""SyncKit's one entry point for developers: sets up ``.venv`` and runs a task in it.

    python3 dev.py serve [ARGS...]   run the server on embedded SQLite (data in ./data)
    python3 dev.py test [ARGS...]    run the whole test suite (pytest ARGS...)
    python3 dev.py check             ruff (lint and format) and mypy --strict
    python3 dev.py bench [ARGS...]   benchmarks side by side with pycrdt and loro
    python3 dev.py demo              two replicas syncing in one process, no server

The first run creates ``.venv`` and installs the project with its dev extra (and the bench
extra for ``bench``); later runs reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run under an older python3
        raise SystemExit(f"SyncKit needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".synckit-installed-{extras.replace(',', '-')}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"dev.py: installing synckit[{extras}] into {VENV}", flush=True)
    subprocess.run(
        [
            str(PY),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            f"{ROOT}[{extras}]",
        ],
        check=True,
    )
    stamp.write_text(digest)


def _run(argv: list[str]) -> int:
    return subprocess.call(argv, cwd=ROOT)


def main(args: list[str]) -> int:
    task, rest = (args[0], args[1:]) if args else ("help", [])
    if task == "serve":
        _ensure_env("dev")
        if not any(arg == "--data" or arg.startswith("--data=") for arg in rest):
            rest = ["--data", str(ROOT / "data"), *rest]
        return _run([str(BIN / "synckit"), "serve", *rest])
    if task == "test":
        _ensure_env("dev")
        return _run([str(PY), "-m", "pytest", *rest])
    if task == "check":
        _ensure_env("dev")
        return (
            _run([str(PY), "-m", "ruff", "check", "."])
            or _run([str(PY), "-m", "ruff", "format", "--check", "."])
            or _run([str(PY), "-m", "mypy"])
        )
    if task == "bench":
        _ensure_env("dev,bench")
        return _run([str(PY), str(ROOT / "benchmarks" / "run.py"), *rest])
    if task == "demo":
        _ensure_env("dev")
        return _run([str(PY), str(ROOT / "examples" / "two_replicas.py")])
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
