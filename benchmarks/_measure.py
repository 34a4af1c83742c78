"""Timing and memory helpers shared by the benchmark modules.

* :func:`best_of` times a callable ``repeat`` times with :func:`time.perf_counter_ns` and keeps
  the fastest run (the run least disturbed by the machine). An optional ``setup`` callable builds
  fresh state before every run, outside the timed region. The garbage collector is left on (it is
  part of what an application pays) but a full collection runs before every timed run, so one
  run's garbage is not billed to the next.
* :func:`run_child` runs one function of a benchmark module in a fresh interpreter and returns the
  JSON it prints. Memory figures use it so that every library starts from the same clean process
  and nothing a previous benchmark allocated (or an allocator's free lists) blurs the number.
* :func:`rss_bytes` reads the resident set size of the current process from
  ``/proc/self/status`` (``VmRSS``), falling back to :mod:`resource` where ``/proc`` is missing
  (there it is the peak RSS, which is the best that platform offers).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent

T = TypeVar("T")
R = TypeVar("R")


def best_of(
    run: Callable[[T], R],
    setup: Callable[[], T],
    repeat: int,
) -> tuple[int, R]:
    """Fastest of ``repeat`` timed calls ``run(setup())`` in nanoseconds, and the last result.

    ``setup`` is not timed. The result of the last run is returned so that callers can verify
    it (or reuse what it built) outside the timed region.
    """
    best, result = _timed_once(run, setup)
    for _ in range(repeat - 1):
        elapsed, result = _timed_once(run, setup)
        best = min(best, elapsed)
    return best, result


def _timed_once(run: Callable[[T], R], setup: Callable[[], T]) -> tuple[int, R]:
    state = setup()
    gc.collect()
    start = time.perf_counter_ns()
    result = run(state)
    elapsed = time.perf_counter_ns() - start
    return elapsed, result


def best_of_simple(run: Callable[[], R], repeat: int) -> tuple[int, R]:
    """Fastest of ``repeat`` timed calls of ``run()`` with no per-run setup, in nanoseconds."""
    return best_of(lambda _none: run(), lambda: None, repeat)


def rss_bytes() -> int:
    """Current resident set size of this process in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def settle() -> None:
    """Collect garbage twice so that RSS readings see only live objects."""
    gc.collect()
    gc.collect()


def run_child(module: str, function: str, *args: str, timeout: float = 600.0) -> dict[str, Any]:
    """Run ``module.function(*args)`` in a fresh interpreter; return the dict it returns.

    The function must return a JSON-serialisable dict. The child's stdout carries only that JSON
    (on its last line); anything it prints to stderr is passed through.
    """
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(BENCH_DIR)!r})\n"
        f"from {module} import {function} as _f\n"
        "_r = _f(*sys.argv[1:])\n"
        "print(json.dumps(_r))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark child {module}.{function}{args} failed "
            f"(exit {proc.returncode}):\n{proc.stderr}"
        )
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def ns_per(total_ns: int, count: int) -> float:
    """Nanoseconds -> microseconds per item."""
    return total_ns / count / 1000.0


def ms(total_ns: int) -> float:
    return total_ns / 1e6


def mib(n_bytes: int | float) -> float:
    return n_bytes / (1024 * 1024)


LIBS = ("synckit", "pycrdt", "loro", "plain")

#: Correctness failures found during the run: wrong text, replicas that did not converge, a
#: library raising on its own data. ``run.py`` prints them and exits non-zero.
FAILURES: list[str] = []


@dataclass
class Figure:
    """One row of a results table: a figure measured for each library, and its target.

    ``values`` maps a library name (see :data:`LIBS`) to the measured value, or ``None`` where it
    was not measured (``errors`` then says why, if it failed). ``limit`` is the upper bound the
    SyncKit value must not exceed (already resolved against this run's peer figures), ``None``
    where the issue sets no target. ``reference`` holds the issue's published figures.
    """

    key: str
    label: str
    unit: str
    decimals: int = 2
    values: dict[str, float | None] = field(default_factory=dict)
    target: str = "—"
    limit: float | None = None
    goal: str = ""
    reference: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def passed(self) -> bool | None:
        value = self.values.get("synckit")
        if self.limit is None or value is None:
            return None
        return value <= self.limit

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed()
        return data


def attempt(fig: Figure, lib: str, fn: Callable[[], float]) -> None:
    """Store ``fn()`` as ``fig.values[lib]``; on failure store ``None`` and the error."""
    try:
        fig.values[lib] = fn()
    except Exception as exc:  # a broken library must not hide the others' figures
        fig.values[lib] = None
        fig.errors[lib] = f"{type(exc).__name__}: {exc}"
        FAILURES.append(f"{lib}: {fig.key}: {fig.errors[lib]}")
        print(f"  ! {fig.key}/{lib} failed: {fig.errors[lib]}", file=sys.stderr, flush=True)


def new_loro_doc(peer: int | None = None) -> Any:
    """A ``loro.LoroDoc`` (its constructor is untyped in loro's stubs), with ``peer`` as peer id."""
    import loro

    module: Any = loro
    doc = module.LoroDoc()
    if peer is not None:
        doc.peer_id = peer
    return doc


def progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)
