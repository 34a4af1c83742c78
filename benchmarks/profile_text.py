"""Profile SyncKit with pyinstrument on the benchmark workloads and print the report.

    .venv/bin/python benchmarks/profile_text.py                 # trace replay, edit only
    .venv/bin/python benchmarks/profile_text.py --export        # edit + changes(prev) per edit
    .venv/bin/python benchmarks/profile_text.py --load          # save() then Document.load()
    .venv/bin/python benchmarks/profile_text.py --merge         # the core table's 2-replica merge
    options: --edits N (replay only the first N edits), --interval SECONDS, --html PATH

The replay is exactly the one ``run.py`` times (``text_bench.synckit_replay``); the merge is the
timed part of ``core_bench``'s merge figure (export and import both ways), repeated on fresh
replicas so the sampler collects enough samples.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import core_bench
import text_bench
from pyinstrument import Profiler

from synckit import Document  # imported before profiling starts


def _merge_workload(rounds: int) -> tuple[list[Any], Any]:
    n = core_bench.CoreSizes().merge_ops
    script_a = core_bench._script(1, n, 100)
    script_b = core_bench._script(2, n, 100)

    def build(cid: str, script: list[tuple[str, int, int, str]]) -> Document:
        doc = Document(cid)
        text = doc.get_text("text")
        for key, value, pos, ch in script:
            doc.set(key, value)
            text.insert(pos, ch)
        return doc

    pairs = [(build("replica-a", script_a), build("replica-b", script_b)) for _ in range(rounds)]

    def merge_all() -> None:
        for a, b in pairs:
            va, vb = a.version(), b.version()
            ab = a.changes(vb)
            ba = b.changes(va)
            b.apply(ab)
            a.apply(ba)

    return list(pairs), merge_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pyinstrument over SyncKit's benchmark workloads")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--export", action="store_true", help="edit + changes(prev) per edit")
    what.add_argument("--load", action="store_true", help="profile save() and Document.load()")
    what.add_argument("--merge", action="store_true", help="profile the 2-replica merge")
    parser.add_argument("--edits", type=int, default=None, help="replay only the first N edits")
    parser.add_argument("--rounds", type=int, default=20, help="merge rounds (with --merge)")
    parser.add_argument("--interval", type=float, default=0.001, help="sampling interval, s")
    parser.add_argument("--trace", type=Path, default=text_bench.DEFAULT_TRACE)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)

    profiler = Profiler(interval=args.interval)
    if args.merge:
        _pairs, merge_all = _merge_workload(args.rounds)
        profiler.start()
        merge_all()
        profiler.stop()
    else:
        patches, want = text_bench.load_trace(args.trace, args.edits)
        if args.load:
            doc, _ = text_bench.synckit_replay(patches, False)
            profiler.start()
            for _ in range(10):
                snap = text_bench.synckit_save(doc)
                loaded = text_bench.synckit_load(snap)
            profiler.stop()
            got = text_bench._synckit_text(loaded)
        else:
            profiler.start()
            doc, _ = text_bench.synckit_replay(patches, args.export)
            profiler.stop()
            got = text_bench._synckit_text(doc)
        if got != want:
            print("WRONG TEXT: SyncKit's result does not equal the expected text", file=sys.stderr)
            return 1
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html is not None:
        args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
