"""Benchmark TextState on the automerge-paper editing trace.

Measures: the local replay (µs per edit, best of a few runs, next to a plain ``str``
replay for scale), the snapshot size (ints as protobuf sint64 varints + UTF-8 content +
deletes as sint64 varints), decode_state time (best of many), and the memory the decoded
state holds (tracemalloc, current allocation after decoding).

Run: ``.venv/bin/python benchmarks/bench_text_state.py [--runs N] [--trace PATH]``
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import time
import tracemalloc
from pathlib import Path

from synckit.core._text import TextState

DEFAULT_TRACE = Path("/work/shared/traces/automerge-paper.json.gz")

Patch = tuple[int, int, str]


def load(path: Path) -> tuple[list[Patch], str]:
    with gzip.open(path) as f:
        data = json.load(f)
    patches = [(p[0], p[1], p[2]) for txn in data["txns"] for p in txn["patches"]]
    return patches, data["endContent"]


def replay(patches: list[Patch]) -> TextState:
    t = TextState(["author"])
    insert = t.local_insert
    delete = t.local_delete
    seq = 1
    for pos, n_del, ins in patches:
        if n_del:
            delete(0, seq, pos, n_del)
            seq += n_del
        if ins:
            insert(0, seq, pos, ins)
            seq += len(ins)
    return t


def replay_str(patches: list[Patch]) -> str:
    s = ""
    for pos, n_del, ins in patches:
        s = s[:pos] + ins + s[pos + n_del :]
    return s


def sint64_size(v: int) -> int:
    """Bytes of ``v`` as a protobuf sint64 (zigzag varint)."""
    z = (v << 1) ^ (v >> 63)
    n = 1
    while z >= 0x80:
        z >>= 7
        n += 1
    return n


def best_time(fn: object, runs: int) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="replay runs (best is reported)")
    ap.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    args = ap.parse_args()

    patches, end = load(args.trace)
    n = len(patches)
    state = replay(patches)
    assert str(state) == end, "replay does not reproduce endContent"

    t_replay = best_time(lambda: replay(patches), args.runs)
    t_str = best_time(lambda: replay_str(patches), args.runs)

    ints, content, deletes = state.encode_state()
    size_ints = sum(map(sint64_size, ints))
    size_content = len(content.encode())
    size_deletes = sum(map(sint64_size, deletes))
    size = size_ints + size_content + size_deletes

    decoded = TextState.decode_state(["author"], ints, content, deletes)
    assert str(decoded) == end
    assert decoded.ops_since(0, 0) == state.ops_since(0, 0)
    t_decode = best_time(lambda: TextState.decode_state(["author"], ints, content, deletes), 30)

    del decoded
    gc.collect()
    tracemalloc.start()
    decoded = TextState.decode_state(["author"], ints, content, deletes)
    gc.collect()
    mem, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(decoded) == len(end)

    rows = [
        ("trace", f"{args.trace.name}: {n:,} edits, final {len(end):,} chars"),
        ("replay (TextState)", f"{t_replay / n * 1e6:.2f} µs/edit  ({t_replay * 1e3:.0f} ms)"),
        ("replay (plain str)", f"{t_str / n * 1e6:.2f} µs/edit  ({t_str * 1e3:.0f} ms)"),
        ("state", repr(state)),
        (
            "snapshot",
            f"{size:,} B  (ints {size_ints:,} + content {size_content:,}"
            f" + deletes {size_deletes:,})",
        ),
        ("decode_state", f"{t_decode * 1e3:.2f} ms"),
        ("memory after decode", f"{mem / 2**20:.2f} MiB  ({mem:,} B, tracemalloc)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
