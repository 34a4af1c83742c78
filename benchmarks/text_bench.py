"""Text benchmarks (issue 3): the automerge-paper editing trace through SyncKit, pycrdt and loro.

Every library replays the same keystroke trace through its public text API, one committed change
per edit (what an editor does on each keystroke). The final text of each replay and of each
loaded snapshot is checked against the trace's ``endContent``; a mismatch is recorded in
:data:`_measure.FAILURES` and makes ``run.py`` exit non-zero. README.md says exactly what each
figure is.
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import (
    FAILURES,
    Figure,
    best_of_simple,
    ms,
    new_loro_doc,
    progress,
    rss_bytes,
    run_child,
    settle,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACE = ROOT.parent / "shared" / "traces" / "automerge-paper.json.gz"

Patch = tuple[int, int, str]


@dataclass(frozen=True)
class TextSizes:
    edits: int | None = None  # None: the whole trace
    replay_repeat: int = 5
    export_repeat: int = 3
    load_repeat: int = 20
    mem_children: int = 3


QUICK = TextSizes(edits=20_000, replay_repeat=1, export_repeat=1, load_repeat=3, mem_children=1)


def load_trace(path: Path, edits: int | None) -> tuple[list[Patch], str]:
    """The trace's patches (first ``edits`` of them) and the text they must produce."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    patches: list[Patch] = [
        (int(p[0]), int(p[1]), str(p[2])) for txn in data["txns"] for p in txn["patches"]
    ]
    if edits is None or edits >= len(patches):
        return patches, str(data["endContent"])
    patches = patches[:edits]
    return patches, replay_str(patches)


def replay_str(patches: list[Patch]) -> str:
    s = ""
    for pos, nd, ins in patches:
        s = s[:pos] + ins + s[pos + nd :]
    return s


def _check(lib: str, what: str, got: str, want: str) -> None:
    if got != want:
        at = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
            min(len(got), len(want)),
        )
        msg = (
            f"{lib}: {what} does not equal endContent "
            f"(len {len(got):,} vs {len(want):,}, first difference at {at:,})"
        )
        FAILURES.append(msg)
        progress(f"  !!! WRONG TEXT: {msg}")


# --------------------------------------------------------------------------- replays
# Each returns (document, sent bytes). ``export`` also produces each edit's outgoing bytes.


def synckit_replay(patches: list[Patch], export: bool) -> tuple[Any, int]:
    from synckit import Document

    doc = Document("trace")
    text = doc.get_text("text")
    ins, dele = text.insert, text.delete
    sent = 0
    if not export:
        for pos, nd, s in patches:
            if nd:
                dele(pos, nd)
            if s:
                ins(pos, s)
        return doc, sent
    changes, version = doc.changes, doc.version
    since = version()
    for pos, nd, s in patches:
        if nd:
            dele(pos, nd)
        if s:
            ins(pos, s)
        sent += len(changes(since))
        since = version()
    return doc, sent


def pycrdt_replay(patches: list[Patch], export: bool) -> tuple[Any, int]:
    from pycrdt import Doc, Text, TransactionEvent

    doc: Any = Doc(client_id=1)
    text = doc.get("text", type=Text)
    ins = text.insert
    sent = 0
    if export:

        def on_commit(event: TransactionEvent) -> None:
            nonlocal sent
            sent += len(event.update)

        doc.observe(on_commit)
    for pos, nd, s in patches:  # ASCII trace: pycrdt's byte offsets equal code points
        if nd:
            del text[pos : pos + nd]
        if s:
            ins(pos, s)
    return doc, sent


def loro_replay(patches: list[Patch], export: bool, commit: bool = True) -> tuple[Any, int]:
    doc = new_loro_doc(1)
    text = doc.get_text("text")
    ins, dele, do_commit = text.insert, text.delete, doc.commit
    sent = 0
    sub: Any = None
    if export:

        def on_update(update: bytes) -> bool:
            nonlocal sent
            sent += len(update)
            return True

        sub = doc.subscribe_local_update(on_update)
    if commit:
        for pos, nd, s in patches:
            if nd:
                dele(pos, nd)
            if s:
                ins(pos, s)
            do_commit()
    else:
        for pos, nd, s in patches:
            if nd:
                dele(pos, nd)
            if s:
                ins(pos, s)
        do_commit()
    del sub
    return doc, sent


def _synckit_text(doc: Any) -> str:
    return str(doc.get_text("text"))


def _pycrdt_text(doc: Any) -> str:
    from pycrdt import Text

    return str(doc.get("text", type=Text))


def _loro_text(doc: Any) -> str:
    return str(doc.get_text("text").to_string())


# --------------------------------------------------------------------------- snapshots


