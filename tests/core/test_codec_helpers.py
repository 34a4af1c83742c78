"""Small helpers of the text snapshot codec (:mod:`synckit.core._text._codec`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from synckit.core._text._codec import _positions


@given(st.lists(st.integers(-2, 2), max_size=40), st.integers(-2, 2))
def test_positions_are_the_indexes_of_the_value_in_order(column: list[int], value: int) -> None:
    assert _positions(column, value) == [i for i, x in enumerate(column) if x == value]
