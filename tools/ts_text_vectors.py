#!/usr/bin/env python3
"""Golden vectors for the TypeScript port of the collaborative text (``clients/typescript``).

Runs scenarios of real :class:`synckit.Document` replicas (fixed client ids, a fixed clock)
editing one text and merging, and records every call each replica's
:class:`~synckit.core._text.TextState` received, in order, with what it returned: local
inserts and deletes, remote inserts and deletes (as the Document applies them), and the
edit records the Document takes for its subscribers.  For each replica it then writes the
final text, its ``encode_state()`` columns, ``ops_since`` of every client, and ``char_id`` /
``char_position`` of sample positions.  The TypeScript tests replay the calls on a
``TextState`` and check every result.

Client indexes are those of each replica's client table (written as ``clients``); a
replica's table only grows, so the indexes of the final table are those of every call.

Run: ``PYTHONPATH=src .venv/bin/python tools/ts_text_vectors.py [DIR] [--check]`` (writes
``clients/typescript/test/vectors/text/*.json``, or into DIR; ``--check`` only compares);
``tests/typescript/test_ts_text_vectors.py`` checks that the committed files are current.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synckit import Document
from synckit.core._text import History, TextState
from synckit.errors import InvalidValueError

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "clients" / "typescript" / "test" / "vectors" / "text"
NAME = "t"

_calls: dict[int, list[list[Any]]] = {}
_files: dict[str, str] = {}  # file name -> JSON text, written by main()


_RECORDED = (
    "local_insert",
    "local_delete",
    "apply_insert",
    "apply_delete",
    "record_edits",
    "take_edits",
)


def _wrap(kind: str) -> Callable[..., Any]:
    """``TextState.<kind>``, appending every call to ``_calls[id(state)]``."""
    original: Callable[..., Any] = getattr(TextState, kind)

    @functools.wraps(original)
    def wrapper(self: TextState, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        entry: list[Any] = [kind, *args]
        if kind in ("apply_insert", "apply_delete"):
            entry.append(bool(kwargs.get("checked", False)))
        entry.append(result)
        _calls.setdefault(id(self), []).append(entry)
        return result

    return wrapper


def _decode_recorded(
    cls: type[TextState],
    client_ids: list[str],
    ints: list[int],
    content: str,
    deletes: list[int],
    history: History | None = None,
    *,
    trusted: bool = False,
) -> TextState:
    original = _saved["decode_state"].__func__  # (the classmethod's function)
    made: TextState = original(cls, client_ids, ints, content, deletes, history, trusted=trusted)
    _calls[id(made)] = [["decode_state", list(ints), content, list(deletes)]]
    return made


_saved: dict[str, Any] = {}


@contextmanager
def _recording() -> Iterator[None]:
    """Record the calls of every TextState while inside (the class is restored after)."""
    own = TextState.__dict__
    _saved.clear()
    _saved.update({k: own[k] for k in (*_RECORDED, "decode_state") if k in own})
    try:
        for kind in _RECORDED:
            setattr(TextState, kind, _wrap(kind))
        TextState.decode_state = classmethod(_decode_recorded)  # type: ignore[method-assign,assignment]
        yield
    finally:
        for kind in (*_RECORDED, "decode_state"):
            if kind in _saved:
                setattr(TextState, kind, _saved[kind])
            else:
                delattr(TextState, kind)
        _calls.clear()


def _clock() -> int:
    return 1000


def new_doc(client: str) -> Document:
    doc = Document(client, clock=_clock)
    doc.subscribe(lambda _event: None)  # so that remote edits are recorded
    return doc


def sync(dst: Document, src: Document) -> None:
    """Give ``dst`` what ``src`` holds."""
    dst.apply(src.changes(dst.version()))


def replica_vector(doc: Document, rng: random.Random) -> dict[str, Any]:
    state = doc._texts.get(NAME)
    if state is None:
        return {"client": doc.client_id, "clients": list(doc._clients), "calls": [], "text": ""}
    ints, content, deletes = state.encode_state()
    n = len(state)
    positions = sorted({0, n - 1, *(rng.randrange(n) for _ in range(min(n, 20)))}) if n else []
    char_ids = [[p, list(state.char_id(p))] for p in positions]
    # Positions of sample ids, visible or deleted (every item's first and last character).
    probes: list[list[Any]] = []
    for client, seq in {
        (c, s)
        for c in range(len(doc._clients))
        for s in (1, 2, 3, 5, 8, 13, 40, 100, 1000, 5000, doc._vv[c])
    }:
        found = state.char_position(client, seq)
        probes.append([client, seq, None if found is None else list(found)])
    probes.sort(key=lambda p: (p[0], p[1]))
    ops_since = [
        [c, after, state.ops_since(c, after)]
        for c in range(len(doc._clients))
        for after in sorted({doc._vv[c] // 2, max(doc._vv[c] - 1, 0)} | ({0} if n < 500 else set()))
    ]
    return {
        "client": doc.client_id,
        "clients": list(doc._clients),
        "calls": _calls.get(id(state), []),
        "text": str(state),
        "state": {"ints": ints, "content": content, "deletes": deletes},
        "char_ids": char_ids,
        "char_positions": probes,
        "ops_since": ops_since,
    }


def _decode_outcome(
    doc: Document, ints: list[int], content: str, deletes: list[int], with_history: bool
) -> dict[str, Any]:
    """What ``decode_state`` makes of these columns: the text (and, with the document's
    history, the seqs it reports used), or the InvalidValueError message."""
    history = History(list(doc._vv), doc._checkpoints) if with_history else None
    try:
        state = TextState.decode_state(doc._clients, ints, content, deletes, history)
    except InvalidValueError as e:
        return {"error": str(e)}
    out: dict[str, Any] = {"text": str(state)}
    if history is not None:
        out["used"] = [
            [c, [[list(f), list(la)] for f, la in runs]] for c, runs in history.used.items()
        ]
    return out


def mutations(doc: Document, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Hostile variants of the replica's encoded state and what Python's decoder says."""
    state = doc._texts[NAME]
    ints, content, deletes = state.encode_state()
    out: list[dict[str, Any]] = []
    variants: list[tuple[list[int], str, list[int]]] = [(ints, content, deletes)]
    for _ in range(count):
        i2, c2, d2 = list(ints), content, list(deletes)
        r = rng.random()
        if r < 0.5 and i2:
            k = rng.randrange(len(i2))
            i2[k] += rng.choice((-2, -1, 1, 2, 7, -100))
        elif r < 0.65 and d2:
            k = rng.randrange(len(d2))
            d2[k] += rng.choice((-2, -1, 1, 3))
        elif r < 0.75:
            i2 = i2[: rng.randrange(len(i2))]
        elif r < 0.85 and d2:
            d2 = d2[: rng.randrange(len(d2))]
        elif r < 0.92:
            c2 = c2[:-1] if c2 else "x"
        else:
            i2.append(rng.choice((0, 1)))
        variants.append((i2, c2, d2))
    for i2, c2, d2 in variants:
        out.append(
            {
                "ints": i2,
                "content": c2,
                "deletes": d2,
                "plain": _decode_outcome(doc, i2, c2, d2, False),
                "history": _decode_outcome(doc, i2, c2, d2, True),
            }
        )
    return out


