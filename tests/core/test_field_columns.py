"""Changes of field writes are read and applied column by column (``_field_columns``): the
decoded operations and the document they leave must be exactly those of the per-operation
loops, on good input and on hostile input (the same DecodeError, naming the same problem),
and anything else must be left to those loops."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st
from test_properties import PROFILE

from synckit import Document
from synckit.core import ChangeReview, _codec, _field_columns, _remote, _snapshot
from synckit.core._codec import decode_changes, parse_change_set, resolve_names
from synckit.errors import DecodeError
from synckit.v1 import changes_pb2

_KEYS = [f"k{i}" for i in range(24)] + ["", "é", "\x00x", "a\x00"]
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), max_size=2),
)
# One step of a writer: a burst of field writes (``update``), a delete, or a sync.
_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("update"),
            st.integers(0, 2),
            st.dictionaries(st.sampled_from(_KEYS), _values, min_size=1, max_size=30),
        ),
        st.tuples(st.just("delete"), st.integers(0, 2), st.sampled_from(_KEYS)),
        st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2)),
    ),
    min_size=1,
    max_size=8,
)


@contextmanager
def general_path() -> Iterator[None]:
    """Every change through the per-operation loops."""
    with (
        patch.object(_codec, "FIELD_COLUMNS_AT", 2**62),
        patch.object(_remote, "FIELD_COLUMNS_AT", 2**62),
    ):
        yield


def _writers(steps: list[tuple[Any, ...]]) -> list[Document]:
    docs = [Document(c, clock=_clock(i)) for i, c in enumerate("abc")]
    for kind, who, arg in steps:
        doc = docs[who]
        if kind == "update":
            doc.update(arg)
        elif kind == "delete":
            if doc.get(arg) is not None:
                doc.delete(arg)
        else:
            doc.apply(docs[arg].changes(doc.version()))
    return docs


def _at(ms: int) -> Callable[[], int]:
    return lambda: ms


def _clock(i: int) -> Callable[[], int]:
    ticks = iter(range(1000 * i, 10**9, 7))
    return lambda: next(ticks)


def _state(doc: Document) -> tuple[Any, ...]:
    return (
        doc.to_json(),
        doc.version(),
        doc.changes(),
        doc.save(),
        list(doc._fields.items()),
        doc._field_top,
        doc._hlc,
        doc._log,
        doc._checkpoints,
        list(doc._pending),  # (NONE or [] when empty)
    )


def _outcome(make: Callable[[], Document], data: bytes, screen: Any = None) -> tuple[Any, ...]:
    doc = make()
    seen: list[Any] = []

    def record(review: ChangeReview) -> None:
        seen.append((review.changes, review.equivocation()))
        if screen is not None:
            screen(review)

    try:
        doc.apply(data, screen=record)
    except DecodeError as exc:
        return ("refused", str(exc), seen, _state(doc))
    return ("applied", seen, _state(doc))


def _decoded(data: bytes) -> list[Any]:
    msg = parse_change_set(data)
    idx = list(range(len(msg.clients)))
    names = resolve_names(msg.names[:], idx, msg.format)
    changes = decode_changes(msg.changes, idx, names)
    return [(ch.client, ch.start, ch.deps, ch.end, ch.ops) for ch in changes]


def _both(make: Callable[[], Document], data: bytes) -> tuple[Any, ...]:
    """The outcome of applying ``data`` through the fast paths, after checking it is the
    general loops' outcome."""
    fast = _outcome(make, data)
    with general_path():
        slow = _outcome(make, data)
    assert fast == slow
    return fast


def _fresh() -> Document:
    return Document("z", clock=_clock(5))


