"""Snapshot benchmarks (issue 15): save, and load + read the text, for SyncKit, pycrdt and loro.

Three documents per library: the automerge-paper trace replayed by one author, and two
generated traces where 4 and 16 authors type into their own replicas and meet through a hub
(see :func:`multi_author_script`). Each library saves its final document (SyncKit
``doc.save()``; pycrdt ``get_update()``; loro ``export(ExportMode.Snapshot())``) and loads it
again, reading the whole text once. Every loaded text must equal the saved document's text.
SyncKit's load is timed twice: with every check (bytes from anywhere), and with a
:class:`synckit.SnapshotKey` tag (a snapshot this process's own key signed) when the
installed SyncKit has one. README.md says exactly what each figure is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import FAILURES, Figure, best_of_simple, ms, new_loro_doc, progress
from text_bench import DEFAULT_TRACE, LOAD, READ, SAVE, Patch, load_trace, replay_str

#: One step of a multi-author script: author, position, characters deleted, text inserted;
#: author -1 is a sync round (every author's replica and the hub exchange what they lack).
Step = tuple[int, int, int, str]


@dataclass(frozen=True)
class SnapSizes:
    trace_edits: int | None = None  # None: the whole automerge-paper trace
    multi_keystrokes: int = 40_000  # keystrokes of each generated multi-author trace
    save_repeat: int = 10
    load_repeat: int = 10


QUICK = SnapSizes(trace_edits=20_000, multi_keystrokes=4_000, save_repeat=2, load_repeat=2)
ALPHABET = "abcdefghijklmnopqrstuvwxyz     "


def multi_author_script(authors: int, keystrokes: int, seed: int) -> list[Step]:
    """A seeded script of ``authors`` typing concurrently, each into its own replica.

    Turns go to a random author, who types a burst of 1-12 letters (ASCII, so pycrdt's byte
    offsets equal positions) at a cursor that sometimes jumps, or backspaces 1-6 characters;
    every ``authors`` turns a sync round brings every replica up to date through the hub.
    Between rounds the authors' edits are concurrent. Positions are computed from each
    replica's text length, which is the same in every library.
    """
    rng = random.Random(seed)
    lengths = [0] * authors  # each replica's text length
    cursors = [0] * authors
    pending = [0] * authors  # net characters each author added since the last round
    steps: list[Step] = []
    done = 0
    turn = 0
    while done < keystrokes:
        a = rng.randrange(authors)
        if rng.random() < 0.2:
            cursors[a] = rng.randrange(lengths[a] + 1)
        cur = min(cursors[a], lengths[a])
        if rng.random() < 0.15 and cur > 0:
            k = min(rng.randint(1, 6), cur)
            for _ in range(k):
                cur -= 1
                steps.append((a, cur, 1, ""))
            lengths[a] -= k
            pending[a] -= k
            done += k
        else:
            k = rng.randint(1, 12)
            for _ in range(k):
                steps.append((a, cur, 0, rng.choice(ALPHABET)))
                cur += 1
            lengths[a] += k
            pending[a] += k
            done += k
        cursors[a] = cur
        turn += 1
        if turn % authors == 0:
            steps.append((-1, 0, 0, ""))
            total = sum(pending)
            lengths = [x + total - p for x, p in zip(lengths, pending, strict=True)]
            pending = [0] * authors
    steps.append((-1, 0, 0, ""))
    return steps


# --------------------------------------------------------------------------- multi-author replays
# Each builds the replicas and a hub, runs the script, and returns the hub (all edits merged).


def synckit_multi(steps: list[Step], authors: int) -> Any:
    from synckit import Document

    hub = Document("hub")
    docs = [Document(f"author-{a}") for a in range(authors)]
    texts = [d.get_text("text") for d in docs]
    for a, pos, nd, s in steps:
        if a < 0:
            for d in docs:
                hub.apply(d.changes(hub.version()))
            for d in docs:
                d.apply(hub.changes(d.version()))
        elif nd:
            texts[a].delete(pos, nd)
        else:
            texts[a].insert(pos, s)
    return hub


def pycrdt_multi(steps: list[Step], authors: int) -> Any:
    from pycrdt import Doc, Text

    hub: Any = Doc(client_id=10_000)
    docs: list[Any] = [Doc(client_id=a + 1) for a in range(authors)]
    texts = [d.get("text", type=Text) for d in docs]
    hub.get("text", type=Text)
    for a, pos, nd, s in steps:
        if a < 0:
            for d in docs:
                hub.apply_update(d.get_update(hub.get_state()))
            for d in docs:
                d.apply_update(hub.get_update(d.get_state()))
        elif nd:
            del texts[a][pos : pos + nd]
        else:
            texts[a].insert(pos, s)
    return hub


def loro_multi(steps: list[Step], authors: int) -> Any:
    from loro import ExportMode

    hub = new_loro_doc(10_000)
    docs = [new_loro_doc(a + 1) for a in range(authors)]
    texts = [d.get_text("text") for d in docs]
    hub.get_text("text")
    for a, pos, nd, s in steps:
        if a < 0:
            for d in docs:
                hub.import_(d.export(ExportMode.Updates(hub.oplog_vv)))
            for d in docs:
                d.import_(hub.export(ExportMode.Updates(d.oplog_vv)))
        else:
            if nd:
                texts[a].delete(pos, nd)
            else:
                texts[a].insert(pos, s)
            docs[a].commit()
    return hub


MULTI: dict[str, Callable[[list[Step], int], Any]] = {
    "synckit": synckit_multi,
    "pycrdt": pycrdt_multi,
    "loro": loro_multi,
}


def _trace_doc(lib: str, patches: list[Patch]) -> Any:
    from text_bench import REPLAY

    doc, _ = REPLAY[lib](patches, False)
    return doc


def _synckit_keyed_loader() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
    """Save and load with a :class:`synckit.SnapshotKey`, or None where SyncKit has none."""
    import synckit

    key_cls = getattr(synckit, "SnapshotKey", None)
    if key_cls is None:
        return None
    key = key_cls(b"snapshot-bench-key-0123456789abcdef")
    tags: dict[bytes, bytes] = {}

    def save(doc: Any) -> bytes:
        data = bytes(doc.save())
        tags[data] = key.tag(data)
        return data

    def load(data: bytes) -> Any:
        return synckit.Document.load(data, key=key, tag=tags[data])

    return save, load


def run_all(quick: bool = False, trace: Path = DEFAULT_TRACE) -> list[Figure]:
    sizes = QUICK if quick else SnapSizes()
    progress(f"snapshot: loading trace {trace}")
    patches, want = load_trace(trace, sizes.trace_edits)
    if replay_str(patches) != want:
        FAILURES.append("plain str: trace replay differs from endContent")
    name = trace.name.removesuffix(".json.gz")
    suffix = f" ({len(patches):,}-edit prefix)" if sizes.trace_edits is not None else ""
    workloads: list[tuple[str, Callable[[str], Any]]] = [
        (f"{name}{suffix}", lambda lib: _trace_doc(lib, patches))
    ]
    for authors in (4, 16):
        steps = multi_author_script(authors, sizes.multi_keystrokes, seed=15 + authors)
        label = f"{authors} authors, {sizes.multi_keystrokes:,} keystrokes"
        workloads.append((label, lambda lib, s=steps, a=authors: MULTI[lib](s, a)))  # type: ignore[misc]
    keyed = _synckit_keyed_loader()
    figs: list[Figure] = []
    for label, build in workloads:
        f_bytes = Figure("bytes", f"{label}: snapshot bytes", "bytes", decimals=0)
        f_save = Figure("save_ms", "  … save, ms", "ms")
        f_load = Figure("load_read_ms", "  … load + read the text, ms", "ms")
        f_keyed = Figure(
            "load_read_tagged_ms", "  … load + read, SyncKit tagged (own key), ms", "ms"
        )
        for lib in ("synckit", "pycrdt", "loro"):
            try:
                _one(
                    lib,
                    build,
                    sizes,
                    (f_bytes, f_save, f_load),
                    keyed if lib == "synckit" else None,
                    f_keyed,
                )
            except Exception as exc:  # one broken library must not hide the others' figures
                msg = f"{type(exc).__name__}: {exc}"
                progress(f"  ! {lib} failed on {label}: {msg}")
                FAILURES.append(f"{lib}: snapshot benchmark ({label}) stopped: {msg}")
                for fig in (f_bytes, f_save, f_load):
                    fig.values.setdefault(lib, None)
                    fig.errors[lib] = msg
        f_save.target, f_save.limit = "≤ pycrdt's", f_save.values.get("pycrdt")
        p = f_load.values.get("pycrdt")
        f_load.target, f_load.limit = "≤ 2x pycrdt's", None if p is None else 2 * p
        f_load.goal = "goal pycrdt's"
        figs += [f_bytes, f_save, f_load]
        if f_keyed.values:
            f_keyed.target, f_keyed.limit = f_load.target, f_load.limit
            figs.append(f_keyed)
    return figs


def _one(
    lib: str,
    build: Callable[[str], Any],
    sizes: SnapSizes,
    figs: tuple[Figure, Figure, Figure],
    keyed: tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None,
    f_keyed: Figure,
) -> None:
    f_bytes, f_save, f_load = figs
    read, save, load = READ[lib], SAVE[lib], LOAD[lib]
    progress(f"snapshot: {lib} building the document")
    doc = build(lib)
    want = read(doc)
    t, snap = best_of_simple(lambda: save(doc), sizes.save_repeat)
    f_save.values[lib] = ms(t)
    f_bytes.values[lib] = len(snap)
    progress(f"snapshot: {lib} load + read")
    t, got = best_of_simple(lambda: read(load(snap)), sizes.load_repeat)
    if got != want:
        FAILURES.append(f"{lib}: text loaded from the snapshot differs from the saved document's")
    f_load.values[lib] = ms(t)
    if keyed is not None:
        ksave, kload = keyed
        ksnap = ksave(doc)
        t, got = best_of_simple(lambda: read(kload(ksnap)), sizes.load_repeat)
        if got != want:
            FAILURES.append(f"{lib}: text of a tagged load differs from the saved document's")
        f_keyed.values[lib] = ms(t)
