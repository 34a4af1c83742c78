"""Changes made of field writes only, read and applied a column at a time.

A fresh replica's first sync is one change of thousands of field writes (a document's
:meth:`~synckit.Document.changes`, whose fields each appear once). The per-operation loops
of :func:`~synckit.core._codec.decode_changes` and of ``_remote._integrate_changes``
dispatch over every kind and look every field up, one operation at a time; here the same
work is a few passes at C speed over whole columns (``map``, ``zip``, ``accumulate``,
``min`` / ``max``, one ``dict.update``). A change decoded so keeps its columns
(:class:`FieldSets`) and builds its operation tuples only if something asks for them:
applying it to a replica that lacks its fields never does, which also spares the garbage
collector ten thousand young tuples to look at.

Both functions give up (return None) on anything out of the ordinary - another kind, an
index, seq or clock out of range, a column of the wrong length, a name used twice, a field
the document holds already - and leave it to the general loops, which decide it exactly as
before and name the first problem of a bad change. What they return when they do not give
up is what those loops would have produced, bit for bit: the tests in
``tests/core/test_field_columns.py`` compare the two on random and hostile input.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from synckit.core import _ops as K
from synckit.core._host import DELETED

if TYPE_CHECKING:
    from synckit.core._codec import Change
    from synckit.core._ids import ContainerId
    from synckit.core._ops import Op

__all__ = ["FIELD_COLUMNS_AT", "FieldSets", "field_sets", "integrate_fields"]

#: How many operations a change needs before these paths are tried (below it, the general
#: loops cost about as little, and a remote edit of one field stays on its own fast path).
FIELD_COLUMNS_AT = 16
_SET, _DELETE = K.FIELD_SET, K.FIELD_DELETE
_FIELD_KINDS = frozenset((_SET, _DELETE))
_MAX = 2**62  # (the codec's _MAX_SEQ and _MAX_HLC)
_intern = sys.intern
_kind, _seq, _name, _clock, _value = (itemgetter(i) for i in range(5))


@dataclass(frozen=True, slots=True)
class FieldSets:
    """A change of field sets as columns: ``names[i]`` set to ``values[i]`` with clock
    ``clocks[i]``, at the change's ``i``-th seq (the lists are never changed)."""

    names: list[str]
    clocks: list[int]
    values: list[Any]
    #: The largest clock.
    top: int

    def ops(self, start: int) -> list[Op]:
        """The operations, the first at seq ``start``."""
        seqs = range(start, start + len(self.names))
        return list(zip(repeat(_SET), seqs, self.names, self.clocks, self.values, strict=False))


def field_sets(
    kinds: list[int],
    ints: list[int],
    hlcs: list[int],
    values: list[Any],
    start: int,
    names: list[ContainerId],
) -> FieldSets | None:
    """What the per-op loop of ``decode_changes`` reads from a change's columns when they
    are field sets only (``kinds``, the name positions ``ints``, the clock deltas ``hlcs``,
    ``values``; the change has no strs and no text), every name a top-level one, every
    clock and seq (from ``start``) in range and every column used up; None when not.
    """
    n = len(kinds)
    if not (n == len(ints) == len(hlcs) == len(values)) or not n or start + n >= _MAX:
        return None
    if kinds.count(_SET) != n or min(ints) < 0:
        return None
    try:
        fields = list(map(names.__getitem__, ints))  # (IndexError: past the table's end)
        "".join(fields)  # type: ignore[arg-type]  # (TypeError: a nested container, a tuple)
    except (IndexError, TypeError):
        return None
    first = hlcs[0]
    zeros = hlcs.count(0)
    if zeros == n or (zeros == n - 1 and first):
        # One clock for every write (an ``update``): the deltas after the first are 0.
        if not 0 <= first < _MAX:
            return None
        clocks, top = [first] * n, first
    else:
        clocks = list(accumulate(hlcs))  # (every running sum is a clock the loop checks)
        top = max(clocks)
        if min(clocks) < 0 or top >= _MAX:
            return None
    return FieldSets(cast("list[str]", fields), clocks, values, top)


def integrate_fields(
    fields: dict[str, tuple[int, int, int, Any]], ch: Change, touched: set[ContainerId]
) -> int | None:
    """Apply ``ch`` to a document's ``fields`` when it is field sets and deletes of as many
    distinct fields, none of which the document holds: then each write wins and goes to the
    end of ``fields`` in turn, as the per-op loop would put it (its columns when it has
    them, else its ops). Adds the fields to ``touched`` and returns the largest clock; None
    (nothing changed) when it is not.
    """
    c, sets = ch.client, ch.field_sets
    if sets is not None:
        names, clocks, values, top = sets.names, sets.clocks, sets.values, sets.top
        seqs: Iterable[int] = range(ch.start, ch.end + 1)
    else:
        ops = ch.ops
        kinds = set(map(_kind, ops))
        if not kinds <= _FIELD_KINDS:
            return None
        names = list(map(_name, ops))
        clocks = list(map(_clock, ops))
        if _DELETE in kinds:
            values = [op[4] if op[0] == _SET else DELETED for op in ops]
        else:
            values = list(map(_value, ops))
        seqs, top = map(_seq, ops), max(clocks)
    if fields and not fields.keys().isdisjoint(names):
        return None
    entries = zip(clocks, repeat(c), seqs, values, strict=False)
    new = dict(zip(map(_intern, names), entries, strict=True))
    if len(new) != len(names):
        return None  # a field written twice: the loop compares the two writes
    fields.update(new)
    touched.update(new)
    return top
