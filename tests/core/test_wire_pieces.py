"""The protobuf pieces the change writer joins by hand (:mod:`synckit.core._wire`) are the
bytes the protobuf runtime writes for the same field, on every input their fast paths take
and on every input that sends them the general way."""

from __future__ import annotations

from operator import sub

from hypothesis import given
from hypothesis import strategies as st

from synckit.core._wire import packed_sint_deltas, table_entries
from synckit.v1 import changes_pb2

_INT64 = st.integers(-(2**63), 2**63 - 1)
# Names as fields are written: ASCII and not, short and at the 127/128-character edge.
_TEXT = st.one_of(
    st.text(max_size=6),
    st.text(alphabet="ab", min_size=120, max_size=135),
    st.text(alphabet="é€😀a", max_size=70),
)


@given(st.lists(_TEXT, max_size=30), st.sampled_from(["clients", "names"]))
def test_table_entries_are_the_repeated_string_field(texts: list[str], field: str) -> None:
    msg = changes_pb2.ChangeSet(clients=texts) if field == "clients" else None
    tag = b"\x12" if msg is not None else b"\x1a"
    expect = (msg or changes_pb2.ChangeSet(names=texts)).SerializeToString()
    assert table_entries(tag, texts) == expect


def test_table_entries_edges() -> None:
    for texts in ([], ["x" * 127], ["x" * 128], ["a", "x" * 128, "b"], ["é"], ["", ""]):
        expect = changes_pb2.ChangeSet(names=texts).SerializeToString()
        assert table_entries(b"\x1a", texts) == expect, texts


def _hlcs(values: list[int]) -> bytes:
    return changes_pb2.Change(hlcs=list(map(sub, values, [0, *values]))).SerializeToString()


@given(_INT64, st.lists(st.integers(-300, 300), max_size=40))
def test_packed_sint_deltas_are_the_hlcs_field(first: int, steps: list[int]) -> None:
    values = [first]
    for step in steps:
        values.append(min(max(values[-1] + step, -(2**63)), 2**63 - 1))
    assert packed_sint_deltas(b"\x3a", values) == _hlcs(values)


def test_packed_sint_deltas_edges() -> None:
    base = 117_745_319_623_327_744  # a clock of today
    for values in (
        [base],
        [0],
        [base, base],  # a step of 0
        [base, base + 63],  # the largest one-byte step
        [base, base + 64],  # the smallest two-byte one
        [base, base + 255, base + 256 + 255],
        [base, base - 1],  # back: negative
        [base, base + 1, base + 2**40],
        (base, base + 1, base + 2),  # a tuple, as the writer passes
    ):
        assert packed_sint_deltas(b"\x3a", values) == _hlcs(list(values)), values