def test_a_first_sync_takes_the_column_paths() -> None:
    a = Document("a")
    a.update({f"k{i}": i for i in range(100)})
    data = a.changes()
    taken: list[str] = []
    field_writes, integrate_fields = _field_columns.field_writes, _field_columns.integrate_fields

    def spy_ops(*args: Any) -> Any:
        out = field_writes(*args)
        taken.append("decode" if out is not None else "no decode")
        return out

    def spy_integrate(*args: Any) -> Any:
        out = integrate_fields(*args)
        taken.append("integrate" if out is not None else "no integrate")
        return out

    with (
        patch.object(_codec, "field_writes", spy_ops),
        patch.object(_remote, "integrate_fields", spy_integrate),
    ):
        assert _both(_fresh, data)[0] == "applied"
    assert taken == ["decode", "integrate"]
    assert _decoded(data) == [(0, 1, {}, 100, [(1, i + 1, f"k{i}", a._hlc, i) for i in range(100)])]


@PROFILE
@given(steps=_steps, since=st.integers(0, 2), into=st.integers(0, 3))
def test_random_field_changes_apply_as_through_the_loops(
    steps: list[tuple[Any, ...]], since: int, into: int
) -> None:
    """Whatever a writer sends (from scratch or since another's version), to a fresh
    replica or to one of the writers (holding some of it, and fields of its own)."""
    docs = _writers(steps)
    for doc in docs:
        data = doc.changes(docs[since].version() if since < 3 else None)
        with general_path():
            assert _decoded(data) == _decoded(data)
            slow = _decoded(data)
        assert _decoded(data) == slow
        target = steps_copy(docs, into)
        _both(target, data)
        _both(_fresh, doc.changes())


def steps_copy(docs: list[Document], into: int) -> Callable[[], Document]:
    """A maker of fresh copies of writer ``into`` (or of an empty replica: 3)."""
    if into == 3:
        return _fresh
    saved = docs[into].save()
    return lambda: Document.load(saved, "z")


def _field_sets(n: int = 40, writer: str = "a") -> changes_pb2.ChangeSet:
    doc = Document(writer, clock=_clock(1))
    for i in range(n):
        doc.set(f"k{i}", i)  # (a clock each)
    msg = changes_pb2.ChangeSet.FromString(doc.changes())
    assert len(msg.changes) == 1 and len(msg.changes[0].kinds) == n
    return msg


_COLUMNS = ["ints", "hlcs", "kinds", "values", "start", "names", "strs", "text", "deps"]


def _field_writes() -> changes_pb2.ChangeSet:
    """One change of 40 field sets, 5 deletes and 10 skips (writes that lost)."""
    doc = Document("a", clock=_clock(1))
    for i in range(40):
        doc.set(f"k{i}", i)
    for i in range(0, 30, 3):
        doc.set(f"k{i}", -i)  # (its first write becomes a skip)
    for i in range(1, 30, 6):
        doc.delete(f"k{i}")
    msg = changes_pb2.ChangeSet.FromString(doc.changes())
    assert len(msg.changes) == 1 and set(msg.changes[0].kinds) == {1, 2, 11}
    return msg


