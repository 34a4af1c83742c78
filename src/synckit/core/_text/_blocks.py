"""Blocks: the document order as a list of chunks of items, and positions in it.

The document order is a list of *blocks*.  A block holds up to ``_MAX_ITEMS`` items (see
the package docstring for what an item is) as seven parallel columns (plain lists for the
small-int columns, ``array('q')`` for the seq columns, so a decoded state costs about 60
bytes per item), the visible text of its items as one ``str`` (at most about ``_MAX_TEXT``
characters; a lone long item is cut in two to respect that) and its visible length.

Position index: finding a position walks the block sizes from a *cursor* (the block of
the previous lookup and its starting position), so local editing, which moves little,
touches one or two blocks; inside the block a short scan of the length column finds the
item.  Blocks made by ``decode_state`` (:mod:`._codec`) are bigger; a lookup that lands in
one halves it until it is small (so decoding stays cheap and only edited regions pay for
splitting).

This module also holds the edits of that structure every kind of edit shares: splitting
an item or a block, marking characters of an item deleted (merging the tombstone with the
deleted runs it continues), each keeping the id index (:mod:`._id_index`) up to date.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable

from synckit.core._ids import ItemId
from synckit.core._text._id_index import _IdIndex

_MAX_ITEMS = 64  # items per block before it is split in two
_MAX_TEXT = 4096  # visible characters per block before it is split (if it has 2+ items)


def _col(values: Iterable[int] = ()) -> array[int]:
    return array("q", values)


class _Block:
    """A chunk of consecutive items (parallel columns) with its visible text."""

    __slots__ = ("clients", "idx", "lcs", "lens", "lss", "rcs", "rss", "seqs", "size", "text")

    def __init__(
        self,
        idx: int,
        clients: list[int],
        seqs: array[int],
        lens: list[int],
        lcs: list[int],
        lss: array[int],
        rcs: list[int],
        rss: array[int],
        text: str,
        size: int,
    ) -> None:
        self.idx = idx  # position in TextState._blocks
        self.clients = clients
        self.seqs = seqs
        self.lens = lens  # > 0 visible run, < 0 deleted run
        self.lcs = lcs  # left origin client (-1: none)
        self.lss = lss
        self.rcs = rcs  # right origin client (-1: none)
        self.rss = rss
        self.text = text  # visible characters of the block, in order
        self.size = size  # len(text)

    @classmethod
    def empty(cls, idx: int) -> _Block:
        return cls(idx, [], _col(), [], [], _col(), [], _col(), "", 0)

    def visible_offset(self, i: int) -> int:
        """Visible characters in items ``0..i-1``."""
        # Summed over the shorter side of item i (the block's size minus what follows,
        # when that is shorter), the visible lengths by a C-level pass over the signed ones
        # when there is no deleted item among them (`min`, no call per item).
        lens = self.lens
        if i + i <= len(lens):
            part = lens[:i]
            v = sum(part)
            if part and min(part) < 0:
                v = (v + sum(map(abs, part))) >> 1
            return v
        part = lens[i:]
        v = sum(part)
        if part and min(part) < 0:
            v = (v + sum(map(abs, part))) >> 1
        return self.size - v

    def find(self, client: int, start: int) -> int:
        """Index of the item of ``client`` starting at seq ``start`` (must exist)."""
        seqs = self.seqs
        clients = self.clients
        i = seqs.index(start)
        while clients[i] != client:
            i = seqs.index(start, i + 1)
        return i

    def insert_item(
        self, j: int, client: int, seq: int, length: int, lc: int, ls: int, rc: int, rs: int
    ) -> None:
        self.clients.insert(j, client)
        self.seqs.insert(j, seq)
        self.lens.insert(j, length)
        self.lcs.insert(j, lc)
        self.lss.insert(j, ls)
        self.rcs.insert(j, rc)
        self.rss.insert(j, rs)

    def remove_item(self, j: int) -> None:
        del self.clients[j]
        del self.seqs[j]
        del self.lens[j]
        del self.lcs[j]
        del self.lss[j]
        del self.rcs[j]
        del self.rss[j]


def _same_right(blk: _Block, i: int, j: int) -> bool:
    """Do items ``i`` and ``j`` of ``blk`` have the same right origin?"""
    rc = blk.rcs[i]
    return rc == blk.rcs[j] and (rc < 0 or blk.rss[i] == blk.rss[j])


class _BlockList(_IdIndex):
    """The blocks of a text state: position lookups through the cursor, and splitting and
    merging items and blocks (a mixin of :class:`~synckit.core._text.TextState`)."""

    __slots__ = ()

    def _locate(self, p: int) -> tuple[int, int, int, int]:
        """Item holding visible char ``p``: (block index, block start pos, item index,
        visible offset of the item in its block).  Moves the cursor there."""
        blocks = self._blocks
        b = self._cur_b
        bpos = self._cur_bpos
        if p < bpos:
            while p < bpos:
                b -= 1
                bpos -= blocks[b].size
            blk = blocks[b]
        else:
            blk = blocks[b]
            end = bpos + blk.size
            while p >= end:
                b += 1
                bpos = end
                blk = blocks[b]
                end += blk.size
        self._cur_b = b
        self._cur_bpos = bpos
        if len(blk.lens) > _MAX_ITEMS:  # a big block from decode_state: halve it first
            self._split_block(b)
            return self._locate(p)
        r = p - bpos
        ipos = 0
        for i, li in enumerate(blk.lens):
            if li > 0:
                if r < li:
                    return b, bpos, i, ipos
                r -= li
                ipos += li
        raise AssertionError("position index out of sync")  # pragma: no cover

    def _block_start(self, b: int) -> int:
        """Visible position where block ``b`` starts; moves the cursor there."""
        blocks = self._blocks
        cb = self._cur_b
        bpos = self._cur_bpos
        while cb > b:
            cb -= 1
            bpos -= blocks[cb].size
        while cb < b:
            bpos += blocks[cb].size
            cb += 1
        self._cur_b = cb
        self._cur_bpos = bpos
        return bpos

    def _item_at(self, b: int, j: int) -> tuple[_Block, int] | None:
        """Item ``j`` of block ``b``, or the first item after that block's end (if any)."""
        blocks = self._blocks
        blk = blocks[b]
        while j >= len(blk.lens):
            b += 1
            if b == len(blocks):
                return None
            blk = blocks[b]
            j = 0
        return blk, j

    def _next_id(self, b: int, i: int) -> ItemId | None:
        """Id of the first character after item ``i`` of block ``b``."""
        blocks = self._blocks
        blk = blocks[b]
        if i + 1 < len(blk.lens):
            return blk.clients[i + 1], blk.seqs[i + 1]
        for b2 in range(b + 1, len(blocks)):
            blk = blocks[b2]
            if blk.lens:
                return blk.clients[0], blk.seqs[0]
        return None

    def _resize(self, blk: _Block, delta: int) -> None:
        blk.size += delta
        self._len += delta
        if blk.idx < self._cur_b:
            self._cur_bpos += delta

    def _split(self, blk: _Block, i: int, k: int) -> None:
        """Split item ``i`` of ``blk`` after its first ``k`` characters (0 < k < length)."""
        c = blk.clients[i]
        s = blk.seqs[i]
        li = blk.lens[i]
        if li > 0:
            blk.lens[i] = k
            rest = li - k
        else:
            blk.lens[i] = -k
            rest = li + k
        blk.insert_item(i + 1, c, s + k, rest, c, s + k - 1, blk.rcs[i], blk.rss[i])
        if self._index is not None:
            self._index_add(c, s + k, blk)

    def _delete_in_item(self, blk: _Block, i: int, k: int, d: int) -> int:
        """Mark chars ``k..k+d-1`` of visible item ``i`` deleted (text already updated);
        returns the index of the item after them."""
        lens = blk.lens
        li = lens[i]
        j = i + 1
        n = len(lens)
        c = blk.clients[i]
        s = blk.seqs[i]
        if (
            # Backspace: the tail of this item joins the deleted run that continues it.
            k
            and k + d == li
            and j < n
            and lens[j] < 0
            and blk.clients[j] == c
            and blk.seqs[j] == s + li
            and blk.lcs[j] == c
            and blk.lss[j] == s + li - 1
            and _same_right(blk, i, j)
        ):
            lens[i] = k
            ns = s + k
            blk.seqs[j] = ns
            lens[j] -= d
            blk.lss[j] = ns - 1
            if self._index is not None:
                ci = self._index[c]
                q = bisect_right(ci.starts, s + li) - 1
                ci.starts[q] = ns
            return j
        h = i - 1
        if (
            # Forward delete: the head of this item joins the deleted run it continues.
            not k
            and d < li
            and i
            and lens[h] < 0
            and blk.clients[h] == c
            and blk.seqs[h] - lens[h] == s
            and blk.lcs[i] == c
            and blk.lss[i] == s - 1
            and _same_right(blk, h, i)
        ):
            lens[h] -= d
            ns = s + d
            blk.seqs[i] = ns
            lens[i] = li - d
            blk.lss[i] = ns - 1
            if self._index is not None:
                ci = self._index[c]
                q = bisect_right(ci.starts, s) - 1
                ci.starts[q] = ns
            return i
        if k:
            self._split(blk, i, k)
            i += 1
            li -= k
        if d < li:
            self._split(blk, i, d)
        lens[i] = -d
        if i + 1 < len(lens) and self._mergeable(blk, i):
            self._merge(blk, i)
        if i and self._mergeable(blk, i - 1):
            self._merge(blk, i - 1)
            i -= 1
        return i + 1

    @staticmethod
    def _mergeable(blk: _Block, i: int) -> bool:
        """Can deleted item ``i + 1`` be appended to deleted item ``i``?"""
        lens = blk.lens
        a = lens[i]
        j = i + 1
        if a >= 0 or lens[j] >= 0:
            return False
        c = blk.clients[i]
        end = blk.seqs[i] - a
        return (
            blk.clients[j] == c
            and blk.seqs[j] == end
            and blk.lcs[j] == c
            and blk.lss[j] == end - 1
            and _same_right(blk, i, j)
        )

    def _merge(self, blk: _Block, i: int) -> None:
        j = i + 1
        blk.lens[i] += blk.lens[j]
        if self._index is not None:
            ci = self._index[blk.clients[j]]
            q = bisect_right(ci.starts, blk.seqs[j]) - 1
            del ci.starts[q]
            del ci.owners[q]
        blk.remove_item(j)

    def _split_block(self, b: int) -> int:
        """Split block ``b`` in two halves; returns the number of items left in ``b``."""
        blocks = self._blocks
        blk = blocks[b]
        n = len(blk.lens)
        if n < 2:
            if not blk.size >= 2:
                return 0
            self._split(blk, 0, blk.size >> 1)  # one long visible item: cut it in two
            n = 2
        h = n >> 1
        voff = blk.visible_offset(h)
        text = blk.text
        nb = _Block(
            b + 1,
            blk.clients[h:],
            blk.seqs[h:],
            blk.lens[h:],
            blk.lcs[h:],
            blk.lss[h:],
            blk.rcs[h:],
            blk.rss[h:],
            text[voff:],
            blk.size - voff,
        )
        del blk.clients[h:]
        del blk.seqs[h:]
        del blk.lens[h:]
        del blk.lcs[h:]
        del blk.lss[h:]
        del blk.rcs[h:]
        del blk.rss[h:]
        blk.text = text[:voff]
        blk.size = voff
        blocks.insert(b + 1, nb)
        for b2 in range(b + 2, len(blocks)):
            blocks[b2].idx = b2
        if self._cur_b > b:
            self._cur_b += 1
        index = self._index
        if index is not None:
            for c, s in zip(nb.clients, nb.seqs, strict=True):
                ci = index[c]
                ci.owners[bisect_right(ci.starts, s) - 1] = nb
        return h
