"""History: the operations a text is made of, and ``ops_since``.

Insert operations need no log: the items of a client sorted by seq (the id index,
:mod:`._id_index`) *are* its insert history (content of deleted runs is replaced by a
placeholder of the same length, which the interface allows; adjacent items that continue
each other come out as one op).  Every delete operation is logged per client as
run-length-encoded runs ``(seq, target_client, target_first, signed_count)``; a negative
count is a backspace run (targets ``first, first-1, ...``).

Fast path: the latest local op is kept, so ``ops_since`` asked for "everything after my
previous version" right after a keystroke answers without any lookup.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate, count, repeat
from typing import Literal

from synckit.core._ids import ItemId
from synckit.core._text._blocks import _Block, _col
from synckit.core._text._id_index import _IdIndex

#: ``('i', seq, origin_left, origin_right, content)``
InsertOp = tuple[Literal["i"], int, ItemId | None, ItemId | None, str]
#: ``('d', seq, target_client, target_first, signed_count)``
DeleteOp = tuple[Literal["d"], int, int, int, int]
TextOp = InsertOp | DeleteOp

_PLACEHOLDER = "\x00"  # stands for the content of deleted characters in ops_since
#: Items of one client ops_since finds in a block by a search before mapping the block.
_SEARCHED = 8


class _DeleteLog:
    """One client's delete operations: RLE runs sorted by seq."""

    __slots__ = ("counts", "firsts", "seqs", "targets")

    def __init__(self) -> None:
        self.seqs = _col()
        self.targets: list[int] = []
        self.firsts = _col()
        self.counts: list[int] = []  # signed: < 0 is a backspace run

    def add(self, seq: int, target: int, first: int, count: int) -> None:
        seqs = self.seqs
        if seqs and self.targets[-1] == target:
            c0 = self.counts[-1]
            a0 = c0 if c0 > 0 else -c0
            if seqs[-1] + a0 == seq:
                f0 = self.firsts[-1]
                if c0 > 0 and count > 0 and f0 + c0 == first:
                    self.counts[-1] = c0 + count
                    return
                if (c0 < 0 or c0 == 1) and (count < 0 or count == 1) and f0 - a0 == first:
                    self.counts[-1] = -(a0 + (count if count > 0 else -count))
                    return
        seqs.append(seq)
        self.targets.append(target)
        self.firsts.append(first)
        self.counts.append(1 if count == -1 else count)


def _op_seq(op: TextOp) -> int:
    return op[1]


