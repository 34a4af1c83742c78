"""TextState: one collaborative text, put together; reading it and editing it locally.

:class:`TextState` is the class the Document uses.  It combines the mixins of this package
(remote inserts from :mod:`._yata`, the blocks of :mod:`._blocks`, id lookups from
:mod:`._id_index`, ``ops_since`` from :mod:`._history`, edit records from
:mod:`._edit_records`; its fields are declared in :mod:`._fields`) and adds what is left:
reading the text, local inserts and deletes, remote deletes, and the snapshot calls
(:mod:`._codec`).

Local typing fast path: the last local insert remembers where it ended (block, item, text
offset); the next insert at that position with the next seq just grows the item.

Cursors (:mod:`synckit.core._cursor`) name a character by id: ``char_id`` finds the id at
a position through the position cursor, ``char_position`` the position of an id through the
id index, deleted characters included (they keep their place in the order).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from synckit.core._ids import ItemId
from synckit.core._text._blocks import _MAX_ITEMS, _MAX_TEXT, _Block
from synckit.core._text._codec import decode_state, encode_state
from synckit.core._text._history import TextOp, _DeleteLog, _OpHistory
from synckit.core._text._load_checks import History
from synckit.core._text._yata import _Integration
from synckit.core._work import DELETE_ITEM_STEPS, WorkMeter
from synckit.errors import InvalidValueError, PositionError

#: No bound on a delete's items (no work meter set).
_UNMETERED = sys.maxsize

#: The fields :meth:`TextState.decode_later` leaves unset until the state is decoded.
_DEFERRED = frozenset({"_blocks", "_dels", "_tail_blk"})


class TextState(_Integration, _OpHistory):
    """The state of one collaborative text (see the package docstring of
    :mod:`synckit.core._text`)."""

    __slots__ = ()

    def __init__(self, client_ids: list[str]) -> None:
        # (What each field means, and which module keeps it: see _fields.)
        self._client_ids = client_ids
        self._meter = None
        self._blocks = [_Block.empty(0)]
        self._len = 0
        self._cur_b = 0
        self._cur_bpos = 0
        self._index = None
        self._dels = {}
        self._tail_pos = -1
        self._tail_seq = 0
        self._tail_client = -1
        self._tail_blk = self._blocks[0]
        self._tail_i = 0
        self._tail_off = 0
        self._recent = None
        self._rtail = None
        self._edits = None
        self._lazy = None

    if not TYPE_CHECKING:  # (at run time only: mypy still sees every missing attribute)

        def __getattr__(self, name: str) -> Any:
            """A field a deferred decode fills (:meth:`decode_later`): decode now."""
            if name in _DEFERRED and object.__getattribute__(self, "_lazy") is not None:
                self._decode_now()
                return object.__getattribute__(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._len

    def __str__(self) -> str:
        lazy = self._lazy
        if lazy is not None:
            return lazy[2]
        return "".join([blk.text for blk in self._blocks])

    def __repr__(self) -> str:
        items = sum(len(blk.lens) for blk in self._blocks)
        return f"<TextState {self._len} chars, {items} items, {len(self._blocks)} blocks>"

    def char_id(self, pos: int) -> ItemId:
        """Id of the visible character at ``pos`` (0 <= pos < len)."""
        if not 0 <= pos < self._len:
            raise PositionError(f"no character at {pos} in a text of length {self._len}")
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
            raise InvalidValueError("local_insert: empty content")
        if pos < 0 or pos > self._len:
            raise PositionError(f"insert position {pos} out of range 0..{self._len}")
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
            raise InvalidValueError(f"delete length must be >= 1, got {length}")
        if pos < 0 or pos + length > self._len:
            raise PositionError(f"delete range {pos}..{pos + length} out of range 0..{self._len}")
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

    # ------------------------------------------------------------------ remote deletes
    # (remote inserts: _Integration.apply_insert, in _yata)

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
            raise InvalidValueError("apply_delete: count must not be 0")
        self._tail_pos = -1
        self._recent = None
        if count > 0:
            lo, hi = target_first, target_first + count - 1
        else:
            lo, hi = target_first + count + 1, target_first
        if not checked and not self.has_run(target_client, target_first, count):
            self._rtail = None
            raise InvalidValueError(
                f"apply_delete: unknown target in {(target_client, target_first)} x {count}"
            )
        rt = self._rtail
        self._rtail = None
        if rt is not None and rt[0] == target_client and hi < rt[1]:
            # Backspaces right after remote typing: the targets may all lie in the item
            # the last remote insert made or grew (see _rtail), whose place is known: the
            # loop below without its lookups.
            blk, i = rt[2], rt[3]
            if i < len(blk.lens) and blk.clients[i] == target_client:
                s = blk.seqs[i]
                li = blk.lens[i]
                if s <= lo and s + li == rt[1]:  # (so li > 0: the item is visible)
                    self._delete_visible(blk, i, lo - s, hi - lo + 1, rt[4] - li + lo - s)
                    self._log_delete(client, seq, target_client, target_first, count)
                    return
        cur = lo
        meter = self._meter
        # Items beyond the first count (the first is the operation's fixed cost): a
        # delete spans several only where inserts came between its targets concurrently.
        budget = _UNMETERED if meter is None else meter.left // DELETE_ITEM_STEPS + 1
        touched = 0
        while cur <= hi:
            touched += 1
            if touched > budget:  # (hostile: a run of ids spread over very many items)
                cast(WorkMeter, meter).spend((touched - 1) * DELETE_ITEM_STEPS)
            found = self._find(target_client, cur)
            assert found is not None
            blk, i = found
            s = blk.seqs[i]
            li = blk.lens[i]
            if li > 0:
                end = min(hi + 1, s + li)
                self._delete_visible(blk, i, cur - s, end - cur, blk.visible_offset(i) + cur - s)
                cur = end
            else:
                cur = s - li
        if meter is not None and touched > 1:
            meter.spend((touched - 1) * DELETE_ITEM_STEPS)
        self._log_delete(client, seq, target_client, target_first, count)

    def _delete_visible(self, blk: _Block, i: int, k: int, d: int, o: int) -> None:
        """Mark characters ``k .. k + d - 1`` of visible item ``i`` of ``blk`` (text offset
        ``o`` in the block) deleted."""
        if self._edits is not None:
            self._record(self._block_start(blk.idx) + o, d, "")
        t = blk.text
        blk.text = t[:o] + t[o + d :]
        self._resize(blk, -d)
        self._delete_in_item(blk, i, k, d)
        if len(blk.lens) > _MAX_ITEMS:
            self._split_block(blk.idx)

    def _log_delete(self, client: int, seq: int, target: int, first: int, count: int) -> None:
        log = self._dels.get(client)
        if log is None:
            log = self._dels[client] = _DeleteLog()
        log.add(seq, target, first, count)

    # ------------------------------------------------------------------ snapshot

    def encode_state(self) -> tuple[list[int], str, list[int]]:
        """``(ints, content, deletes)``: the items, the visible text, the delete log, as
        columns of ints (format 2; :func:`~synckit.core._text._codec.encode_state` gives
        the layout). A state not decoded yet (:meth:`decode_later`) gives back the columns
        it was loaded from: that is this state, encoded."""
        lazy = self._lazy
        if lazy is not None:
            return list(lazy[1]), lazy[2], list(lazy[3])
        return encode_state(self._blocks, self._dels, str(self))

    @classmethod
    def decode_state(
        cls,
        client_ids: list[str],
        ints: list[int],
        content: str,
        deletes: list[int],
        history: History | None = None,
        *,
        trusted: bool = False,
    ) -> TextState:
        """The state :meth:`encode_state` wrote, after checking everything a hostile
        input could break; raises ValueError naming the problem.

        With ``history`` (the document's version and dependency checkpoints, see
        :class:`History`), the items and deletes must also fit it: every id within the
        version, and everything an operation refers to made before it (by its own client
        earlier, or within what it depended on), so the document's later ``changes`` are
        ones other replicas accept. ``trusted``: bytes this code wrote, authenticated by
        the caller (see :func:`._codec.decode_state`).
        """
        blocks, dels = decode_state(client_ids, ints, content, deletes, history, trusted=trusted)
        self = cls(client_ids)
        self._dels = dels
        if blocks:
            self._blocks = blocks
            self._tail_blk = blocks[0]
            self._len = len(content)
        return self

    @classmethod
    def decode_later(
        cls, client_ids: list[str], ints: Sequence[int], content: str, deletes: Sequence[int]
    ) -> TextState:
        """The state of trusted bytes (:meth:`decode_state` with ``trusted``), decoded on
        first use: reading its text or length needs no decoding, anything else decodes it
        first (then a bad state raises ValueError there).

        ``ints`` and ``deletes`` may be any sequences of ints (protobuf's repeated fields:
        they are copied into lists only when decoded).
        """
        self = cls(client_ids)
        del self._blocks, self._dels, self._tail_blk
        self._len = len(content)
        self._lazy = (len(client_ids), ints, content, deletes)
        return self

    def _decode_now(self) -> None:
        """Decode the state :meth:`decode_later` deferred (its fields become set)."""
        lazy = self._lazy
        assert lazy is not None
        n, ints, content, deletes = lazy
        blocks, dels = decode_state(
            self._client_ids[:n], list(ints), content, list(deletes), trusted=True
        )
        self._dels = dels
        self._blocks = blocks or [_Block.empty(0)]
        self._tail_blk = self._blocks[0]
        self._lazy = None