def write_hostile(name: str, docs: list[Document], seed: int, count: int) -> None:
    """Hostile decode vectors: mutations of each replica's state, with Python's verdicts.
    The history is the replica's version and checkpoints (per client index)."""
    rng = random.Random(seed)
    vector = {
        "name": name,
        "replicas": [
            {
                "clients": list(d._clients),
                "version": list(d._vv),
                "checkpoints": [
                    [[start, sorted(deps.items())] for start, deps in cps] for cps in d._checkpoints
                ],
                "cases": mutations(d, rng, count),
            }
            for d in docs
        ],
    }
    _files[f"hostile_{name}.json"] = json.dumps(vector, ensure_ascii=False, separators=(",", ":"))


def write(name: str, docs: list[Document], seed: int = 0) -> None:
    texts = {str(d._texts[NAME]) if NAME in d._texts else "" for d in docs}
    rng = random.Random(seed)
    vector: dict[str, Any] = {"name": name, "replicas": [replica_vector(d, rng) for d in docs]}
    vector["converged"] = len(texts) == 1
    _files[f"{name}.json"] = json.dumps(vector, ensure_ascii=False, separators=(",", ":"))
    _calls.clear()  # (ids of states are reused once these are gone)


# ---------------------------------------------------------------------- scenarios


def typing() -> None:
    """One writer types, deletes forward and backward; the other receives piece by piece."""
    a, b = new_doc("alice"), new_doc("bob")
    ta = a.get_text(NAME)
    for ch in "hello world":
        ta.insert(len(ta), ch)
        sync(b, a)
    ta.insert(5, ",")
    ta.insert(0, "Oh, ")
    sync(b, a)
    for _ in range(3):
        ta.delete(len(ta) - 1, 1)  # backspace
    ta.delete(2, 2)
    ta.delete(2, 1)  # forward delete at the same place
    sync(b, a)
    ta.insert(len(ta), " there, friend")
    ta.delete(3, 10)
    sync(b, a)
    write("typing", [a, b])