class _OpHistory(_IdIndex):
    """The operations of a text state (a mixin of :class:`~synckit.core._text.TextState`)."""

    __slots__ = ()

    def ops_since(self, client: int, after: int) -> list[TextOp]:
        recent = self._recent
        if recent is not None and recent[0] == client and recent[1] <= after:
            # Only the latest local op (or nothing) is newer than `after`.
            if after < recent[2]:
                return list(recent[4])
            if after >= recent[3]:
                return []
        ops: list[TextOp] = []
        index = self._ensure_index()
        ci = index.get(client)
        if ci is not None:
            starts = ci.starts
            q0 = max(bisect_right(starts, after) - 1, 0)
            prev: InsertOp | None = None
            # Visible offset of every item, per block met (blocks usually hold many of
            # the client's items).
            offsets: dict[_Block, list[int]] = {}
            # Item index of each of the client's items, per block met (a dict lookup per
            # item rather than a search of the block's seq column).
            where: dict[_Block, dict[int, int]] = {}
            # Few items to send per block of the text (a catch-up of a large text, or edits
            # scattered over it): the first _SEARCHED items met in a block are found by a
            # search (at C speed: about 10 µs in a block of a thousand items) rather than
            # by a map of the whole block, which a block met more often gets.
            met: dict[_Block, int] | None = (
                {} if len(starts) - q0 < _SEARCHED * len(self._blocks) else None
            )
            for s, blk in zip(starts[q0:], ci.owners[q0:], strict=True):
                at = where.get(blk)
                if at is not None:
                    i = at[s]
                elif met is not None and met.get(blk, 0) < _SEARCHED:
                    met[blk] = met.get(blk, 0) + 1
                    i = blk.find(client, s)
                else:
                    clients = blk.clients
                    if clients.count(client) == len(clients):  # one writer: every item
                        at = where[blk] = dict(zip(blk.seqs, count()))
                    else:
                        at = where[blk] = {
                            sq: k
                            for k, (c, sq) in enumerate(zip(clients, blk.seqs, strict=True))
                            if c == client
                        }
                    i = at[s]
                li = blk.lens[i]
                if li > 0:
                    offs = offsets.get(blk)
                    if offs is not None:
                        o = offs[i]
                    elif at is None:
                        o = blk.visible_offset(i)
                    else:
                        offs = offsets[blk] = list(
                            accumulate(map(max, blk.lens, repeat(0)), initial=0)
                        )
                        o = offs[i]
                    content = blk.text[o : o + li]
                else:
                    li = -li
                    content = _PLACEHOLDER * li
                lc = blk.lcs[i]
                left: ItemId | None = None if lc < 0 else (lc, blk.lss[i])
                rc = blk.rcs[i]
                right: ItemId | None = None if rc < 0 else (rc, blk.rss[i])
                if s <= after:  # (only the first item can start at or before `after`)
                    if s + li - 1 <= after:
                        continue
                    content = content[after + 1 - s :]
                    left = (client, after)
                    s = after + 1
                if (
                    prev is not None
                    and prev[1] + len(prev[4]) == s
                    and left == (client, s - 1)
                    and prev[3] == right
                ):
                    prev = ("i", prev[1], prev[2], right, prev[4] + content)
                    ops[-1] = prev
                else:
                    op: InsertOp = ("i", s, left, right, content)
                    ops.append(op)
                    prev = op
        log = self._dels.get(client)
        if log is not None:
            seqs = log.seqs
            for q in range(max(bisect_right(seqs, after) - 1, 0), len(seqs)):
                s = seqs[q]
                cnt = log.counts[q]
                a = cnt if cnt > 0 else -cnt
                if s + a - 1 <= after:
                    continue
                f = log.firsts[q]
                if s <= after:
                    t = after + 1 - s
                    if cnt > 0:
                        f += t
                        cnt -= t
                    else:
                        f -= t
                        cnt += t
                    s = after + 1
                    if cnt == -1:
                        cnt = 1
                ops.append(("d", s, log.targets[q], f, cnt))
            ops.sort(key=_op_seq)
        return ops

    def holds_seqs(self, client: int, first: int, last: int) -> bool:
        """Whether an operation of ``client`` in this text (an item or a delete run) takes a
        seq from ``first`` to ``last``. A text not decoded yet (see ``decode_later``) says
        True rather than decode itself to find out."""
        if self._lazy is not None:
            return True
        ci = self._ensure_index().get(client)
        if ci is not None:
            starts = ci.starts
            q = bisect_right(starts, last) - 1
            if q >= 0:
                s = starts[q]
                if s >= first:
                    return True
                # The item before: does it reach `first`? (Its length is in its block.)
                blk = ci.owners[q]
                if s + abs(blk.lens[blk.find(client, s)]) - 1 >= first:
                    return True
        log = self._dels.get(client)
        if log is not None:
            seqs = log.seqs
            q = bisect_right(seqs, last) - 1
            if q >= 0 and seqs[q] + abs(log.counts[q]) - 1 >= first:
                return True
        return False

    def op_runs(self) -> dict[int, list[tuple[int, int]]]:
        """Per client, the ``(first seq, last seq)`` of each of its items and delete runs in
        this text, in no order: the seqs of the operations :meth:`ops_since` sends (which may
        merge adjacent items into one operation, never split one)."""
        runs: dict[int, list[tuple[int, int]]] = {}
        for blk in self._blocks:
            for c, s, n in zip(blk.clients, blk.seqs, blk.lens, strict=True):
                runs.setdefault(c, []).append((s, s + abs(n) - 1))
        for c, log in self._dels.items():
            for s, n in zip(log.seqs, log.counts, strict=True):
                runs.setdefault(c, []).append((s, s + abs(n) - 1))
        return runs

    def _remember(self, client: int, first: int, last: int, ops: list[TextOp]) -> None:
        recent = self._recent
        if recent is not None and recent[0] == client and recent[3] < first:
            self._recent = (client, recent[3], first, last, ops)
        else:
            self._recent = (client, first - 1, first, last, ops)