def synckit_save(doc: Any) -> bytes:
    return bytes(doc.save())


def pycrdt_save(doc: Any) -> bytes:
    return bytes(doc.get_update())


def loro_save(doc: Any) -> bytes:
    from loro import ExportMode

    return bytes(doc.export(ExportMode.Snapshot()))


def synckit_load(data: bytes) -> Any:
    from synckit import Document

    return Document.load(data)


def pycrdt_load(data: bytes) -> Any:
    from pycrdt import Doc

    doc: Any = Doc()
    doc.apply_update(data)
    return doc


def loro_load(data: bytes) -> Any:
    doc = new_loro_doc()
    doc.import_(data)
    return doc


REPLAY: dict[str, Callable[[list[Patch], bool], tuple[Any, int]]] = {
    "synckit": synckit_replay,
    "pycrdt": pycrdt_replay,
    "loro": loro_replay,
}
READ: dict[str, Callable[[Any], str]] = {
    "synckit": _synckit_text,
    "pycrdt": _pycrdt_text,
    "loro": _loro_text,
}
SAVE: dict[str, Callable[[Any], bytes]] = {
    "synckit": synckit_save,
    "pycrdt": pycrdt_save,
    "loro": loro_save,
}
LOAD: dict[str, Callable[[bytes], Any]] = {
    "synckit": synckit_load,
    "pycrdt": pycrdt_load,
    "loro": loro_load,
}


def memory_child(lib: str, snapshot_path: str, expect_len: str) -> dict[str, Any]:
    """Child process: RSS growth from loading a snapshot, then after reading the text once.

    The library is imported and the snapshot bytes read before the baseline; a tiny throwaway
    document is loaded first so one-time initialisation is not counted.
    """
    data = Path(snapshot_path).read_bytes()
    load, read = LOAD[lib], READ[lib]
    warm_doc, _ = REPLAY[lib]([(0, 0, "x")], False)
    warm = load(SAVE[lib](warm_doc))
    read(warm)
    del warm, warm_doc
    settle()
    before = rss_bytes()
    doc = load(data)
    settle()
    after_load = rss_bytes()
    n = len(read(doc))
    settle()
    after_read = rss_bytes()
    assert n == int(expect_len), f"{lib}: loaded text has {n} characters, want {expect_len}"
    result: dict[str, Any] = {
        "after_load": after_load - before,
        "after_read": after_read - before,
        "rss_before": before,
    }
    if lib == "synckit":
        # Pure Python: tracemalloc sees all of it, so also give the exact figure (extra info;
        # the table uses RSS for every library).
        import tracemalloc

        del doc
        settle()
        tracemalloc.start()
        doc = load(data)
        settle()
        current, peak = tracemalloc.get_traced_memory()
        result["tracemalloc_after_load"] = current
        result["tracemalloc_peak_during_load"] = peak
        tracemalloc.stop()
    del doc
    return result


# --------------------------------------------------------------------------- the suite


def run_all(quick: bool = False, trace: Path = DEFAULT_TRACE) -> list[Figure]:
    sizes = QUICK if quick else TextSizes()
    progress(f"text: loading trace {trace}")
    patches, want = load_trace(trace, sizes.edits)
    n = len(patches)
    name = trace.name.removesuffix(".json.gz")
    suffix = f" ({n:,}-edit prefix)" if sizes.edits is not None else ""

    f_edit = Figure(
        "edit_us",
        f"{name}{suffix}: µs/edit, edit only",
        "µs/edit",
        reference={"pycrdt": 18.4, "loro": 1.2, "plain": 3.6},
        target="≤ 4 µs (plain-str floor)",
        limit=4.0,
    )
    f_edit_nc = Figure(
        "edit_us_nocommit",
        "  … loro without a commit per edit",
        "µs/edit",
    )
    f_export = Figure(
        "edit_export_us",
        "µs/edit, edit + export",
        "µs/edit",
        reference={"pycrdt": 19.2, "loro": 4.2},
        limit=8.0,
    )
    f_sent = Figure("sent_bytes", "  … total bytes exported", "bytes", decimals=0)
    f_snap = Figure(
        "snapshot_bytes",
        "snapshot bytes",
        "bytes",
        decimals=0,
        reference={"pycrdt": 376_756, "loro": 229_568},
        goal="goal 129,116 (Automerge's)",
    )
    f_load = Figure(
        "load_ms",
        "snapshot load, ms",
        "ms",
        reference={"pycrdt": 4.5, "loro": 0.7},
    )
    f_load_read = Figure("load_read_ms", "  … load + read the text, ms", "ms")
    f_mem = Figure(
        "memory_mib",
        "memory after load, MiB (RSS delta)",
        "MiB",
        reference={"pycrdt": 2.4, "loro": 0.7},
    )
    f_mem_read = Figure("memory_read_mib", "  … after load + reading the text once, MiB", "MiB")
    figs = [f_edit, f_edit_nc, f_export, f_sent, f_snap, f_load, f_load_read, f_mem, f_mem_read]

    progress(f"text: plain str replay ({n:,} edits)")
    t, s = best_of_simple(lambda: replay_str(patches), sizes.replay_repeat)
    _check("plain str", "replay", s, want)
    f_edit.values["plain"] = t / n / 1000

    with tempfile.TemporaryDirectory(prefix="synckit-bench-") as tmp:
        for lib in ("synckit", "pycrdt", "loro"):
            try:
                _one_library(lib, patches, want, sizes, figs, Path(tmp))
            except Exception as exc:  # one broken library must not hide the others' figures
                msg = f"{type(exc).__name__}: {exc}"
                progress(f"  ! {lib} failed: {msg}")
                FAILURES.append(f"{lib}: text benchmark stopped: {msg}")
                for fig in figs:
                    if lib not in fig.values and fig.key != "edit_us_nocommit":
                        fig.values[lib] = None
                        fig.errors[lib] = msg

    f_export.target = "≤ 8 µs"
    loro_export = f_export.values.get("loro")
    if loro_export is not None:
        f_export.goal = f"goal loro's {loro_export:.2f}"
    f_snap.target, f_snap.limit = "≤ loro's", f_snap.values.get("loro")
    f_load.target, f_load.limit = "≤ pycrdt's", f_load.values.get("pycrdt")
    f_mem.target, f_mem.limit = "≤ pycrdt's", f_mem.values.get("pycrdt")
    return figs