def concurrent() -> None:
    """Three replicas insert at the same places concurrently; the client tables have
    different orders, so ties must compare the id strings."""
    z, a, m = new_doc("zed"), new_doc("amy"), new_doc("mia")
    z.get_text(NAME).insert(0, "[]")
    sync(a, z)
    sync(m, z)
    for doc, s in ((z, "ZZ"), (a, "aa"), (m, "mm")):
        doc.get_text(NAME).insert(1, s)
    sync(a, m)
    sync(a, z)
    sync(z, a)
    sync(m, z)
    for doc, s in ((z, "1"), (a, "2"), (m, "3")):
        doc.get_text(NAME).insert(0, s)
        doc.get_text(NAME).insert(len(doc.get_text(NAME)), s)
    a.get_text(NAME).delete(2, 3)
    sync(m, a)
    sync(z, m)
    sync(a, z)
    sync(m, z)
    write_hostile("concurrent", [z, a, m], 11, 25)
    write("concurrent", [z, a, m])


def astral() -> None:
    """Emoji and other astral characters: positions count code points."""
    a, b = new_doc("bob"), new_doc("alice")
    ta, tb = a.get_text(NAME), b.get_text(NAME)
    ta.insert(0, "a😀b𝄞c")
    sync(b, a)
    tb.insert(2, "🎉🎉")
    ta.insert(4, "ü🙂")
    ta.delete(1, 1)
    sync(b, a)
    sync(a, b)
    tb.delete(0, 3)
    tb.insert(1, "👍🏽")
    sync(a, b)
    ta.delete(len(ta) - 2, 2)
    sync(b, a)
    write("astral", [a, b])


def random_edits(name: str, seed: int, nrep: int, rounds: int, alphabet: str) -> None:
    """Random inserts and deletes on ``nrep`` replicas with random pairwise syncs."""
    rng = random.Random(seed)
    docs = [new_doc(n) for n in ("carol", "alice", "bob", "dave")[:nrep]]
    for _ in range(rounds):
        doc = rng.choice(docs)
        text = doc.get_text(NAME)
        n = len(text)
        r = rng.random()
        if r < 0.55 or n == 0:
            k = rng.choice((1, 1, 1, 2, 3, 6))
            pos = n if rng.random() < 0.3 else rng.randint(0, n)
            text.insert(pos, "".join(rng.choice(alphabet) for _ in range(k)))
        elif r < 0.8:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.choice((1, 1, 2, 4)), n - pos))
        else:
            dst, src = rng.sample(docs, 2)
            sync(dst, src)
    for _ in range(2):
        for dst in docs:
            for src in docs:
                if dst is not src:
                    sync(dst, src)
    if nrep == 2:
        write_hostile(name, docs, seed, 15)
    write(name, docs, seed)


