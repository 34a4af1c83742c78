"""The fuzzing corpus as a regression test: every file of ``fuzz/corpus/<target>/`` through its
target's harness (``fuzz/targets.py``), without atheris.

The corpus is the minimised set of inputs the coverage-guided fuzzer kept (``python3 dev.py
fuzz``), the inputs of every crash it found, and the seeds the core made; each harness asserts
the decoder's contract (only the documented error, the document untouched after a refusal).
"""

from __future__ import annotations

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
