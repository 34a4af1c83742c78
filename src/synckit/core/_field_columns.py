"""Changes made of field writes only, read and applied a column at a time.

A fresh replica's first sync is one change of thousands of field writes (a document's
:meth:`~synckit.Document.changes`: field sets, deletes and skips where writes lost, each
field once). The per-operation loops of :func:`~synckit.core._codec.decode_changes`, of
``_remote._integrate_changes`` and of snapshot loading dispatch over every kind and look
every field up, one operation at a time; here the same work is a few passes at C speed over
whole columns (``map``, ``zip``, ``compress``, ``accumulate``, ``min`` / ``max``, one
``dict.update``). A change decoded so keeps its columns (:class:`FieldWrites`) and builds
its operation tuples only if something asks for them: applying it never does, which also
spares the garbage collector ten thousand young tuples to look at.

Both functions give up (return None) on anything out of the ordinary - another kind, an
index, count, seq or clock out of range, a column of the wrong length, a nested container,
a field written twice in one change - and leave it to the general loops, which decide it
exactly as before and name the first problem of a bad change. What they return when they do not give
up is what those loops would have produced, bit for bit: the tests in
``tests/core/test_field_columns.py`` compare the two on random and hostile input.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, count, repeat
from operator import itemgetter, not_
from typing import TYPE_CHECKING, Any, cast

from synckit.core import _ops as K
from synckit.core._host import DELETED

if TYPE_CHECKING:
    from synckit.core._change import Change
    from synckit.core._ids import ContainerId
    from synckit.core._ops import Op

__all__ = ["FIELD_COLUMNS_AT", "FieldWrites", "field_writes", "integrate_fields"]

#: How many operations a change needs before these paths are tried (below it, the general
#: loops cost about as little, and a remote edit of one field stays on its own fast path).
FIELD_COLUMNS_AT = 16
_SET, _DELETE, _SKIP = K.FIELD_SET, K.FIELD_DELETE, K.SKIP
_FIELD_KINDS = frozenset((_SET, _DELETE))
_MAX = 2**62  # (the codec's _MAX_SEQ and _MAX_HLC)
_intern = sys.intern
_kind, _seq, _name, _clock, _value = (itemgetter(i) for i in range(5))


def _each(calls: Iterable[object]) -> None:
    """Run the calls of a lazy ``map`` (at C speed: a deque that keeps nothing)."""
    deque(calls, maxlen=0)


@dataclass(frozen=True, slots=True)
class FieldWrites:
    """A change of field writes as columns: ``names[i]`` written at seq ``seqs[i]`` with
    clock ``clocks[i]``, set to ``values[i]`` (:data:`~synckit.core._host.DELETED`: deleted),
    and the change's ``skips`` (SKIP operations) between them. The lists are never changed.
    """

    names: list[str]
    clocks: list[int]
    values: list[Any]
    seqs: Sequence[int]
    skips: list[Op]
    #: The largest clock.
    top: int
    #: The seq after the change's last one.
    stop: int

    def ops(self) -> list[Op]:
        """The operations, in seq order."""
        values = self.values
        if DELETED in values:
            cols = zip(self.seqs, self.names, self.clocks, values, strict=True)
            ops: list[Op] = [
                (_SET, s, n, h, v) if v is not DELETED else (_DELETE, s, n, h)
                for s, n, h, v in cols
            ]
        else:
            ops = list(zip(repeat(_SET), self.seqs, self.names, self.clocks, values, strict=False))
        if self.skips:
            ops += self.skips
            ops.sort(key=_seq)  # (two sorted runs: one merge)
        return ops


def field_writes(
    kinds: list[int],
    ints: list[int],
    hlcs: list[int],
    values: list[Any],
    start: int,
    names: list[ContainerId],
) -> FieldWrites | None:
    """What the per-op loop of ``decode_changes`` reads from a change's columns when they
    are field sets, field deletes and skips only (``kinds``, the ``ints`` - a name position
    or a skip's count each -, the clock deltas ``hlcs``, ``values``; the change has no strs
    and no text), every name a top-level one, every clock, count and seq (from ``start``)
    in range and every column used up; None when not.
    """
    n = len(kinds)
    if len(ints) != n or not n or start + n >= _MAX:
        return None
    n_sets = kinds.count(_SET)
    seqs: Sequence[int]
    skips: list[Op] = []
    if n_sets == n:  # (field sets only: the usual first sync)
        writes, vals, stop = ints, values, start + n
        seqs = range(start, stop)
    else:
        n_skips = kinds.count(_SKIP)
        if n_sets + n_skips + kinds.count(_DELETE) != n or len(values) != n_sets:
            return None
        is_write = list(map(_SKIP.__ne__, kinds))
        writes = list(compress(ints, is_write))
        if n_skips:
            is_skip = list(map(not_, is_write))
            counts = list(compress(ints, is_skip))
            if min(counts) < 1 or max(counts) >= _MAX:
                return None
            widths = [1] * n
            where = list(compress(range(n), is_skip))
            _each(map(widths.__setitem__, where, counts))
            every = list(accumulate(widths, initial=start))
            stop = every.pop()
            if stop >= _MAX:
                return None
            seqs = list(compress(every, is_write))
            skips = list(zip(repeat(_SKIP), map(every.__getitem__, where), counts, strict=False))
        else:
            stop = start + n
            seqs = range(start, stop)
        if n_sets == len(writes):
            vals = values
        else:  # the values of the sets, DELETED for the deletes
            vals = [DELETED] * len(writes)
            is_set = map(_SET.__eq__, compress(kinds, is_write))
            _each(map(vals.__setitem__, compress(count(), is_set), values))
    w = len(writes)
    if len(hlcs) != w or len(values) != n_sets or not w or min(writes) < 0:
        return None
    try:
        fields = list(map(names.__getitem__, writes))  # (IndexError: past the table's end)
        "".join(fields)  # type: ignore[arg-type]  # (TypeError: a nested container, a tuple)
    except (IndexError, TypeError):
        return None
    first = hlcs[0]
    zeros = hlcs.count(0)
    if zeros == w or (zeros == w - 1 and first):
        # One clock for every write (an ``update``): the deltas after the first are 0.
        if not 0 <= first < _MAX:
            return None
        clocks, top = [first] * w, first
    else:
        clocks = list(accumulate(hlcs))  # (every running sum is a clock the loop checks)
        top = max(clocks)
        if min(clocks) < 0 or top >= _MAX:
            return None
    return FieldWrites(cast("list[str]", fields), clocks, vals, seqs, skips, top, stop)


def integrate_fields(
    fields: dict[str, tuple[int, int, int, Any]],
    clients: list[str],
    ch: Change,
    touched: set[ContainerId] | None,
) -> int | None:
    """Apply the field writes of ``ch`` to a document's ``fields`` (its writers' ids:
    ``clients``) when they are sets and deletes of as many distinct fields, as the per-op
    loop would: a write to a field the document lacks wins, one to a field it holds wins
    if its (clock, writer id) is the larger, and each write that wins goes to the end of
    ``fields`` in turn. Reads ``ch``'s columns when it has them; else it must be field
    writes only. Adds the fields to ``touched`` (unless None) and returns the largest
    clock; None (nothing changed) when they are not such writes. (The caller logs the
    change's skips.)
    """
    c, writes = ch.client, ch.field_writes
    if writes is not None:
        names, clocks, values, top = writes.names, writes.clocks, writes.values, writes.top
        seqs: Iterable[int] = writes.seqs
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
    entries = zip(clocks, repeat(c), seqs, values, strict=False)
    if not fields or fields.keys().isdisjoint(names):
        # (A first sync: every write wins.)
        new = dict(zip(map(_intern, names), entries, strict=True))
        if len(new) != len(names):
            return None  # a field written twice: the loop compares the two writes
        fields.update(new)
    else:
        if len(set(names)) != len(names):
            return None
        writer = clients[c]
        wins = [  # ((hlc, writer) > (cur[0], its writer), without the tuples)
            cur is None or hlc > cur[0] or (hlc == cur[0] and writer > clients[cur[1]])
            for hlc, cur in zip(clocks, map(fields.get, names), strict=True)
        ]
        # Those that win leave their place and come back at the end, in order.
        _each(map(fields.pop, compress(names, wins), repeat(None)))
        winners = zip(map(_intern, compress(names, wins)), compress(entries, wins), strict=True)
        fields.update(winners)
    if touched is not None:
        touched.update(names)
    return top
