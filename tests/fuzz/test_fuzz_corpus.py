"""The fuzzing corpus as a regression test: every file of ``fuzz/corpus/<target>/`` through its
target's harness (``fuzz/targets.py``), without atheris.

The corpus is the minimised set of inputs the coverage-guided fuzzer kept (``python3 dev.py
fuzz``), the inputs of every crash it found, and the seeds the core made; each harness asserts
the decoder's contract (only the documented error, the document untouched after a refusal).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ))

from targets import TARGETS  # noqa: E402

CORPUS = FUZZ / "corpus"


def test_every_target_has_a_corpus() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(TARGETS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_corpus(target: str) -> None:
    files = sorted((CORPUS / target).iterdir())
    assert files, f"fuzz/corpus/{target} is empty"
    harness = TARGETS[target]
    started = time.monotonic()
    for path in files:
        try:
            harness(path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"fuzz/corpus/{target}/{path.name}: {exc!r}") from exc
    # A slow input is a hang the fuzzer's -timeout would report; keep the corpus quick.
    assert time.monotonic() - started < 20, f"fuzz/corpus/{target} took too long"


def _dev_py(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SYNCKIT_DEV_PYTHON=sys.executable)
    return subprocess.run(
        [sys.executable, str(FUZZ.parent / "dev.py"), "fuzz", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=FUZZ.parent,
    )


def test_dev_py_fuzz_without_a_target_lists_them() -> None:
    done = _dev_py()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(TARGETS)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="needs the fuzz extra")
def test_dev_py_fuzz_runs_a_target_under_atheris(tmp_path: Path) -> None:
    # A corpus folder given: the run writes there, not into fuzz/work.
    done = _dev_py("version", "--runs", "500", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Done 500 runs" in done.stderr