def big() -> None:
    """Texts past a block's limits (4096 characters, 64 items): pasting, typing, deleting."""
    rng = random.Random(7)
    a, b = new_doc("alice"), new_doc("bob")
    ta, tb = a.get_text(NAME), b.get_text(NAME)
    ta.insert(0, "".join(rng.choice("abcdefgh") for _ in range(4500)))
    sync(b, a)
    for i in range(80):
        tb.insert(rng.randint(0, len(tb)), "xyz"[i % 3])
        if i % 7 == 0:
            tb.delete(rng.randrange(len(tb)), 2)
    for ch in "typed at the end " * 3:
        ta.insert(len(ta), ch)
    ta.delete(1000, 1500)
    sync(a, b)
    sync(b, a)
    write("big", [a, b], 7)


def loaded() -> None:
    """A replica loaded from a snapshot (big decoded blocks, halved where edits land) edits
    and merges on."""
    rng = random.Random(5)
    a = new_doc("alice")
    ta = a.get_text(NAME)
    for i in range(1030):  # 1030 items: decoded as blocks of 1024 and 6
        ta.insert(rng.randint(0, len(ta)), "ab😀"[i % 3])
    b = Document.load(a.save(), "bob", clock=_clock)
    c = Document.load(a.save(), "carol", clock=_clock)
    b.subscribe(lambda _event: None)
    c.subscribe(lambda _event: None)
    tc, tb = c.get_text(NAME), b.get_text(NAME)
    for i in range(30):
        tc.insert(rng.randint(0, len(tc)), "xy"[i % 2])
        tb.insert(rng.randint(0, len(tb)), "pq"[i % 2])
        if i % 5 == 0:
            tc.delete(rng.randrange(len(tc)), 3)
    sync(c, b)
    sync(b, c)
    write("loaded", [c, b], 5)


def deflate() -> None:
    """``content_deflate`` as the Python snapshot writes it (level 6), for a few texts."""
    texts = ["", "hello", "ab😀c𝄞 " * 80, "".join(chr(0x4E00 + (i * 7) % 500) for i in range(900))]
    rows = [{"content": t, "zlib": zlib.compress(t.encode(), 6).hex()} for t in texts]
    _files["deflate.json"] = json.dumps(rows, ensure_ascii=False)


def vectors() -> dict[str, str]:
    """Every vector file: name -> content."""
    _files.clear()
    with _recording():
        typing()
        concurrent()
        astral()
        random_edits("random_2", 1, 2, 80, "abcde")
        random_edits("random_3", 2, 3, 100, "xyz😀é")
        random_edits("random_4", 3, 4, 80, "pq🙂")
        big()
        loaded()
        deflate()
    return {name: text + "\n" for name, text in _files.items()}


def main(argv: list[str]) -> int:
    """Write the vectors into DIR (default: the TypeScript tests' folder), or check them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=OUT, help="where to write them")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if DIR's files are not current"
    )
    args = parser.parse_args(argv)
    out: Path = args.dir
    files = vectors()
    if args.check:
        stale = [
            n
            for n, t in files.items()
            if not (out / n).is_file() or (out / n).read_text(encoding="utf-8") != t
        ]
        extra = sorted({p.name for p in out.glob("*.json")} - set(files))
        for name in stale:
            print(f"{name}: stale or missing")
        for name in extra:
            print(f"{name}: not written by this tool")
        return 1 if stale or extra else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
