"""Editor benchmarks: what an editor bound to a shared text pays; SyncKit, pycrdt and loro.

Two things an editor binding does besides local typing:

* **Remote edits into the editor.** A collaborator's keystrokes arrive one update at a time;
  each is applied, and a subscriber turns the library's change event into splices of the
  editor's buffer (here a plain ``str`` mirror). SyncKit: ``Document.apply`` and
  ``ChangeEvent.text_edits``; pycrdt: ``apply_update`` and ``Text.observe`` deltas; loro:
  ``import_`` and ``LoroText.subscribe`` diffs. The mirror must equal the text at the end.
* **Cursors.** Carets and anchors that move with the text: made at a position, and resolved
  back to one. SyncKit: ``Text.cursor`` / ``Text.position``; pycrdt: ``Text.sticky_index`` /
  ``StickyIndex.get_index``; loro: ``LoroText.get_cursor`` / ``LoroDoc.get_cursor_pos``.

README.md says exactly what each figure is. No targets: the issues set none for these.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import FAILURES, Figure, best_of_simple, new_loro_doc, progress
from text_bench import DEFAULT_TRACE, LOAD, READ, SAVE, Patch, load_trace, replay_str

LIBS = ("synckit", "pycrdt", "loro")


@dataclass(frozen=True)
class EditorSizes:
    remote_edits: int = 50_000  # a prefix of the trace, relayed edit by edit
    remote_repeat: int = 3
    cursors: int = 1_000
    cursor_repeat: int = 5


QUICK = EditorSizes(remote_edits=5_000, remote_repeat=1, cursors=200, cursor_repeat=1)

# --------------------------------------------------------------------------- the updates
# Each writer replays the patches and returns the bytes it sends after every edit.


def synckit_updates(patches: list[Patch]) -> list[bytes]:
    from synckit import Document

    doc = Document("writer")
    text = doc.get_text("text")
    out: list[bytes] = []
    since = doc.version()
    for pos, nd, s in patches:
        if nd:
            text.delete(pos, nd)
        if s:
            text.insert(pos, s)
        out.append(doc.changes(since))
        since = doc.version()
    return out


def pycrdt_updates(patches: list[Patch]) -> list[bytes]:
    from pycrdt import Doc, Text, TransactionEvent

    doc: Any = Doc(client_id=1)
    text = doc.get("text", type=Text)
    out: list[bytes] = []

    def on_commit(event: TransactionEvent) -> None:
        out.append(bytes(event.update))

    doc.observe(on_commit)
    for pos, nd, s in patches:
        with doc.transaction():  # one update per edit, as an editor's keystroke sends
            if nd:
                del text[pos : pos + nd]
            if s:
                text.insert(pos, s)
    return out


def loro_updates(patches: list[Patch]) -> list[bytes]:
    doc = new_loro_doc(1)
    text = doc.get_text("text")
    out: list[bytes] = []

    def on_update(update: bytes) -> bool:
        out.append(bytes(update))
        return True

    sub = doc.subscribe_local_update(on_update)
    for pos, nd, s in patches:
        if nd:
            text.delete(pos, nd)
        if s:
            text.insert(pos, s)
        doc.commit()
    del sub
    return out


# --------------------------------------------------------------------------- the receivers
# Each applies the updates one by one into a fresh replica whose subscriber keeps a str
# mirror in step from the change events only; returns (mirror, text read from the replica).


def synckit_receive(updates: list[bytes]) -> tuple[str, str]:
    from synckit import ChangeEvent, Document

    doc = Document("reader")
    mirror = ""

    def on_change(event: ChangeEvent) -> None:
        nonlocal mirror
        for e in event.text_edits.get("text", ()):
            mirror = mirror[: e.pos] + e.inserted + mirror[e.pos + e.deleted :]

    doc.subscribe(on_change)
    apply = doc.apply
    for u in updates:
        apply(u)
    return mirror, str(doc.get_text("text"))


def pycrdt_receive(updates: list[bytes]) -> tuple[str, str]:
    from pycrdt import Doc, Text

    doc: Any = Doc()
    text = doc.get("text", type=Text)
    mirror = ""

    def on_change(event: Any) -> None:  # a pycrdt TextEvent
        nonlocal mirror
        at = 0
        for d in event.delta:
            if "retain" in d:
                at += d["retain"]
            elif "insert" in d:
                s = d["insert"]
                mirror = mirror[:at] + s + mirror[at:]
                at += len(s)
            else:
                mirror = mirror[:at] + mirror[at + d["delete"] :]

    text.observe(on_change)
    apply = doc.apply_update
    for u in updates:
        apply(u)
    return mirror, str(text)


def loro_receive(updates: list[bytes]) -> tuple[str, str]:
    from loro import TextDelta

    doc = new_loro_doc(2)
    text = doc.get_text("text")
    mirror = ""

    def on_change(event: Any) -> None:
        nonlocal mirror
        for container_diff in event.events:
            at = 0
            for d in container_diff.diff.diff:
                if isinstance(d, TextDelta.Retain):
                    at += d.retain
                elif isinstance(d, TextDelta.Insert):
                    mirror = mirror[:at] + d.insert + mirror[at:]
                    at += len(d.insert)
                else:
                    mirror = mirror[:at] + mirror[at + d.delete :]

    sub = text.subscribe(on_change)
    apply = doc.import_
    for u in updates:
        apply(u)
    del sub
    return mirror, text.to_string()


UPDATES: dict[str, Callable[[list[Patch]], list[bytes]]] = {
    "synckit": synckit_updates,
    "pycrdt": pycrdt_updates,
    "loro": loro_updates,
}
RECEIVE: dict[str, Callable[[list[bytes]], tuple[str, str]]] = {
    "synckit": synckit_receive,
    "pycrdt": pycrdt_receive,
    "loro": loro_receive,
}

# --------------------------------------------------------------------------- cursors
# Each gets a loaded document and positions; returns (make all cursors, resolve them all).


def synckit_cursors(
    doc: Any,
) -> tuple[Callable[[list[int]], list[Any]], Callable[[list[Any]], list[int]]]:
    text = doc.get_text("text")

    def make(positions: list[int]) -> list[Any]:
        return [text.cursor(p) for p in positions]

    def resolve(cursors: list[Any]) -> list[int]:
        return [text.position(c) for c in cursors]

    return make, resolve


def pycrdt_cursors(
    doc: Any,
) -> tuple[Callable[[list[int]], list[Any]], Callable[[list[Any]], list[int]]]:
    from pycrdt import Assoc, Text

    text = doc.get("text", type=Text)

    def make(positions: list[int]) -> list[Any]:
        return [text.sticky_index(p, Assoc.AFTER) for p in positions]

    def resolve(cursors: list[Any]) -> list[int]:
        return [c.get_index() for c in cursors]

    return make, resolve


def loro_cursors(
    doc: Any,
) -> tuple[Callable[[list[int]], list[Any]], Callable[[list[Any]], list[int]]]:
    from loro import Side

    text = doc.get_text("text")

    def make(positions: list[int]) -> list[Any]:
        return [text.get_cursor(p, Side.Middle) for p in positions]

    def resolve(cursors: list[Any]) -> list[int]:
        return [doc.get_cursor_pos(c).current.pos for c in cursors]

    return make, resolve


CURSORS: dict[
    str, Callable[[Any], tuple[Callable[[list[int]], list[Any]], Callable[[list[Any]], list[int]]]]
] = {
    "synckit": synckit_cursors,
    "pycrdt": pycrdt_cursors,
    "loro": loro_cursors,
}

# --------------------------------------------------------------------------- the suite


def run_all(quick: bool = False, trace: Path = DEFAULT_TRACE) -> list[Figure]:
    sizes = QUICK if quick else EditorSizes()
    progress(f"editor: loading trace {trace}")
    full, want_full = load_trace(trace, None)
    prefix = full[: sizes.remote_edits]
    want_prefix = replay_str(prefix)
    f_remote = Figure(
        "remote_edit_us",
        f"remote edits into an editor ({len(prefix):,} trace edits relayed one by one), µs/edit",
        "µs/edit",
    )
    f_make = Figure(
        "cursor_make_us",
        f"cursor at a position ({sizes.cursors:,} in the trace's end text), µs",
        "µs",
    )
    f_resolve = Figure("cursor_resolve_us", "cursor -> position, µs", "µs")
    figs = [f_remote, f_make, f_resolve]
    rng = random.Random(7)
    positions = [rng.randrange(len(want_full)) for _ in range(sizes.cursors)]

    for lib in LIBS:
        _remote_edits(lib, prefix, want_prefix, sizes, f_remote)
        _cursors(lib, full, want_full, positions, sizes, f_make, f_resolve)
    return figs


def _remote_edits(
    lib: str, prefix: list[Patch], want: str, sizes: EditorSizes, fig: Figure
) -> None:
    progress(f"editor: {lib} remote edits with a subscriber")
    receive = RECEIVE[lib]
    try:
        updates = UPDATES[lib](prefix)
        t, (mirror, text) = best_of_simple(lambda: receive(updates), sizes.remote_repeat)
        if not mirror == text == want:
            FAILURES.append(f"{lib}: remote edits: mirror or text differs from the trace")
        fig.values[lib] = t / len(prefix) / 1000
    except Exception as exc:  # one broken library must not hide the others' figures
        fig.values[lib] = None
        fig.errors[lib] = f"{type(exc).__name__}: {exc}"
        FAILURES.append(f"{lib}: remote edits: {fig.errors[lib]}")


def _cursors(
    lib: str,
    full: list[Patch],
    want: str,
    positions: list[int],
    sizes: EditorSizes,
    f_make: Figure,
    f_resolve: Figure,
) -> None:
    progress(f"editor: {lib} cursors")
    try:
        doc = LOAD[lib](SAVE[lib](_replayed(lib, full)))
        if READ[lib](doc) != want:
            FAILURES.append(f"{lib}: cursors: the loaded text differs from the trace")
        make, resolve = CURSORS[lib](doc)
        t_make, cursors = best_of_simple(lambda: make(positions), sizes.cursor_repeat)
        t_res, got = best_of_simple(lambda: resolve(cursors), sizes.cursor_repeat)
        if got != positions:
            FAILURES.append(f"{lib}: cursors: resolved positions differ from where they were made")
        f_make.values[lib] = t_make / len(positions) / 1000
        f_resolve.values[lib] = t_res / len(positions) / 1000
    except Exception as exc:  # one broken library must not hide the others' figures
        for fig in (f_make, f_resolve):
            fig.values[lib] = None
            fig.errors[lib] = f"{type(exc).__name__}: {exc}"
        FAILURES.append(f"{lib}: cursors: {type(exc).__name__}: {exc}")


def _replayed(lib: str, patches: list[Patch]) -> Any:
    from text_bench import REPLAY

    doc, _ = REPLAY[lib](patches, False)
    return doc


if __name__ == "__main__":
    for fig in run_all(quick="--quick" in sys.argv):
        print(fig.key, fig.values, fig.errors)
    print("FAILURES:", FAILURES)
