"""SyncKit benchmarks, side by side with pycrdt and loro, printed as markdown tables.

    .venv/bin/python benchmarks/run.py [--quick] [--only core|text|editor|lists|snapshot]
                                       [--json PATH]
    python3 dev.py bench [same options]

``--quick`` runs smaller sizes (a smoke run of a few seconds; its figures are not comparable
with the issues' targets). ``--only`` runs one of the five tables. ``--json`` also writes every
figure, with the run's metadata, to PATH. The exit status is 1 when a library produced wrong
text on the trace, replicas did not converge, or a library raised (the run still prints
everything it measured), 0 otherwise; a missed target is reported in the tables, not in the
exit status. README.md explains every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import core_bench
import editor_bench
import lists_bench
import snapshot_bench
import text_bench
from _measure import FAILURES, Figure

NAMES = {"synckit": "SyncKit", "pycrdt": "pycrdt", "loro": "loro", "plain": "plain"}


def _fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "n/a"
    if decimals == 0:
        return f"{round(value):,}"
    return f"{value:,.{decimals}f}"


def _ratio(fig: Figure, peer: str) -> str:
    mine, theirs = fig.values.get("synckit"), fig.values.get(peer)
    if mine is None or theirs is None or theirs == 0:
        return "—"
    return f"{mine / theirs:.2f}x"


def _mark(fig: Figure) -> str:
    passed = fig.passed()
    if passed is None:
        return "—" if fig.limit is None else "n/a"
    return "✅ pass" if passed else "❌ fail"


def _target(fig: Figure) -> str:
    if fig.limit is None:
        return fig.target
    text = f"{fig.target} = {_fmt(fig.limit, fig.decimals)}"
    if fig.target.startswith("≤ ") and fig.target[2:].replace(".", "").split()[0].isdigit():
        text = fig.target  # a fixed bound already shows its number
    if fig.goal:
        text += f"; {fig.goal}"
    return text


def _reference(fig: Figure, libs: tuple[str, ...]) -> str:
    if not fig.reference:
        return ""
    parts = [
        f"{_fmt(fig.reference[lib], fig.decimals)}" if lib in fig.reference else "—" for lib in libs
    ]
    return " / ".join(parts)


def table(figs: list[Figure], plain_label: str) -> str:
    libs = ("synckit", "pycrdt", "loro", "plain")
    ref_libs = ("pycrdt", "loro", "plain")
    has_plain = any(f.values.get("plain") is not None for f in figs)
    shown = libs if has_plain else libs[:3]
    head = [
        "figure",
        *(NAMES[lib] if lib != "plain" else plain_label for lib in shown),
        "SyncKit/pycrdt",
        "SyncKit/loro",
        "issue's figures ("
        + " / ".join(
            NAMES[lib] if lib != "plain" else plain_label
            for lib in (ref_libs if has_plain else ref_libs[:2])
        )
        + ")",
        "target",
        "met?",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for fig in figs:
        cells = [fig.label]
        for lib in shown:
            cells.append(_fmt(fig.values.get(lib), fig.decimals) if lib in fig.values else "—")
        cells += [
            _ratio(fig, "pycrdt"),
            _ratio(fig, "loro"),
            _reference(fig, ref_libs if has_plain else ref_libs[:2]),
            _target(fig),
            _mark(fig),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _errors(figs: list[Figure]) -> list[str]:
    seen: dict[str, str] = {}
    for fig in figs:
        for lib, msg in fig.errors.items():
            seen.setdefault(lib, msg)
    return [
        f"- {NAMES[lib]}: figures marked n/a could not be measured: {msg}"
        for lib, msg in seen.items()
    ]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("synckit", "pycrdt", "loro"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _git_state() -> str:
    """Short commit of the checkout, with "+ uncommitted changes under src/" when dirty."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} + uncommitted changes under src/" if dirty else rev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument(
        "--only", choices=("core", "text", "editor", "lists", "snapshot"), help="run one table only"
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results here")
    parser.add_argument(
        "--trace",
        type=Path,
        default=text_bench.DEFAULT_TRACE,
        help="editing trace for the text table (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    versions = _versions()
    versions["synckit_commit"] = _git_state()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "versions": versions,
    }
    quick_note = " (--quick: smoke sizes, not comparable with the targets)" if args.quick else ""
    out: list[str] = [
        f"SyncKit benchmarks{quick_note} — SyncKit at {versions['synckit_commit']};"
        f" Python {versions['python']}, pycrdt {versions['pycrdt']}, loro {versions['loro']},"
        f" {platform.machine()}",
        "",
    ]
    all_figs: list[Figure] = []
    if args.only in (None, "core"):
        core = core_bench.run_all(quick=args.quick)
        all_figs += core
        results["core"] = [f.as_json() for f in core]
        out += ["## Core (issue 2)", "", table(core, "plain dicts"), ""]
    if args.only in (None, "text"):
        text = text_bench.run_all(quick=args.quick, trace=args.trace)
        all_figs += text
        results["text"] = [f.as_json() for f in text]
        out += ["## Text (issue 3)", "", table(text, "plain str"), ""]
        for fig in text:
            tm = fig.extra.get("synckit_tracemalloc_mib")
            peak = fig.extra.get("synckit_tracemalloc_peak_mib")
            if tm is not None and peak is not None:
                out += [
                    f"SyncKit memory after load by tracemalloc (Python objects only): {tm:.2f} MiB"
                    f" live, {peak:.2f} MiB peak during the load; the RSS figure above also"
                    " counts allocator pages the load's temporaries left behind.",
                    "",
                ]

    if args.only in (None, "editor"):
        editor = editor_bench.run_all(quick=args.quick, trace=args.trace)
        all_figs += editor
        results["editor"] = [f.as_json() for f in editor]
        out += ["## Editor: remote edits as text events, and cursors", "", table(editor, "—"), ""]

    if args.only in (None, "lists"):
        lists = lists_bench.run_all(quick=args.quick)
        all_figs += lists
        results["lists"] = [f.as_json() for f in lists]
        out += ["## Lists", "", table(lists, "—"), "", *lists_bench.NOTES, ""]

    if args.only in (None, "snapshot"):
        snaps = snapshot_bench.run_all(quick=args.quick, trace=args.trace)
        all_figs += snaps
        results["snapshot"] = [f.as_json() for f in snaps]
        out += ["## Snapshots (issue 15)", "", table(snaps, "—"), ""]

    elapsed = time.perf_counter() - started
    results["seconds"] = round(elapsed, 1)
    results["failures"] = list(FAILURES)
    out += _errors(all_figs)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results["load_average"] = [load_before, load_after]
    cpus = os.cpu_count() or 1
    load_note = ""
    if load_before is not None and load_after is not None:
        load_note = (
            f" 1-minute load average {load_before:.2f} at the start, {load_after:.2f} at"
            f" the end, on {cpus} CPUs"
        )
        if max(load_before, load_after) > 1.5:
            load_note += " — other processes were running: figures may be inflated"
    out.append(f"Run took {elapsed:.0f} s.{load_note}")
    print("\n".join(out), flush=True)

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        print(f"Results written to {args.json}.")
    if FAILURES:
        print(
            "\nCORRECTNESS FAILURES (wrong text, no convergence, or a library raising):",
            file=sys.stderr,
        )
        for msg in FAILURES:
            print(f"  {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