def _one_library(
    lib: str,
    patches: list[Patch],
    want: str,
    sizes: TextSizes,
    figs: list[Figure],
    tmp: Path,
) -> None:
    f = {fig.key: fig for fig in figs}
    n = len(patches)
    replay, read, save, load = REPLAY[lib], READ[lib], SAVE[lib], LOAD[lib]

    progress(f"text: {lib} replay, edit only")
    t, (doc, _) = best_of_simple(lambda: replay(patches, False), sizes.replay_repeat)
    _check(lib, "replayed text", read(doc), want)
    f["edit_us"].values[lib] = t / n / 1000

    if lib == "loro":
        progress("text: loro replay, edit only, no commit per edit")
        t, (nc_doc, _) = best_of_simple(
            lambda: loro_replay(patches, False, commit=False), sizes.replay_repeat
        )
        _check(lib, "replayed text (no commit)", read(nc_doc), want)
        f["edit_us_nocommit"].values[lib] = t / n / 1000
        del nc_doc

    progress(f"text: {lib} replay, edit + export")
    t, (exp_doc, sent) = best_of_simple(lambda: replay(patches, True), sizes.export_repeat)
    _check(lib, "replayed text (with export)", read(exp_doc), want)
    f["edit_export_us"].values[lib] = t / n / 1000
    f["sent_bytes"].values[lib] = sent
    del exp_doc

    snap = save(doc)
    del doc
    f["snapshot_bytes"].values[lib] = len(snap)

    progress(f"text: {lib} snapshot load")
    t, loaded = best_of_simple(lambda: load(snap), sizes.load_repeat)
    _check(lib, "text loaded from the snapshot", read(loaded), want)
    f["load_ms"].values[lib] = ms(t)
    del loaded
    t, _ = best_of_simple(lambda: read(load(snap)), sizes.load_repeat)
    f["load_read_ms"].values[lib] = ms(t)

    progress(f"text: {lib} memory after load (fresh subprocess)")
    path = tmp / f"{lib}.snapshot"
    path.write_bytes(snap)
    outs = [
        run_child("text_bench", "memory_child", lib, str(path), str(len(want)))
        for _ in range(sizes.mem_children)
    ]
    f["memory_mib"].values[lib] = statistics.median(o["after_load"] for o in outs) / 2**20
    f["memory_read_mib"].values[lib] = statistics.median(o["after_read"] for o in outs) / 2**20
    if "tracemalloc_after_load" in outs[0]:
        f["memory_mib"].extra["synckit_tracemalloc_mib"] = (
            statistics.median(o["tracemalloc_after_load"] for o in outs) / 2**20
        )
        f["memory_mib"].extra["synckit_tracemalloc_peak_mib"] = (
            statistics.median(o["tracemalloc_peak_during_load"] for o in outs) / 2**20
        )


if __name__ == "__main__":
    for fig in run_all(quick="--quick" in sys.argv):
        print(fig.key, fig.values, fig.errors)
    print("FAILURES:", FAILURES)
