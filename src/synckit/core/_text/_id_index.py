"""The id index: finding a character by its id ``(client, seq)``.

Remote operations, ``has_item``, ``char_position`` and ``ops_since`` look characters up by
id.  A per-client index (item starts sorted by seq, with the block holding each item)
answers that with a bisect and a C-level search of one block.  It is built lazily on the
first lookup and then kept up to date (by the block edits in :mod:`._blocks` and by the
inserts), so pure local editing and decoding never pay for it.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import repeat
from typing import TYPE_CHECKING

from synckit.core._ids import ItemId
from synckit.core._text._fields import _TextFields
from synckit.errors import InvalidValueError

if TYPE_CHECKING:
    from synckit.core._text._blocks import _Block


class _ClientIndex:
    """One client's items sorted by first seq, with the block holding each."""

    __slots__ = ("owners", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.owners: list[_Block] = []


class _IdIndex(_TextFields):
    """Id lookups of a text state (a mixin of :class:`~synckit.core._text.TextState`)."""

    __slots__ = ()

    def has_item(self, item: ItemId) -> bool:
        return self._find(item[0], item[1]) is not None

    def has_run(self, client: int, first: int, count: int) -> bool:
        """Are all characters ``first .. first+count-1`` of ``client`` here (deleted or
        not)?  ``count < 0`` means ``first, first-1, ..., first-|count|+1``, as in
        :meth:`TextState.apply_delete`; one lookup per item rather than per character."""
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
            raise InvalidValueError(f"negative seq {seq}")
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
            raise InvalidValueError(f"apply_insert: ids {(client, seq)}+{n} already exist")