@PROFILE
@given(
    source=st.sampled_from(["sets", "one clock", "with skips and deletes"]),
    edits=st.lists(
        st.tuples(
            st.sampled_from(_COLUMNS),
            st.integers(0, 50),
            st.one_of(
                st.integers(-3, 45),
                st.sampled_from([2**62 - 1, 2**62, -(2**62), 2**62 - 41, 2**62 - 40]),
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    into=st.sampled_from(["fresh", "holds some", "holds others"]),
)
def test_hostile_field_columns_are_refused_as_by_the_loops(
    source: str, edits: list[tuple[str, int, int]], into: str
) -> None:
    """Columns out of range, of the wrong length, naming nested containers or one field
    twice, other kinds mixed in: the same refusal (or the same document) either way."""
    if source == "one clock":
        doc = Document("a", clock=_clock(1))
        doc.update({f"k{i}": i for i in range(40)})
        msg = changes_pb2.ChangeSet.FromString(doc.changes())
    elif source == "sets":
        msg = _field_sets()
    else:
        msg = _field_writes()
    ch = msg.changes[0]
    for column, pos, value in edits:
        if column == "values":
            vals = ch.values[1:-1].split(",")
            vals = vals[: pos % 45] if value % 2 else [*vals, "[1]", '"x"'][: 40 + pos % 3]
            ch.values = "[" + ",".join(vals) + "]"
        elif column == "start":
            ch.start = value if value > 0 else pos + 1
        elif column == "names":
            msg.names[pos % len(msg.names)] = ["\x00[0,1,5]", "\x00[0,0,1]", "k3", "\x00"][
                value % 4
            ]
        elif column == "strs":
            ch.strs.append("a")
        elif column == "text":
            ch.text = "x"
        elif column == "deps":
            ch.dep_clients.append(pos % 3)
            ch.dep_seqs.append(abs(value) % 5)
        else:
            col = getattr(ch, column)
            if column == "kinds":
                value = [1, 2, 11, 3, 12][value % 5]
            if pos % 4:
                col[pos % len(col)] = value
            elif pos % 8:
                col.append(value)
            else:
                del col[-1]
    data = msg.SerializeToString()

    def holds_some() -> Document:
        d = Document("z")
        d.apply(_field_sets(5).SerializeToString())  # a's first 5 seqs (same values)
        return d

    def holds_others() -> Document:
        d = Document("z", clock=_clock(5))
        d.apply(_field_sets(5, "b").SerializeToString())  # fields k0-k4 by b
        d.set("k7", "mine")
        return d

    make = {"fresh": _fresh, "holds some": holds_some, "holds others": holds_others}[into]
    _both(make, data)


def test_a_field_written_twice_in_one_change_is_decided_by_the_loop() -> None:
    msg = _field_sets()
    ch = msg.changes[0]
    ch.ints[7] = ch.ints[3]  # k3 twice: the later write has the larger clock
    data = msg.SerializeToString()
    outcome = _both(_fresh, data)
    assert outcome[0] == "applied"
    assert Document.load(outcome[2][3], "z").get("k3") == 7
    ch.hlcs[7] = -ch.hlcs[4] - ch.hlcs[5] - ch.hlcs[6]  # now an earlier clock: it loses
    ch.hlcs[8] += ch.hlcs[4] + ch.hlcs[5] + ch.hlcs[6]
    _both(_fresh, msg.SerializeToString())


def test_a_screen_sees_the_same_review_either_way() -> None:
    """Summaries and equivocation (a fresh replica, and one holding different writes at the
    same seqs), and a screen that refuses leaves the document as it was."""
    msg = _field_sets()
    data = msg.SerializeToString()
    other = Document("a", clock=_clock(2))
    other.update({f"k{i}": -i for i in range(40)})

    def holder() -> Document:
        d = Document("z")
        d.apply(other.changes())
        return d

    for make in (_fresh, holder):
        outcome = _both(make, data)
        assert outcome[1][0][0][0].end == 40

    def refuse(review: ChangeReview) -> None:
        raise DecodeError("refused")

    fast = _outcome(_fresh, data, refuse)
    with general_path():
        assert _outcome(_fresh, data, refuse) == fast
    assert fast[0] == "refused" and fast[3] == _state(Document("z"))


def test_bad_skips_and_seqs_past_the_maximum_are_refused_as_by_the_loops() -> None:
    msg = _field_writes()
    ch = msg.changes[0]
    skip_at = list(ch.kinds).index(11)
    for count in (0, -1, 2**62 - 1, 2**62, 1, 2):
        ch.ints[skip_at] = count
        _both(_fresh, msg.SerializeToString())
    ch.ints[skip_at] = 1
    for start in (2**62 - 56, 2**62 - 55, 2**62 - 54, 2**62 - 100):
        ch.start = start
        _both(_fresh, msg.SerializeToString())
    ch.start = 1
    ch.kinds[skip_at] = 1  # a skip read as a set: the values run short
    assert _both(_fresh, msg.SerializeToString())[0] == "refused"


def test_skips_and_deletes_apply_from_the_columns_as_through_the_loops() -> None:
    msg = _field_writes()
    data = msg.SerializeToString()
    fast = _both(_fresh, data)
    assert fast[0] == "applied"
    [ch] = decode_changes(msg.changes, [0], list(msg.names))
    assert ch.field_writes is not None and len(ch.field_writes.skips) == 10
    with general_path():
        [slow] = decode_changes(msg.changes, [0], list(msg.names))
    assert slow.field_writes is None and ch == slow


def _loaded(data: bytes) -> tuple[Any, ...]:
    try:
        doc = Document.load(data, "z", clock=_clock(5))
    except DecodeError as exc:
        return ("refused", str(exc))
    return ("loaded", _state(doc))


def _load_both(data: bytes) -> tuple[Any, ...]:
    fast = _loaded(data)
    with general_path():
        assert _loaded(data) == fast
    return fast


def _sealed(snap: changes_pb2.Snapshot) -> bytes:
    body = snap.SerializeToString()
    return body + bytes([11 << 3 | 5]) + zlib.crc32(body).to_bytes(4, "little")


@PROFILE
@given(steps=_steps, edits=st.lists(st.tuples(st.integers(0, 60), st.integers(-3, 45)), max_size=2))
def test_snapshots_load_field_writes_as_through_the_loop(
    steps: list[tuple[Any, ...]], edits: list[tuple[int, int]]
) -> None:
    """A writer's snapshot (its changes of 16 or more field writes take the column path on
    load), and the same with numbers changed in its changes' columns, resealed."""
    for doc in _writers(steps):
        data = doc.save()
        assert _load_both(data)[0] == "loaded"
        snap = changes_pb2.Snapshot.FromString(data[:-5])
        if not snap.changes or not edits:
            continue
        for pos, value in edits:
            ch = snap.changes[pos % len(snap.changes)]
            column = [ch.ints, ch.hlcs, ch.kinds][pos % 3]
            if column:
                column[pos % len(column)] = [value, value, [1, 2, 11][value % 3]][pos % 3]
        _load_both(_sealed(snap))


def test_a_big_snapshot_loads_from_the_columns() -> None:
    doc = Document("a", clock=_clock(1))
    doc.update({f"k{i}": i for i in range(200)})
    for i in range(0, 200, 7):
        doc.set(f"k{i}", -i)
    doc.delete("k3")
    taken: list[bool] = []
    integrate_fields = _field_columns.integrate_fields

    def spy(*args: Any) -> Any:
        out = integrate_fields(*args)
        taken.append(out is not None)
        return out

    with patch.object(_snapshot, "integrate_fields", spy):
        loaded = _load_both(doc.save())
    assert taken == [True] and loaded[1][:3] == _state(doc)[:3]


def test_writes_to_fields_held_win_or_lose_as_in_the_loop() -> None:
    """A change of 40 writes to a replica holding some of those fields: later clocks, earlier
    ones and equal ones (the writer ids decide) - the same fields, in the same order."""
    data = _field_sets(40, "b").SerializeToString()  # k<i> at clock (1000 + 7 i) << 16

    def holder() -> Document:
        d = Document("z", clock=_clock(5))
        for writer, keys, when in (
            ("a", [2, 3], 1021),  # k2: a later clock; k3: a tie, lost to "b"
            ("c", [5, 6], 1035),  # k5: a tie, won by "c"
            ("e", range(0, 40, 4), 1100),  # k0-k12: later clocks
            ("f", [7, 9], 0),  # much earlier
        ):
            w = Document(writer, clock=_at(when))
            w.update({f"k{i}": writer for i in keys})
            d.apply(w.changes())
        d.set("mine", 1)
        return d

    taken: list[bool] = []
    integrate_fields = _field_columns.integrate_fields

    def spy(*args: Any) -> Any:
        out = integrate_fields(*args)
        taken.append(out is not None)
        return out

    with patch.object(_remote, "integrate_fields", spy):
        outcome = _both(holder, data)
    assert outcome[0] == "applied" and taken[-1] is True
    view = outcome[2][0]
    assert (view["k2"], view["k3"], view["k5"], view["k6"], view["k7"]) == ("a", 3, "c", 6, 7)
    assert (view["k0"], view["k12"], view["k16"], view["mine"]) == ("e", "e", 16, 1)
