"""The column-at-a-time paths of ``changes(since)`` against the op-at-a-time ones.

A change made of field writes only (a burst of ``set`` calls, the usual delta) is written
column by column (``ChangeSetWriter._add_field_sets``) and its ops are gathered without a
sort (``_changes._ops_since``); these properties check that the columns are byte for byte
what the per-op writer (``ChangeSetWriter._add_ops``) makes of the same ops, and that the
deltas still bring a replica at any earlier version to the document.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synckit import Document
from synckit.core import _ops as K
from synckit.core._codec import ChangeSetWriter
from synckit.v1 import changes_pb2

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Names that take every branch of the name table: plain, non-ASCII, longer than one varint
# byte when encoded, and ones that start with (or hold) the nested-container mark.
_names = st.one_of(
    st.sampled_from(["a", "b", "f1", "é", "\x00x", "y\x00", "n" * 130, "ü" * 70, ""]),
    st.text(max_size=6),
)
_values = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=5))
_set_ops = st.lists(st.tuples(_names, st.integers(0, 2**50), _values), min_size=1, max_size=30)


@SETTINGS
@given(ops=_set_ops, interned=st.lists(_names, max_size=4))
def test_field_set_columns_equal_the_per_op_writer(
    ops: list[tuple[str, int, Any]], interned: list[str]
) -> None:
    full = [(K.FIELD_SET, 10 + i, name, hlc, value) for i, (name, hlc, value) in enumerate(ops)]
    out = []
    for columns in (True, False):
        writer = ChangeSetWriter(["me", "other"])
        for name in interned:  # names already in the table from earlier changes
            writer.name_pos(name)
        msg = changes_pb2.Change()
        if columns:
            writer._add_field_sets(msg, [K.FIELD_SET] * len(full), full)
        else:
            writer._add_ops(msg, full)
        writer.changes.append(msg)
        out.append((writer.names, writer.to_bytes()))
    assert out[0] == out[1]


@SETTINGS
@given(op=st.tuples(_names, st.integers(0, 2**50), _values), interned=st.lists(_names, max_size=4))
def test_one_field_set_is_written_as_the_per_op_writer_writes_it(
    op: tuple[str, int, Any], interned: list[str]
) -> None:
    name, hlc, value = op
    out = []
    for direct in (True, False):
        writer = ChangeSetWriter(["me", "other"])
        for known in interned:
            writer.name_pos(known)
        if direct:  # add's own path for a single field write
            writer.add(0, 10, {1: 3}, [(K.FIELD_SET, 10, name, hlc, value)])
        else:
            msg = changes_pb2.Change(client=writer.client_pos(0), start=10)
            msg.dep_clients.append(writer.client_pos(1))
            msg.dep_seqs.append(3)
            writer._add_ops(msg, [(K.FIELD_SET, 10, name, hlc, value)])
            writer.changes.append(msg)
        out.append((writer.names, writer.to_bytes()))
    assert out[0] == out[1]


@SETTINGS
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["set", "delete", "remote", "text", "list", "mark"]),
            _names.filter(lambda n: n not in ("t", "l")),  # the text's and the list's names
            st.integers(),
        ),
        min_size=1,
        max_size=40,
    ),
    pick=st.integers(0, 1000),
)
def test_field_deltas_bring_any_earlier_version_up_to_date(
    steps: list[tuple[str, str, int]], pick: int
) -> None:
    doc, other = Document("w"), Document("r")
    marks = [doc.version()]
    for kind, name, value in steps:
        if kind == "set":
            doc.set(name, value)
        elif kind == "delete":
            doc.delete(name)
        elif kind == "remote":  # another writer's field write, which may win over ours
            other.set(name, value)
            doc.apply(other.changes(doc.version()))
        elif kind == "text":
            doc.get_text("t").insert(0, "x")
        elif kind == "list":  # an op of the document's log
            doc.get_list("l").append(value)
        else:
            marks.append(doc.version())
    marks.append(doc.version())
    since = marks[pick % len(marks)]
    replica = Document("x")
    replica.apply(doc.changes(None, since))
    assert replica.version() == since
    delta = doc.changes(since)
    replica.apply(delta)
    assert replica.to_json() == doc.to_json()
    assert replica.version() == doc.version()
    # Nothing the replica held is sent again.
    assert doc.changes(doc.version()) == doc.changes(replica.version())


@SETTINGS
@given(
    ops=_set_ops,
    interned=st.lists(_names, max_size=4),
    deps=st.sampled_from([{}, {1: 3}, {1: 2**40}]),
    start=st.sampled_from([1, 10, 200, 2**35]),
    first=st.sampled_from([0, 60, 8_180, 9_000]),
)
def test_bulk_field_sets_equal_the_per_op_writer(
    ops: list[tuple[str, int, Any]],
    interned: list[str],
    deps: dict[int, int],
    start: int,
    first: int,
) -> None:
    """``add_field_sets`` (what ``changes(since)`` writes a burst of ``set`` calls with, its
    columns joined as bytes) against :meth:`ChangeSetWriter.add` of the same operations,
    after names already in the table and after ``first`` other names (the name positions'
    varints then take one, two or three bytes)."""
    names = list(dict.fromkeys(name for name, _, _ in ops))  # a field is written once
    hlcs = [hlc for _, hlc, _ in ops][: len(names)]
    values = [value for _, _, value in ops][: len(names)]
    full = [
        (K.FIELD_SET, start + i, name, hlc, value)
        for i, (name, hlc, value) in enumerate(zip(names, hlcs, values, strict=True))
    ]
    out = []
    for bulk in (True, False):
        writer = ChangeSetWriter(["me", "other"])
        for i in range(first):
            writer.name_pos(f"other{i}")
        for name in interned:
            writer.name_pos(name)
        if bulk:
            writer.add_field_sets(0, start, deps, names, hlcs, values)
        else:
            writer.add(0, start, deps, full)
        # A later change that looks names up finds those add_field_sets put in the table.
        writer.add(1, 1, {}, [(K.FIELD_SET, 1, name, 5, 0) for name in names[:3]])
        out.append((writer.names, writer.to_bytes(), writer.messages()))
    assert out[0] == out[1]
