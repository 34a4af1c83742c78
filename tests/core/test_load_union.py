"""``_union``: the ints a set of ranges covers, as maximal ranges (the load check that a
text's delete targets are exactly its deleted characters compares two of them)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from synckit.core._text._load_checks import _union

_RANGES = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=25)


def _covered(ranges: list[tuple[int, int]]) -> set[int]:
    return {x for lo, span in ranges for x in range(lo, lo + span + 1)}


def _maximal(ints: set[int]) -> tuple[list[int], list[int]]:
    firsts = sorted(x for x in ints if x - 1 not in ints)
    lasts = sorted(x for x in ints if x + 1 not in ints)
    return firsts, lasts


@given(_RANGES)
def test_union_is_the_maximal_ranges_of_the_covered_ints(ranges: list[tuple[int, int]]) -> None:
    lows = [lo for lo, _ in ranges]
    highs = [lo + span for lo, span in ranges]
    assert _union(lows, highs) == _maximal(_covered(ranges))


@given(_RANGES, _RANGES)
def test_equal_unions_iff_equal_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    ua = _union([lo for lo, _ in a], [lo + s for lo, s in a])
    ub = _union([lo for lo, _ in b], [lo + s for lo, s in b])
    assert (ua == ub) == (_covered(a) == _covered(b))


def test_union_examples() -> None:
    assert _union([], []) == ([], [])
    assert _union([5, 0, 2], [6, 10, 3]) == ([0], [10])  # nested and overlapping
    assert _union([0, 4], [3, 6]) == ([0], [6])  # adjacent ranges join
    assert _union([0, 5], [3, 6]) == ([0, 5], [3, 6])


def test_a_mismatch_is_worded_as_the_typescript_core_words_it() -> None:
    from synckit.core._text._load_checks import _mismatch

    dead = _union([3, 10], [5, 12])  # deleted: 3-5 and 10-12
    outside = "text state: a delete targets a character that is not a deleted one"
    missing = "text state: a character is deleted but no delete deleted it"
    assert _mismatch([3, 6], [5, 6], dead) == outside  # 6 is not deleted
    assert _mismatch([2], [4], dead) == outside  # nor is 2
    assert _mismatch([3, 10], [5, 11], dead) == missing  # 12 deleted by none
    assert _mismatch([], [], dead) == missing
