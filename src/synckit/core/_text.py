"""Collaborative text: a YATA sequence CRDT over run-length-encoded items.

Model
=====
Every character ever inserted has an id ``(client, seq)`` (see :mod:`synckit.core._ids`)
and keeps its place in one total *document order* forever; deleting a character only
marks it as a tombstone.  A character is inserted with two *origins*: ``origin_left``,
the character it was typed after, and ``origin_right``, the character that was right
after it at that moment (``None`` stands for the start / the end of the text).  A remote
insert is placed between its origins; when concurrent inserts compete for the same gap
they are ordered by the YATA rules (the "YjsMod" variant of Joseph Gentle's
reference-crdts, ties broken by comparing client id *strings*), which gives the same
order on every replica and never interleaves two concurrently typed runs.

Items (run-length encoding)
===========================
Characters are not stored one by one.  An *item* is a run of characters with
consecutive seqs of one client where every character after the first has the previous
character of the run as its left origin and all of them share the run's right origin:
exactly what typing produces.  So an item is seven integers::

    client, seq (first char), length (negative: the run is deleted),
    left origin (client, seq), right origin (client, seq)     # client -1: no origin

Splitting an item at offset ``k`` gives two items that describe the same characters
(the second part's left origin is the first part's last character), so items can be
split and merged freely without changing the meaning.  A local insert right after the
end of the client's latest item, with the next seq, simply grows that item.  Deleted
items keep their ids and origins but not their content.

Blocks (position index)
=======================
The document order is a list of *blocks*.  A block holds up to ``_MAX_ITEMS`` items as
seven parallel columns (plain lists for the small-int columns, ``array('q')`` for the
seq columns, so a decoded state costs about 60 bytes per item), the visible text of its
items as one ``str`` (at most about ``_MAX_TEXT`` characters; a lone long item is cut in
two to respect that) and its visible length.  Finding a position walks the block sizes
from a *cursor* (the block of the previous lookup and its starting position), so local
editing, which moves little, touches one or two blocks; inside the block a short scan
of the length column finds the item.  Blocks made by ``decode_state`` are bigger; a
lookup that lands in one halves it until it is small (so decoding stays cheap and only
edited regions pay for splitting).

Fast paths
==========
* Local typing: the last local insert remembers where it ended (block, item, text
  offset); the next insert at that position with the next seq just grows the item.
* Remote typing: likewise for the last remote insert, when the next op of that client
  continues it (left origin = its last char, same right origin) and the item right after
  it is that right origin, so the YATA scan would stop at once.
* History: the latest local op is kept, so ``ops_since`` asked for "everything after my
  previous version" right after a keystroke answers without any lookup.
* YATA scan: comparing a scanned item's origins with the new item's needs a position
  (an id lookup) only when the origin is neither one of the new item's own origins nor
  the last character of the item just before (which lies inside the scanned range);
  even then block indexes usually decide without finding the item.  With no left
  origin, items that have one cannot stop the scan, so it jumps (``list.index``) to the
  next item without one.

Id index
========
Remote operations, ``has_item`` and ``ops_since`` look characters up by id.  A per-client
index (item starts sorted by seq, with the block holding each item) answers that with a
bisect and a C-level search of one block.  It is built lazily on the first lookup and
then kept up to date, so pure local editing and decoding never pay for it.

Edit records and cursors
========================
While the Document records for its subscribers (``record_edits`` / ``take_edits``), every
remote insert and every visible piece of a remote delete also notes its visible position
(the start of its block, walked to from the cursor, plus its offset in the block) as a
``(pos, deleted, inserted)`` splice; consecutive ones that continue each other merge.  A
cursor (:mod:`synckit.core._cursor`) names a character by id: ``char_id`` finds the id at
a position through the cursor, ``char_position`` the position of an id through the id
index, deleted characters included (they keep their place in the order).

Deletes and history
===================
Every delete operation is logged per client as run-length-encoded runs
``(seq, target_client, target_first, signed_count)``; a negative count is a backspace run
(targets ``first, first-1, ...``).  Insert operations need no log: the items of a client
sorted by seq *are* its insert history (content of deleted runs is replaced by a
placeholder of the same length, which the interface allows; adjacent items that
continue each other come out as one op).

Snapshot
========
``encode_state`` (format 2; see its docstring for the exact layout) writes the items in
document order as integer columns: the clients run-length encoded, seqs delta-coded,
signed lengths, and each origin as a *reference to an item*: the left origin of item
``i`` is the last character of item ``j`` and the right origin the first character of
item ``j``, written as the step from the previous item's ``j``.  Then come the short
lists of items without an origin and of the rare origins inside an item (an offset from
that last / first character; only merged tombstone runs make those).  Then the visible
text and, per client, the delete log as columns (seq steps, target moves, counts).

Given the document's version and checkpoints (:class:`History`), ``decode_state`` also
checks the text against them (see ``_check_history``), so that a hostile snapshot cannot
load into a document whose later changes other replicas refuse.

``decode_state`` rebuilds the blocks with slicing and C-level ``map``/``accumulate``,
without integrating anything, after validating everything a hostile input could break:
lengths, client ranges, trailing ints, overlapping ids, origins naming no character.
No check is a Python loop per item.  Ids overlap unless the separately sorted first and
last seqs interleave (two ``sorted`` calls on integer keys).  An origin needs no check
of its own: looking up item ``j``'s last (first) seq in a list *is* the origin's seq,
and an index outside the items raises; only the short lists are checked entry by entry.
Since those lookups return the int objects of the ``seqs`` and ``lasts`` lists, the
origin columns allocate no new ints on their way into ``array('q')`` columns, and big
temporaries are dropped early, which keeps the peak memory of a load (and the allocator
pages it leaves behind) low.  The delete log is checked the same way: seq steps at
least the previous run's size, nonzero counts, no target below seq 0.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate, chain, compress, islice, repeat
from operator import add, eq, ge, gt, invert, itemgetter, lt, mul, ne, sub
from typing import Literal

from synckit.core._ids import ItemId


@dataclass(slots=True)
class History:
    """What the document holding a text knows, for checking a decoded text state."""

    #: Per client index, its highest seq.
    version: list[int]
    #: Per client index, its ``(first seq, {client: seq})`` dependency checkpoints in seq
    #: order (before the first one, or with none, it depended on nothing).
    checkpoints: list[list[tuple[int, dict[int, int]]]]
    #: Filled in by :meth:`TextState.decode_state`: per client, the seqs its items and its
    #: deletes take, as sorted ``(firsts, lasts)`` runs (one pair per kind), so that the
    #: document can check them against its other operations.
    used: dict[int, list[tuple[list[int], list[int]]]] = field(default_factory=dict)

    def saw(self, client: int, seq: int, item: ItemId) -> bool:
        """Whether ``client``'s operation ``seq`` could refer to ``item``: an earlier
        operation of its own, or one within what it depended on (its checkpoint)."""
        other, other_seq = item
        if other == client:
            return other_seq < seq
        cps = self.checkpoints[client]
        k = bisect_right(cps, seq, key=itemgetter(0))
        return k > 0 and other_seq <= cps[k - 1][1].get(other, 0)


__all__ = ["DeleteOp", "History", "InsertOp", "TextOp", "TextState"]

#: ``('i', seq, origin_left, origin_right, content)``
InsertOp = tuple[Literal["i"], int, ItemId | None, ItemId | None, str]
#: ``('d', seq, target_client, target_first, signed_count)``
DeleteOp = tuple[Literal["d"], int, int, int, int]
TextOp = InsertOp | DeleteOp

_MAX_ITEMS = 64  # items per block before it is split in two
_DECODE_ITEMS = 1024  # items per block made by decode_state
_MAX_TEXT = 4096  # visible characters per block before it is split (if it has 2+ items)
_PLACEHOLDER = "\x00"  # stands for the content of deleted characters in ops_since
_FORMAT = 2  # first int of encode_state
_NO_POS = (-1, 0, 0)  # position of the "start of document" origin
_END_POS = (1 << 62, 0, 0)  # position of the "end of document" origin


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
        lens = self.lens[:i]
        return (sum(lens) + sum(map(abs, lens))) >> 1

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


class _ClientIndex:
    """One client's items sorted by first seq, with the block holding each."""

    __slots__ = ("owners", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.owners: list[_Block] = []


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


class TextState:
    """The state of one collaborative text (see the module docstring)."""

    __slots__ = (
        "_blocks",
        "_client_ids",
        "_cur_b",
        "_cur_bpos",
        "_dels",
        "_edits",
        "_index",
        "_len",
        "_recent",
        "_rtail",
        "_tail_blk",
        "_tail_client",
        "_tail_i",
        "_tail_off",
        "_tail_pos",
        "_tail_seq",
    )

    def __init__(self, client_ids: list[str]) -> None:
        self._client_ids = client_ids
        self._blocks: list[_Block] = [_Block.empty(0)]
        self._len = 0
        self._cur_b = 0  # cursor: a block index and the visible position where it starts
        self._cur_bpos = 0
        self._index: dict[int, _ClientIndex] | None = None  # built on first use
        self._dels: dict[int, _DeleteLog] = {}
        # Tail fast path: the last local insert ended at visible position _tail_pos, at the
        # end of item _tail_i of _tail_blk (text offset _tail_off in that block); typing on
        # with seq _tail_seq by _tail_client grows that item.  _tail_pos -1: not valid.
        self._tail_pos = -1
        self._tail_seq = 0
        self._tail_client = -1
        self._tail_blk = self._blocks[0]
        self._tail_i = 0
        self._tail_off = 0
        # The latest local op, to answer ops_since cheaply right after it:
        # (client, end of that client's previous text op, first seq, last seq, ops).
        self._recent: tuple[int, int, int, int, list[TextOp]] | None = None
        # Remote typing fast path: (client, next seq, block, item index, text offset of
        # the item's end, right origin) of the item the last apply_insert grew or made,
        # when the item right after it is its right origin.  None: not valid.
        self._rtail: tuple[int, int, _Block, int, int, ItemId | None] | None = None
        # Edits of remote ops in visible positions, (pos, deleted, inserted) each, while
        # the Document records them for its subscribers (see record_edits).  None: off.
        self._edits: list[tuple[int, int, str]] | None = None

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._len

    def __str__(self) -> str:
        return "".join([blk.text for blk in self._blocks])

    def __repr__(self) -> str:
        items = sum(len(blk.lens) for blk in self._blocks)
        return f"<TextState {self._len} chars, {items} items, {len(self._blocks)} blocks>"

    def has_item(self, item: ItemId) -> bool:
        return self._find(item[0], item[1]) is not None

    def has_run(self, client: int, first: int, count: int) -> bool:
        """Are all characters ``first .. first+count-1`` of ``client`` here (deleted or
        not)?  ``count < 0`` means ``first, first-1, ..., first-|count|+1``, as in
        :meth:`apply_delete`; one lookup per item rather than per character."""
        if count == 0:
            return False
        if count > 0:
            cur, hi = first, first + count - 1
        else:
            cur, hi = first + count + 1, first
        while cur <= hi:
            found = self._find(client, cur)
            if found is None:
                return False
            blk, i = found
            cur = blk.seqs[i] + abs(blk.lens[i])
        return True

    def char_id(self, pos: int) -> ItemId:
        """Id of the visible character at ``pos`` (0 <= pos < len)."""
        if not 0 <= pos < self._len:
            raise IndexError(f"no character at {pos} in a text of length {self._len}")
        # (_locate moves the cursor and may halve a big decoded block; the local typing
        # fast path copes with both: its block is never a big one, and it tells the
        # cursor when it grows a block before it.)
        b, bpos, i, ipos = self._locate(pos)
        blk = self._blocks[b]
        return blk.clients[i], blk.seqs[i] + (pos - bpos - ipos)

    def char_position(self, client: int, seq: int) -> tuple[int, bool] | None:
        """Where character ``(client, seq)`` is: (how many visible characters are before
        it, whether it is visible itself); None if it is not here."""
        found = self._find(client, seq)
        if found is None:
            return None
        blk, i = found
        before = self._block_start(blk.idx) + blk.visible_offset(i)
        if blk.lens[i] > 0:
            return before + (seq - blk.seqs[i]), True
        return before, False

    def continues_remote(
        self, client: int, seq: int, left: ItemId | None, right: ItemId | None
    ) -> bool:
        """Does this insert continue the item the last remote insert made or grew (same
        client, next seq, same right origin)?  Then :meth:`apply_insert` takes its remote
        typing fast path, and both origins are known characters here (the Document's
        reference check relies on the two asking this same question)."""
        rt = self._rtail
        return (
            rt is not None
            and rt[1] == seq
            and rt[0] == client
            and left == (client, seq - 1)
            and right == rt[5]
        )

    # ------------------------------------------------------------------ local edits

    def local_insert(
        self, client: int, seq: int, pos: int, content: str
    ) -> tuple[ItemId | None, ItemId | None]:
        n = len(content)
        left: ItemId | None
        right: ItemId | None
        if pos == self._tail_pos and seq == self._tail_seq and client == self._tail_client and n:
            # Typing on: grow the item the previous local insert ended.
            blk = self._tail_blk
            i = self._tail_i
            off = self._tail_off
            blk.lens[i] += n
            t = blk.text
            blk.text = t[:off] + content + t[off:]
            blk.size += n
            self._len += n
            if blk.idx < self._cur_b:  # (a cursor or position lookup moved the cursor on)
                self._cur_bpos += n
            self._tail_pos = pos + n if blk.size <= _MAX_TEXT else -1  # big: split on next
            self._tail_seq = seq + n
            self._tail_off = off + n
            self._rtail = None
            rc = blk.rcs[i]
            left = (client, seq - 1)
            right = None if rc < 0 else (rc, blk.rss[i])
            self._remember(client, seq, seq + n - 1, [("i", seq, left, right, content)])
            return left, right
        if not n:
            raise ValueError("local_insert: empty content")
        if pos < 0 or pos > self._len:
            raise IndexError(f"insert position {pos} out of range 0..{self._len}")
        self._rtail = None
        blocks = self._blocks
        if pos == 0:
            b = 0
            blk = blocks[0]
            self._cur_b = 0
            self._cur_bpos = 0
            left = None
            right = (blk.clients[0], blk.seqs[0]) if blk.lens else None
            j = 0
            off = 0
            extend = False
        else:
            b, bpos, i, ipos = self._locate(pos - 1)
            blk = blocks[b]
            ci = blk.clients[i]
            si = blk.seqs[i]
            li = blk.lens[i]
            k = pos - 1 - bpos - ipos
            left = (ci, si + k)
            off = ipos + k + 1
            if k < li - 1:
                self._split(blk, i, k + 1)
                right = (ci, si + k + 1)
                extend = False
            else:
                right = self._next_id(b, i)
                extend = ci == client and si + li == seq
                if extend:
                    rc = blk.rcs[i]
                    extend = rc < 0 if right is None else rc == right[0] and blk.rss[i] == right[1]
            j = i + 1
        if extend:
            blk.lens[j - 1] += n
            tail_i = j - 1
        else:
            if right is None:
                rc, rs = -1, 0
            else:
                rc, rs = right
            if left is None:
                blk.insert_item(j, client, seq, n, -1, 0, rc, rs)
            else:
                blk.insert_item(j, client, seq, n, left[0], left[1], rc, rs)
            if self._index is not None:
                self._index_add(client, seq, blk)
            tail_i = j
        t = blk.text
        blk.text = t[:off] + content + t[off:]
        blk.size += n
        self._len += n
        off += n
        if len(blk.lens) > _MAX_ITEMS or blk.size > _MAX_TEXT:
            if len(blk.lens) == 1:
                tail_i = 1  # _split_block cuts the lone item: the tail is its second half
            mid = self._split_block(b)
            if mid and tail_i >= mid:
                tail_i -= mid
                off -= blk.size
                blk = blocks[b + 1]
                self._cur_b = b + 1
                self._cur_bpos += blocks[b].size
        self._tail_pos = pos + n
        self._tail_seq = seq + n
        self._tail_client = client
        self._remember(client, seq, seq + n - 1, [("i", seq, left, right, content)])
        self._tail_blk = blk
        self._tail_i = tail_i
        self._tail_off = off
        return left, right

    def local_delete(
        self, client: int, seq: int, pos: int, length: int
    ) -> list[tuple[int, int, int]]:
        if length < 1:
            raise ValueError(f"delete length must be >= 1, got {length}")
        if pos < 0 or pos + length > self._len:
            raise IndexError(f"delete range {pos}..{pos + length} out of range 0..{self._len}")
        self._tail_pos = -1
        self._rtail = None
        b, bpos, i, off = self._locate(pos)
        first_b = b
        blocks = self._blocks
        blk = blocks[b]
        k = pos - bpos - off
        remaining = length
        runs: list[tuple[int, int, int]] = []
        while True:
            li = blk.lens[i]
            if li > 0:
                d = min(li - k, remaining)
                c = blk.clients[i]
                s = blk.seqs[i] + k
                if runs:
                    pc, pf, pn = runs[-1]
                    if pc == c and pf + pn == s:
                        runs[-1] = (c, pf, pn + d)
                    else:
                        runs.append((c, s, d))
                else:
                    runs.append((c, s, d))
                t = blk.text
                o = off + k
                blk.text = t[:o] + t[o + d :]
                blk.size -= d
                i = self._delete_in_item(blk, i, k, d)
                off = o
                k = 0
                remaining -= d
                if not remaining:
                    break
            else:
                i += 1
            if i >= len(blk.lens):
                b += 1
                blk = blocks[b]
                i = 0
                off = 0
        self._len -= length
        if len(blk.lens) > _MAX_ITEMS:
            self._split_block(b)
        if first_b != b and len(blocks[first_b].lens) > _MAX_ITEMS:
            self._split_block(first_b)
        log = self._dels.get(client)
        if log is None:
            log = self._dels[client] = _DeleteLog()
        first = seq
        ops: list[TextOp] = []
        for c, f, cnt in runs:
            log.add(seq, c, f, cnt)
            ops.append(("d", seq, c, f, cnt))
            seq += cnt
        self._remember(client, first, seq - 1, ops)
        return runs

    # ------------------------------------------------------------------ remote ops

    def apply_insert(
        self,
        client: int,
        seq: int,
        left: ItemId | None,
        right: ItemId | None,
        content: str,
        *,
        checked: bool = False,
    ) -> None:
        """Integrate a remote insert; ValueError (the text stays as it was) if its ids
        are not new or an origin is unknown.  ``checked``: the caller guarantees the ids
        are new, so they are not looked up.  The Document does: it trims every change to
        seqs above its version vector, and no item of a client lies above that client's
        version (local inserts and integrated changes raise the version past their
        items, and a loaded snapshot's items are checked against it)."""
        n = len(content)
        if not n:
            raise ValueError("apply_insert: empty content")
        self._tail_pos = -1
        self._recent = None
        rt = self._rtail
        if rt is not None and self.continues_remote(client, seq, left, right):
            # Remote typing on: grow the item the previous remote insert ended.
            blk = rt[2]
            i = rt[3]
            off = rt[4]
            if self._edits is not None:
                self._record(self._block_start(blk.idx) + off, 0, content)
            blk.lens[i] += n
            t = blk.text
            blk.text = t[:off] + content + t[off:]
            self._resize(blk, n)
            if blk.size > _MAX_TEXT:
                self._rtail = None
                self._split_block(blk.idx)
            else:
                self._rtail = (client, seq + n, blk, i, off + n, right)
            return
        self._rtail = None
        if not checked:
            self._check_new_ids(client, seq, n)
        blocks = self._blocks
        # Split so that `left` ends an item and `right` starts one.
        if left is not None:
            found = self._find(left[0], left[1])
            if found is None:
                raise ValueError(f"apply_insert: unknown left origin {left}")
            lblk, li = found
            k = left[1] - lblk.seqs[li]
            if k < abs(lblk.lens[li]) - 1:
                self._split(lblk, li, k + 1)
            left_pos = (lblk.idx, li, k)
            b, j = lblk.idx, li + 1
        else:
            left_pos = _NO_POS
            b, j = 0, 0
        # Usually nothing was inserted here concurrently: the right origin starts the very
        # next item (or both are the end), so there is nothing to scan and no id to look up.
        nxt = self._item_at(b, j)
        if (
            nxt is None
            if right is None
            else nxt is not None
            and nxt[0].seqs[nxt[1]] == right[1]
            and nxt[0].clients[nxt[1]] == right[0]
        ):
            db, dj = b, j
        else:
            db, dj, right = self._yata_place(client, left, right, left_pos, b, j)
        blk = blocks[db]
        if right is None:
            rc, rs = -1, 0
        else:
            rc, rs = right
        extend = False
        if dj > 0 and left == (client, seq - 1):
            p = dj - 1
            extend = (
                blk.clients[p] == client
                and blk.lens[p] > 0
                and blk.seqs[p] + blk.lens[p] == seq
                and blk.rcs[p] == rc
                and (rc < 0 or blk.rss[p] == rs)
            )
        off = blk.visible_offset(dj)
        if self._edits is not None:
            self._record(self._block_start(db) + off, 0, content)
        if extend:
            blk.lens[dj - 1] += n
        else:
            if left is None:
                blk.insert_item(dj, client, seq, n, -1, 0, rc, rs)
            else:
                blk.insert_item(dj, client, seq, n, left[0], left[1], rc, rs)
            if self._index is not None:  # (else it is built later, with this item in it)
                self._index_add(client, seq, blk)
        t = blk.text
        blk.text = t[:off] + content + t[off:]
        self._resize(blk, n)
        if len(blk.lens) > _MAX_ITEMS or blk.size > _MAX_TEXT:
            self._split_block(db)
        else:
            # Arm the remote typing fast path if the next item is the right origin and
            # this is the client's latest item.
            ti = dj - 1 if extend else dj
            ci = (self._index or self._ensure_index())[client]
            if ci.starts[-1] == blk.seqs[ti] and self._next_id(db, ti) == right:
                self._rtail = (client, seq + n, blk, ti, off + n, right)

    def apply_delete(
        self,
        client: int,
        seq: int,
        target_client: int,
        target_first: int,
        count: int,
        *,
        checked: bool = False,
    ) -> None:
        """Apply a remote delete; ValueError (the text stays as it was) if a target is
        unknown. ``checked``: the caller has already made sure every target exists (the
        Document does, for a whole change, before applying any of it)."""
        if count == 0:
            raise ValueError("apply_delete: count must not be 0")
        self._tail_pos = -1
        self._recent = None
        self._rtail = None
        if count > 0:
            lo, hi = target_first, target_first + count - 1
        else:
            lo, hi = target_first + count + 1, target_first
        if not checked and not self.has_run(target_client, target_first, count):
            raise ValueError(
                f"apply_delete: unknown target in {(target_client, target_first)} x {count}"
            )
        cur = lo
        while cur <= hi:
            found = self._find(target_client, cur)
            assert found is not None
            blk, i = found
            s = blk.seqs[i]
            li = blk.lens[i]
            if li > 0:
                k = cur - s
                end = min(hi + 1, s + li)
                d = end - cur
                o = blk.visible_offset(i) + k
                if self._edits is not None:
                    self._record(self._block_start(blk.idx) + o, d, "")
                t = blk.text
                blk.text = t[:o] + t[o + d :]
                self._resize(blk, -d)
                self._delete_in_item(blk, i, k, d)
                if len(blk.lens) > _MAX_ITEMS:
                    self._split_block(blk.idx)
                cur = end
            else:
                cur = s - li
        log = self._dels.get(client)
        if log is None:
            log = self._dels[client] = _DeleteLog()
        log.add(seq, target_client, target_first, count)

    # ------------------------------------------------------------------ edit records

    def record_edits(self) -> None:
        """Start recording the visible edits :meth:`apply_insert` and :meth:`apply_delete`
        make, for :meth:`take_edits`."""
        self._edits = []

    def take_edits(self) -> list[tuple[int, int, str]]:
        """The edits recorded since :meth:`record_edits`, and stop recording.

        Each is ``(pos, deleted, inserted)``: replace the ``deleted`` code points at
        ``pos`` by ``inserted``, positions counted in the text as the edits before it left
        it.  Consecutive edits that continue each other come out as one.
        """
        edits = self._edits or []
        self._edits = None
        return edits

    def _record(self, pos: int, deleted: int, inserted: str) -> None:
        edits = self._edits
        assert edits is not None
        if edits:
            p, d, ins = edits[-1]
            if not inserted and not ins and p == pos:
                edits[-1] = (p, d + deleted, "")  # a delete running on at the same place
                return
            if not deleted and not d and p + len(ins) == pos:
                edits[-1] = (p, 0, ins + inserted)  # an insert continuing the previous one
                return
        edits.append((pos, deleted, inserted))

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

    # ------------------------------------------------------------------ history

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
            owners = ci.owners
            prev: InsertOp | None = None
            # Visible offset of every item, per block met (blocks usually hold many of
            # the client's items).
            offsets: dict[_Block, list[int]] = {}
            for q in range(max(bisect_right(starts, after) - 1, 0), len(starts)):
                s = starts[q]
                blk = owners[q]
                i = blk.seqs.index(s)
                if blk.clients[i] != client:  # (another client's item, same seq)
                    i = blk.find(client, s)
                li = blk.lens[i]
                if li > 0:
                    offs = offsets.get(blk)
                    if offs is None:
                        offs = offsets[blk] = list(
                            accumulate(map(max, blk.lens, repeat(0)), initial=0)
                        )
                    o = offs[i]
                    content = blk.text[o : o + li]
                else:
                    content = _PLACEHOLDER * -li
                e = s + len(content)
                if e - 1 <= after:
                    continue
                lc = blk.lcs[i]
                left: ItemId | None = None if lc < 0 else (lc, blk.lss[i])
                rc = blk.rcs[i]
                right: ItemId | None = None if rc < 0 else (rc, blk.rss[i])
                if s <= after:
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
                    prev = ("i", s, left, right, content)
                    ops.append(("i", s, left, right, content))
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

    # ------------------------------------------------------------------ snapshot

    def encode_state(self) -> tuple[list[int], str, list[int]]:
        """``(ints, content, deletes)``: the items, the visible text, the delete log.

        ``ints`` holds the items in document order as columns (format 2)::

            2, n,
            runs of item clients:             k, (client, count) * k
            seq - previous item's seq:        n values
            signed lengths (< 0 deleted):     n values
            left origin items:                n values, j - previous j: the left origin
                                              of item i is the last character of item j
            right origin items:               n values, likewise: the first character
            items without a left origin:      k, i * k   (their j repeats the previous j)
            items without a right origin:     k, i * k
            left origins inside their item:   k, (i, back) * k: the left origin of item i
                                              is ``back`` characters before that last one
            right origins inside their item:  k, (i, skip) * k: ``skip`` characters after
                                              that first one

        An origin names an item by its position rather than a character by its id, so
        it cannot name a character that is not here, and its client is that item's.
        Nearly every origin is the last (left) or first (right) character of a nearby
        item: the steps between the j's are small numbers and the other lists short.

        ``deletes`` holds, per client, ``client, m``, runs of ``target client - client``
        (``k, (value, count) * k``) and three columns of ``m`` values: ``seq - previous
        run's seq``, ``target first - previous run's target first``, signed count.
        """
        clients: list[int] = []
        seqs: list[int] = []
        lens: list[int] = []
        lcs: list[int] = []
        lss: list[int] = []
        rcs: list[int] = []
        rss: list[int] = []
        for blk in self._blocks:
            clients += blk.clients
            seqs += blk.seqs
            lens += blk.lens
            lcs += blk.lcs
            lss += blk.lss
            rcs += blk.rcs
            rss += blk.rss
        ints = [_FORMAT, len(seqs)]
        ints += _rle(clients)
        ints += map(sub, seqs, [0, *seqs[:-1]])
        ints += lens
        ints += _origin_columns(clients, seqs, lens, (lcs, lss, rcs, rss))
        deletes: list[int] = []
        for c, log in self._dels.items():
            m = len(log.seqs)
            deletes += (c, m)
            deletes += _rle([t - c for t in log.targets])
            ds = list(log.seqs)
            deletes += map(sub, ds, [0, *ds[:-1]])
            firsts = list(log.firsts)
            deletes += map(sub, firsts, [0, *firsts[:-1]])
            deletes += log.counts
        return ints, str(self), deletes

    @classmethod
    def decode_state(
        cls,
        client_ids: list[str],
        ints: list[int],
        content: str,
        deletes: list[int],
        history: History | None = None,
    ) -> TextState:
        """The state :meth:`encode_state` wrote, after checking everything a hostile
        input could break; raises ValueError naming the problem.

        With ``history`` (the document's version and dependency checkpoints, see
        :data:`History`), the items and deletes must also fit it: every id within the
        version, and everything an operation refers to made before it (by its own client
        earlier, or within what it depended on), so the document's later ``changes`` are
        ones other replicas accept.
        """
        try:
            return cls._decode(client_ids, ints, content, deletes, history)
        except (OverflowError, TypeError) as e:  # out-of-range or non-integer values
            raise ValueError(f"text state: bad value ({e})") from None

    @classmethod
    def _decode(
        cls,
        client_ids: list[str],
        ints: list[int],
        content: str,
        deletes: list[int],
        history: History | None,
    ) -> TextState:
        if len(ints) < 2 or ints[0] != _FORMAT:
            raise ValueError(f"text state: unknown format (this version reads {_FORMAT})")
        nclients = len(client_ids)
        n = ints[1]
        r = _Reader(ints, 2)
        clients, cvals = r.runs(n, 0)
        if cvals and (min(cvals) < 0 or max(cvals) >= nclients):
            raise ValueError("text state: item client out of range")
        seqs = list(accumulate(r.take(n)))
        lens = r.take(n)
        lsteps = r.take(n)
        rsteps = r.take(n)
        lnone = r.take(r.take(1)[0])
        rnone = r.take(r.take(1)[0])
        lodd = r.take(2 * r.take(1)[0])
        rodd = r.take(2 * r.take(1)[0])
        if r.pos != len(ints):
            raise ValueError("text state: trailing ints")
        self = cls(client_ids)
        self._dels = _decode_deletes(deletes, nclients)
        if not n:
            if content:
                raise ValueError("text state: content length does not match the items")
            if history is not None and any(log.seqs for log in self._dels.values()):
                raise ValueError("text state: a delete targets a character that is not there")
            return self
        if 0 in lens:
            raise ValueError("text state: empty item")
        alens = list(map(abs, lens))  # item sizes
        lasts = list(map(add, seqs, map(sub, alens, repeat(1))))  # seq of each last char
        single = None if len(cvals) > 1 else cvals[0]  # the one writer of every item
        keys = _check_disjoint(None if single is not None else clients, seqs, lasts)
        # Origin seqs are looked up in seqs and lasts (no new ints) and go straight into
        # the blocks' int64 columns.
        lcs, lss = _origins((lsteps, lnone, lodd), 1, lasts, clients, single, alens)
        rcs, rss = _origins((rsteps, rnone, rodd), -1, seqs, clients, single, alens)
        if history is not None:
            items = (seqs, lasts, lens)
            _check_history(history, clients, single, items, keys, (lcs, lss, rcs, rss), self._dels)
        del keys
        als = _col(lss)
        del lss, lasts
        ars = _col(rss)
        del rss
        aseq = _col(seqs)
        del seqs
        blocks: list[_Block] = []
        step = _DECODE_ITEMS  # big blocks: _locate splits them when an edit gets there
        voff = 0
        for a in range(0, n, step):
            e = a + step
            chunk = lens[a:e]
            size = (sum(chunk) + sum(alens[a:e])) >> 1
            blocks.append(
                _Block(
                    len(blocks),
                    clients[a:e],
                    aseq[a:e],
                    chunk,
                    lcs[a:e],
                    als[a:e],
                    rcs[a:e],
                    ars[a:e],
                    content[voff : voff + size],
                    size,
                )
            )
            voff += size
        if voff != len(content):
            raise ValueError("text state: content length does not match the items")
        self._blocks = blocks
        self._tail_blk = blocks[0]
        self._len = voff
        return self

    # ------------------------------------------------------------------ internals

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

    def _yata_place(
        self,
        client: int,
        left: ItemId | None,
        right: ItemId | None,
        left_pos: tuple[int, int, int],
        b: int,
        j: int,
    ) -> tuple[int, int, ItemId | None]:
        """Where a remote insert goes among items concurrent with it: (block, item index,
        the right origin it keeps).

        ``(b, j)`` is the item right after the left origin (already split so that the
        origin ends an item). Splits so that ``right`` starts an item, then runs the
        YATA scan over the items between the origins.

        No correct replica makes an insert whose right origin is not after its left one
        (every replica orders the characters it holds alike), but hostile bytes can.
        Rejecting it would have to happen before the Document applies anything, and where
        a character of the same batch is an origin that is known only here; so it is
        integrated as if it had no right origin instead, and kept so. Every replica holds
        both origins in the same order when it integrates the insert, so every replica
        does the same and they still converge.
        """
        blocks = self._blocks
        rb, ri = -2, -2
        right_pos = _END_POS
        if right is not None:
            found = self._find(right[0], right[1])
            if found is None:
                raise ValueError(f"apply_insert: unknown right origin {right}")
            rblk, ri = found
            k = right[1] - rblk.seqs[ri]
            if (rblk.idx, ri, k) <= left_pos:
                right = None
                rb, ri = -2, -2
            else:
                if k:
                    self._split(rblk, ri, k)
                    ri += 1
                rb = rblk.idx
                right_pos = (rb, ri, 0)
        # YATA scan over the items between the origins.  Comparing an item's origins
        # with ours needs their positions (an id lookup) only when they are neither our
        # own origins nor the last character of the item just before (which lies in the
        # scanned range, so after our left origin).
        names = self._client_ids
        mine = names[client]
        lc0, ls0 = (-1, 0) if left is None else left
        rc0, rs0 = (-1, 0) if right is None else right
        pc, pl = lc0, ls0  # last character of the item before item j
        scanning = False
        db, dj = b, j
        nblocks = len(blocks)
        blk = blocks[b]
        while True:
            if j == len(blk.lens) and b + 1 < nblocks:
                b += 1
                blk = blocks[b]
                j = 0
                continue
            if not scanning:
                db, dj = b, j
            if j == len(blk.lens) or (j == ri and b == rb):
                break
            if left is None and blk.lcs[j] >= 0:
                # Every item with a left origin is after ours (the start): skip to the
                # next item without one (a C-level search) or to the block's end.
                stop = ri if b == rb else len(blk.lens)
                try:
                    j = blk.lcs.index(-1, j, stop)
                except ValueError:
                    j = stop
                continue
            oc = blk.lcs[j]
            os = blk.lss[j]
            if oc == lc0 and (oc < 0 or os == ls0):
                oc = blk.rcs[j]
                if oc == rc0 and (oc < 0 or blk.rss[j] == rs0):
                    if mine < names[blk.clients[j]]:
                        break
                    scanning = False
                elif oc >= 0 and self._before(oc, blk.rss[j], right_pos):
                    scanning = True
                else:
                    scanning = False
            elif (oc != pc or os != pl) and (oc < 0 or self._before(oc, os, left_pos)):
                break  # its left origin is before ours
            pc = blk.clients[j]
            pl = blk.seqs[j] + abs(blk.lens[j]) - 1
            j += 1
        return db, dj, right

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

    def _remember(self, client: int, first: int, last: int, ops: list[TextOp]) -> None:
        recent = self._recent
        if recent is not None and recent[0] == client and recent[3] < first:
            self._recent = (client, recent[3], first, last, ops)
        else:
            self._recent = (client, first - 1, first, last, ops)

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

    def _ensure_index(self) -> dict[int, _ClientIndex]:
        index = self._index
        if index is None:
            starts: dict[int, list[int]] = {}
            owners: dict[int, list[_Block]] = {}
            for blk in self._blocks:
                clients = blk.clients
                if not clients:
                    continue
                c = clients[0]
                if clients.count(c) == len(clients):  # one writer: the block at once
                    if c not in starts:
                        starts[c] = []
                        owners[c] = []
                    starts[c] += blk.seqs
                    owners[c] += repeat(blk, len(clients))
                    continue
                for c, s in zip(clients, blk.seqs, strict=True):
                    if c not in starts:
                        starts[c] = []
                        owners[c] = []
                    starts[c].append(s)
                    owners[c].append(blk)
            index = {}
            for c, st in starts.items():
                order = sorted(range(len(st)), key=st.__getitem__)
                ci = index[c] = _ClientIndex()
                ci.starts = list(map(st.__getitem__, order))
                ci.owners = list(map(owners[c].__getitem__, order))
            self._index = index
        return index

    def _index_add(self, client: int, seq: int, blk: _Block) -> None:
        """Add a new item's start to the id index (which must exist: building it from
        the blocks would take the item in already)."""
        index = self._index
        assert index is not None
        ci = index.get(client)
        if ci is None:
            ci = index[client] = _ClientIndex()
        starts = ci.starts
        if not starts or starts[-1] < seq:
            starts.append(seq)
            ci.owners.append(blk)
        else:
            q = bisect_right(starts, seq)
            starts.insert(q, seq)
            ci.owners.insert(q, blk)

    def _find(self, client: int, seq: int) -> tuple[_Block, int] | None:
        """The block and item index holding character ``(client, seq)``, if any."""
        ci = (self._index or self._ensure_index()).get(client)
        if ci is None:
            return None
        q = bisect_right(ci.starts, seq) - 1
        if q < 0:
            return None
        blk = ci.owners[q]
        start = ci.starts[q]
        i = blk.seqs.index(start)
        if blk.clients[i] != client:  # (another client's item, same seq)
            i = blk.find(client, start)
        if seq >= start + abs(blk.lens[i]):
            return None
        return blk, i

    def _before(self, client: int, seq: int, pos: tuple[int, int, int]) -> bool:
        """Is character ``(client, seq)`` (which exists) before position ``pos``?"""
        ci = (self._index or self._ensure_index())[client]
        q = bisect_right(ci.starts, seq) - 1
        blk = ci.owners[q]
        b = blk.idx
        if b != pos[0]:
            return b < pos[0]  # other blocks: no need to find the item
        start = ci.starts[q]
        return (blk.find(client, start), seq - start) < pos[1:]

    def _check_new_ids(self, client: int, seq: int, n: int) -> None:
        """ValueError unless ids ``(client, seq..seq+n-1)`` are all new."""
        if seq < 0:
            raise ValueError(f"negative seq {seq}")
        ci = (self._index or self._ensure_index()).get(client)
        if ci is None:
            return
        q = bisect_right(ci.starts, seq + n - 1) - 1
        if q < 0:
            return
        start = ci.starts[q]
        blk = ci.owners[q]
        i = blk.seqs.index(start)
        if blk.clients[i] != client:  # (another client's item, same seq)
            i = blk.find(client, start)
        if start + abs(blk.lens[i]) > seq:
            raise ValueError(f"apply_insert: ids {(client, seq)}+{n} already exist")


def _same_right(blk: _Block, i: int, j: int) -> bool:
    """Do items ``i`` and ``j`` of ``blk`` have the same right origin?"""
    rc = blk.rcs[i]
    return rc == blk.rcs[j] and (rc < 0 or blk.rss[i] == blk.rss[j])


def _op_seq(op: TextOp) -> int:
    return op[1]


class _Reader:
    """Takes checked slices of a list of ints."""

    __slots__ = ("ints", "pos")

    def __init__(self, ints: list[int], pos: int) -> None:
        self.ints = ints
        self.pos = pos

    def take(self, k: int) -> list[int]:
        p = self.pos
        if k < 0 or p + k > len(self.ints):
            raise ValueError("text state: truncated")
        self.pos = p + k
        return self.ints[p : p + k]

    def runs(self, n: int, offset: int) -> tuple[list[int], list[int]]:
        """A run-length-encoded column of ``n`` values, each added to ``offset``, plus
        the values that occur."""
        (k,) = self.take(1)
        flat = self.take(2 * k)
        counts = flat[1::2]
        if (k and min(counts) < 1) or sum(counts) != n:
            raise ValueError("text state: bad run lengths")
        values = flat[0::2]
        if offset:
            values = list(map(add, values, repeat(offset)))
        return list(chain.from_iterable(map(repeat, values, counts))), values


def _rle(values: list[int]) -> list[int]:
    """``k, (value, count) * k`` for a column."""
    out = [0]
    last = None
    for v in values:
        if v == last:
            out[-1] += 1
        else:
            out += (v, 1)
            last = v
    out[0] = (len(out) - 1) >> 1
    return out


def _origin_columns(
    clients: list[int],
    seqs: list[int],
    lens: list[int],
    origins: tuple[list[int], list[int], list[int], list[int]],
) -> list[int]:
    """The origin columns of format 2 for items in document order (see
    :meth:`TextState.encode_state`): the steps of both sides, then their lists."""
    lcs, lss, rcs, rss = origins
    n = len(seqs)
    ends = list(map(add, seqs, map(abs, lens)))
    shift = max(ends, default=0) + 1  # a character id as one int: client * shift + seq
    base = list(map(mul, clients, repeat(shift)))
    firsts = list(map(add, base, seqs))
    lasts = list(map(sub, map(add, base, ends), repeat(1)))
    order = sorted(range(n), key=firsts.__getitem__)
    sorted_firsts = list(map(firsts.__getitem__, order))
    steps: list[int] = []
    nones: list[int] = []
    odds: list[int] = []
    for cs, ss, edges in ((lcs, lss, lasts), (rcs, rss, firsts)):
        item_at = dict(zip(edges, range(n), strict=True))
        js = [0] * n
        none: list[int] = []
        odd: list[int] = []
        j = 0
        for i in range(n):
            c = cs[i]
            if c < 0:
                none.append(i)  # (j stays as it was: a step of 0)
            else:
                key = c * shift + ss[i]
                j = item_at.get(key, -1)
                if j < 0:  # a character inside an item
                    j = order[bisect_right(sorted_firsts, key) - 1]
                    odd += (i, abs(key - edges[j]))
            js[i] = j
        steps += map(sub, js, [0, *js[:-1]])
        nones += (len(none), *none)
        odds += (len(odd) >> 1, *odd)
    return steps + nones + odds


def _check_disjoint(
    clients: list[int] | None, seqs: list[int], lasts: list[int]
) -> tuple[list[int], list[int], int]:
    """ValueError unless the items' ids ``seqs[i] .. lasts[i]`` (of ``clients[i]``; of
    one writer when ``clients`` is None) are all distinct and every seq is >= 1.

    Every id becomes one integer key ``client * shift + seq`` (just ``seq`` for one
    writer: ``shift`` 0).  Sorting first and last keys separately, the ranges are
    disjoint iff each last is below the next first (then the i-th first and i-th last
    belong together): two C-level sorts rather than a Python loop per item.  Returns the
    sorted first keys, the sorted last keys and ``shift``.
    """
    shift = 0
    if clients is None:
        fk = sorted(seqs)
        if fk[0] < 1:
            raise ValueError("text state: an item seq below 1")
        lk = sorted(lasts)
    else:
        if min(seqs) < 1:
            raise ValueError("text state: an item seq below 1")
        shift = max(lasts) + 1
        base = list(map(mul, clients, repeat(shift)))
        fk = sorted(map(add, base, seqs))
        lk = sorted(map(add, base, lasts))
    if any(map(ge, lk, islice(fk, 1, None))):
        raise ValueError("text state: items overlap")
    return fk, lk, shift


def _check_history(
    history: History,
    clients: list[int],
    single: int | None,
    items: tuple[list[int], list[int], list[int]],
    keys: tuple[list[int], list[int], int],
    origins: tuple[list[int], list[int], list[int], list[int]],
    dels: dict[int, _DeleteLog],
) -> None:
    """ValueError unless the items and deletes fit the document's version and dependencies,
    so that the operations the document later sends from them are ones replicas accept.

    Every item lies within its client's version; an origin of the item's own client has a
    lower seq than the item, one of another client is within what the item depended on.
    Every delete run lies within its client's version and deletes characters that exist,
    are deleted, and were made before it (or within what it depended on); and every
    deleted character was deleted by one of the runs. The seqs items and deletes take go
    into ``history.used`` for the document's check that no two operations share one.
    Where one client wrote every item these are C-level passes; items and runs that refer
    to another client's characters are checked one by one.

    (What no check can catch: a snapshot is a replica's claim about its state; which text
    a character holds, or the order YATA gave concurrent inserts, cannot be verified
    without the history that made them.)
    """
    vv, used = history.version, history.used
    seqs, lasts, lens = items
    fk, lk, shift = keys
    owners = [single] if single is not None else sorted(set(clients))
    for c in owners:  # ids within the version (each client's highest last key)
        top = lk[-1] if single is not None else lk[bisect_left(lk, (c + 1) * shift) - 1]
        if top - c * shift > vv[c]:
            raise ValueError("text state: an item lies beyond the document's version")
    for ocs, oss in ((origins[0], origins[1]), (origins[2], origins[3])):
        if single is not None:  # every origin is the writer's own (or none: seq 0)
            if any(map(ge, oss, seqs)):
                raise ValueError("text state: an origin is not older than its item")
            continue
        same = list(map(eq, ocs, clients))
        if any(map(ge, compress(oss, same), compress(seqs, same))):
            raise ValueError("text state: an origin is not older than its item")
        for i in compress(range(len(seqs)), map(ne, ocs, clients)):
            c, oc = clients[i], ocs[i]
            if oc >= 0 and not history.saw(c, seqs[i], (oc, oss[i])):
                raise ValueError(
                    "text state: an origin of another client is not among what its item depended on"
                )
    if single is not None:
        used.setdefault(single, []).append((fk, lk))
    else:
        for c in owners:
            lo, hi = bisect_left(fk, c * shift), bisect_left(fk, (c + 1) * shift)
            base = c * shift
            used.setdefault(c, []).append(
                (list(map(sub, fk[lo:hi], repeat(base))), list(map(sub, lk[lo:hi], repeat(base))))
            )
    if not any(log.seqs for log in dels.values()):
        if min(lens) < 0:
            raise ValueError("text state: a character is deleted but no delete deleted it")
        return
    # Deleted characters (a delete run targets nothing else): tombstone items by first
    # key. A run nearly always starts exactly at one (deleting splits an item there);
    # the others are found among all items and followed through the tombstones after.
    dead = list(map(lt, lens, repeat(0)))
    if single is None:
        keyed = list(map(mul, clients, repeat(shift)))
        tomb = dict(
            zip(
                compress(map(add, keyed, seqs), dead),
                compress(map(add, keyed, lasts), dead),
                strict=True,
            )
        )
        del keyed
    else:
        tomb = dict(zip(compress(seqs, dead), compress(lasts, dead), strict=True))
    dead_chars = -sum(compress(lens, dead))
    del dead
    all_lows: list[int] = []
    all_highs: list[int] = []
    for c, log in dels.items():
        if not log.seqs:
            continue
        at = log.seqs.tolist()
        counts = log.counts
        # Target range of each run: first..first+count-1, or first+count+1..first for a
        # backspace run (count < 0); in C-level passes, with span = |count| - 1.
        firsts = log.firsts.tolist()
        spans = list(map(sub, map(abs, counts), repeat(1)))  # |count| - 1
        back = map(lt, counts, repeat(0))
        lows = list(map(sub, firsts, map(mul, back, spans)))
        highs = list(map(add, lows, spans))
        ends = list(map(add, at, spans))  # the seqs the run itself takes: at .. at + |count| - 1
        if at[0] < 1 or ends[-1] > vv[c]:
            raise ValueError("text state: a delete lies beyond the document's version")
        used.setdefault(c, []).append((at, ends))
        targets = log.targets
        if single is not None:
            if any(map(ne, targets, repeat(single))):
                raise ValueError("text state: a delete targets a character that is not there")
        else:
            if any(map(ge, highs, repeat(shift))):
                raise ValueError("text state: a delete targets a character that is not there")
            tbase = list(map(mul, targets, repeat(shift)))
            lows = list(map(add, lows, tbase))
            highs = list(map(add, highs, tbase))
        # Each target range lies inside deleted characters: usually one tombstone item
        # that starts at the range's first; otherwise found by bisection among all items
        # (sorted first keys) and followed through the tombstones that continue it.
        got = map(tomb.get, lows, repeat(-1))
        for q in compress(range(len(lows)), map(gt, highs, got)):
            lo, hi = lows[q], highs[q]
            first = fk[bisect_right(fk, lo) - 1] if lo >= fk[0] else -1
            end = tomb.get(first, -1)
            while lo <= end < hi:
                end = tomb.get(end + 1, -1)
            if end < hi:
                raise ValueError(
                    "text state: a delete targets a character that is not a deleted one"
                )
        all_lows += lows
        all_highs += highs
        # Its own client's characters: made before the delete (a lower seq).
        if c == single:  # the one writer deleting its own text: every target is its own
            if any(map(ge, highs, at)):
                raise ValueError("text state: a delete targets a character made after it")
            continue
        mine = list(map(eq, targets, repeat(c)))
        key = c * shift
        if any(map(ge, compress(highs, mine), map(add, compress(at, mine), repeat(key)))):
            raise ValueError("text state: a delete targets a character made after it")
        # Another client's: within what the delete depended on.
        for q in compress(range(len(at)), map(ne, targets, repeat(c))):
            t = targets[q]
            if not history.saw(c, at[q], (t, highs[q] - t * shift)):
                raise ValueError(
                    "text state: a delete targets a character of another client that it "
                    "did not depend on"
                )

    # And every deleted character was deleted by one: the targets (all deleted characters,
    # checked above) cover as many characters as the tombstones hold.
    if _union_size(all_lows, all_highs) != dead_chars:
        raise ValueError("text state: a character is deleted but no delete deleted it")


def _union_size(lows: list[int], highs: list[int]) -> int:
    """How many ints the ranges ``lows[i]..highs[i]`` cover together."""
    if not lows:
        return 0
    ls, hs = sorted(lows), sorted(highs)
    if not any(map(ge, hs, islice(ls, 1, None))):  # disjoint: the usual case
        return int(sum(map(sub, hs, ls))) + len(ls)
    total, end = 0, -1  # overlapping runs: concurrent deletes of the same characters
    for lo, hi in sorted(zip(lows, highs, strict=True)):
        if hi > end:
            total += hi - max(lo, end + 1) + 1
            end = hi
    return total


def _origins(
    lists: tuple[list[int], list[int], list[int]],
    sign: int,
    edges: list[int],
    clients: list[int],
    single: int | None,
    sizes: list[int],
) -> tuple[list[int], list[int]]:
    """The client and seq columns of one side's origins from its ``(steps, items
    without one, exceptions)`` (see :meth:`TextState.encode_state`).

    ``sign`` 1 is the left side (``edges``: the seq of each item's last character), -1
    the right side (``edges``: each item's first seq).  An item index outside the items
    or an offset outside its item is a ValueError; anything else names a character of
    this state by construction, so the lookups (C-level ``accumulate`` and ``map`` over
    ``list.__getitem__``) are the whole check.  ``single`` is the client of every item
    when one writer wrote them all (then no client column is looked up).
    """
    steps, none, odd = lists
    n = len(steps)
    js: list[int] = []
    try:
        if single is not None and not odd:
            seqs = list(map(edges.__getitem__, accumulate(steps)))
        else:
            js = list(accumulate(steps))
            seqs = list(map(edges.__getitem__, js))
        cs = [single] * n if single is not None else list(map(clients.__getitem__, js))
    except IndexError:
        raise ValueError("text state: an origin refers to an item that is not there") from None
    # (A j below 0 counts from the end, as list indexes do: still one of the items.)
    for i in none:
        if not 0 <= i < n:
            raise ValueError("text state: an item without an origin is not there")
        cs[i] = -1
        seqs[i] = 0
    for p in range(0, len(odd), 2):
        i, off = odd[p], odd[p + 1]
        if not 0 <= i < n or cs[i] < 0:
            raise ValueError("text state: an origin offset names no origin")
        j = js[i]
        if not 0 < off < sizes[j]:
            raise ValueError("text state: an origin refers to a character that is not there")
        seqs[i] = edges[j] - sign * off
    return cs, seqs


def _decode_deletes(deletes: list[int], nclients: int) -> dict[int, _DeleteLog]:
    """The delete logs :meth:`TextState.encode_state` wrote, checked: known clients,
    non-empty runs that do not overlap and whose targets have seqs >= 0."""
    logs: dict[int, _DeleteLog] = {}
    r = _Reader(deletes, 0)
    while r.pos < len(deletes):
        c, m = r.take(2)
        if not 0 <= c < nclients or c in logs:
            raise ValueError("text state: bad delete log client")
        targets, tvals = r.runs(m, c)
        steps = r.take(m)
        moves = r.take(m)
        counts = r.take(m)
        log = _DeleteLog()
        if m:
            if min(tvals) < 0 or max(tvals) >= nclients:
                raise ValueError("text state: delete target client out of range")
            if 0 in counts:
                raise ValueError("text state: empty delete run")
            # Each run starts at or after the previous run's end (the first at seq >= 0).
            if steps[0] < 0 or any(map(gt, map(abs, counts), islice(steps, 1, None))):
                raise ValueError("text state: delete runs overlap")
            firsts = list(accumulate(moves))
            # The lowest target of a run is its first, or first + count + 1 = first - ~count
            # for a backspace run (count < 0; for count > 0, ~count < 0 <= first).
            if min(firsts) < 0 or any(map(lt, firsts, map(invert, counts))):
                raise ValueError("text state: delete target seq out of range")
            # (values beyond int64: OverflowError -> ValueError)
            log.seqs = _col(list(accumulate(steps)))
            log.targets = targets
            log.firsts = _col(firsts)
            log.counts = counts
        logs[c] = log
    return logs
