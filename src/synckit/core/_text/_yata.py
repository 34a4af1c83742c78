"""YATA integration: where a remote insert goes, and putting it there.

A remote insert is placed between its origins (``origin_left``, the character it was typed
after, and ``origin_right``, the character right after it then; ``None``: the start / the
end of the text).  When concurrent inserts compete for the same gap they are ordered by the
YATA rules, in the "YjsMod" variant of Joseph Gentle's reference-crdts with ties broken by
comparing client id *strings*; the rule is stated in :meth:`_Integration._yata_place`,
where it is applied.  ``tests/core/text_oracle.py`` is the same rule one character at a
time, with linear scans, against which the tests check this code.

Fast paths:

* Remote typing: the last remote insert is remembered (``_rtail``); when the next op of
  that client continues it (left origin = its last char, same right origin) and the item
  right after it is that right origin, so the YATA scan would stop at once, it just grows
  the item.
* Nothing inserted concurrently: when the right origin starts the item right after the
  left origin there is nothing to scan.
* YATA scan: comparing a scanned item's origins with the new item's needs a position
  (an id lookup) only when the origin is neither one of the new item's own origins nor
  the last character of the item just before (which lies inside the scanned range);
  even then block indexes usually decide without finding the item.  With no left
  origin, items that have one cannot stop the scan, so it jumps (``list.index``) to the
  next item without one.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from typing import cast

from synckit.core._ids import ItemId
from synckit.core._ops import Op
from synckit.core._text._blocks import _MAX_ITEMS, _MAX_TEXT, _BlockList
from synckit.core._text._edit_records import _EditRecords
from synckit.core._text._id_index import _ClientIndex
from synckit.core._work import WorkMeter
from synckit.errors import InvalidValueError

_ORDER = sys.byteorder  # of array("q") items, as tobytes gives them
_UNMETERED = sys.maxsize  # the scan's bound when no work meter is set
_NO_POS = (-1, 0, 0)  # position of the "start of document" origin
_END_POS = (1 << 62, 0, 0)  # position of the "end of document" origin


class _Integration(_BlockList, _EditRecords):
    """Remote inserts of a text state (a mixin of :class:`~synckit.core._text.TextState`)."""

    __slots__ = ()

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
            raise InvalidValueError("apply_insert: empty content")
        self._tail_pos = -1
        self._recent = None
        rt = self._rtail
        if (
            rt is not None  # (continues_remote, inline)
            and rt[1] == seq
            and rt[0] == client
            and left == (client, seq - 1)
            and right == rt[5]
        ):
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
        index = self._index or self._ensure_index()
        # (The lookups and edits below are those of _find, _item_at, insert_item,
        # _index_add, _resize and _next_id, inline: this runs for every remote insert.)
        # Split so that `left` ends an item and `right` starts one.
        if left is not None:
            lc, ls = left
            ci = index.get(lc)
            q = -1 if ci is None else bisect_right(ci.starts, ls) - 1
            if q < 0:
                raise InvalidValueError(f"apply_insert: unknown left origin {left}")
            lblk = ci.owners[q]  # type: ignore[union-attr]
            start = ci.starts[q]  # type: ignore[union-attr]
            li = lblk.seqs.index(start)
            if lblk.clients[li] != lc:  # (another client's item, same seq)
                li = lblk.find(lc, start)
            k = ls - start
            last = lblk.lens[li]
            last = (last if last > 0 else -last) - 1
            if k > last:
                raise InvalidValueError(f"apply_insert: unknown left origin {left}")
            if k < last:
                self._split(lblk, li, k + 1)
            b = lblk.idx
            j = li + 1
            left_pos = (b, li, k)
            lc0 = lc
            ls0 = ls
        else:
            left_pos = _NO_POS
            b, j = 0, 0
            lc0, ls0 = -1, 0
        # Usually nothing was inserted here concurrently: the right origin starts the very
        # next item (or both are the end), so there is nothing to scan and no id to look up.
        blk = blocks[b]
        if j < len(blk.lens):
            at_right = right is not None and blk.seqs[j] == right[1] and blk.clients[j] == right[0]
        else:
            nxt = self._item_at(b, j)
            at_right = (
                nxt is None
                if right is None
                else nxt is not None
                and nxt[0].seqs[nxt[1]] == right[1]
                and nxt[0].clients[nxt[1]] == right[0]
            )
        if at_right:
            db, dj = b, j
        else:
            db, dj, right = self._yata_place(client, left, right, left_pos, b, j)
            blk = blocks[db]
        if right is None:
            rc, rs = -1, 0
        else:
            rc, rs = right
        lens = blk.lens
        extend = False
        if dj > 0 and lc0 == client and ls0 == seq - 1:
            p = dj - 1
            extend = (
                blk.clients[p] == client
                and lens[p] > 0
                and blk.seqs[p] + lens[p] == seq
                and blk.rcs[p] == rc
                and (rc < 0 or blk.rss[p] == rs)
            )
        off = blk.visible_offset(dj) if dj else 0
        if self._edits is not None:
            self._record(self._block_start(db) + off, 0, content)
        ci = index.get(client)
        if extend:
            lens[dj - 1] += n
            ti = dj - 1
        else:
            blk.clients.insert(dj, client)
            blk.seqs.insert(dj, seq)
            lens.insert(dj, n)
            blk.lcs.insert(dj, lc0)
            blk.lss.insert(dj, ls0)
            blk.rcs.insert(dj, rc)
            blk.rss.insert(dj, rs)
            ti = dj
            # IdIndex.add, inline (a call per remote insert measured on merges): keep the two
            # the same.
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
        t = blk.text
        blk.text = t[:off] + content + t[off:]
        blk.size += n
        self._len += n
        if db < self._cur_b:
            self._cur_bpos += n
        if len(lens) > _MAX_ITEMS or blk.size > _MAX_TEXT:
            self._split_block(db)
        elif ci.starts[-1] == blk.seqs[ti]:  # type: ignore[union-attr]
            # Arm the remote typing fast path if the next item is the right origin and
            # this is the client's latest item.
            if ti + 1 < len(lens):
                nxt_id: ItemId | None = (blk.clients[ti + 1], blk.seqs[ti + 1])
            else:
                nxt_id = self._next_id(db, ti)
            if nxt_id == right:
                self._rtail = (client, seq + n, blk, ti, off + n, right)

    def apply_inserts(self, client: int, ops: list[Op]) -> None:
        """Integrate checked remote inserts ``ops`` (``TEXT_INSERT`` ops of ``client`` into
        this text, in order) as :meth:`apply_insert` with ``checked`` would one by one.

        A merge's inserts usually land where nothing was inserted concurrently: the left
        origin ends an item and the right origin starts the next one, in the same block.
        That case runs here with the lookups hoisted out of the loop; anything else (remote
        typing, no left origin, a split, a scan, recorded edits) goes to apply_insert."""
        if self._edits is not None:
            for op in ops:
                self.apply_insert(client, op[1], op[3], op[4], op[5], checked=True)
            return
        self._tail_pos = -1
        self._recent = None
        index = self._index or self._ensure_index()
        rt = self._rtail
        for op in ops:
            seq, left, right, content = op[1], op[3], op[4], op[5]
            if not content or left is None or right is None or (rt is not None and rt[1] == seq):
                self._rtail = rt
                self.apply_insert(client, seq, left, right, content, checked=True)
                rt = self._rtail
                index = self._index or self._ensure_index()
                continue
            # (apply_insert's lookups, for this case only: keep the two the same.)
            lc, ls = left
            ci = index.get(lc)
            q = -1 if ci is None else bisect_right(ci.starts, ls) - 1
            if q >= 0:
                blk = ci.owners[q]  # type: ignore[union-attr]
                start = ci.starts[q]  # type: ignore[union-attr]
                # seqs.index(start) as a byte search (array.index makes an int of every
                # value it passes); a match straddling two values is skipped.
                raw = blk.seqs.tobytes()
                pat = start.to_bytes(8, _ORDER, signed=True)
                k = raw.find(pat)
                while k & 7 and k > 0:
                    k = raw.find(pat, k + 1)
                li = k >> 3
                if k < 0 or blk.clients[li] != lc:  # (another client's item, same seq)
                    li = blk.find(lc, start)
                lens = blk.lens
                last = lens[li]
                j = li + 1
                rc, rs = right
                if rs == ls + 1 and rc == lc and ls - start < (last if last > 0 else -last) - 1:
                    # Typed between two characters of one item (its right origin the
                    # character after its left one): split there, as apply_insert would,
                    # and the right origin starts the next item.
                    self._split(blk, li, ls - start + 1)
                    last = lens[li]
                if (
                    ls - start == (last if last > 0 else -last) - 1
                    and j < len(lens)
                    and blk.seqs[j] == rs
                    and blk.clients[j] == rc
                    and not (  # not an extension of the item before (apply_insert's)
                        lc == client
                        and ls == seq - 1
                        and last > 0
                        and blk.clients[li] == client
                        and start + last == seq
                        and blk.rcs[li] == rc
                        and blk.rss[li] == rs
                    )
                ):
                    n = len(content)
                    off = blk.visible_offset(j)
                    blk.insert_item(j, client, seq, n, lc, ls, rc, rs)
                    self._index_add(client, seq, blk)
                    t = blk.text
                    blk.text = t[:off] + content + t[off:]
                    blk.size += n
                    self._len += n
                    if blk.idx < self._cur_b:
                        self._cur_bpos += n
                    if len(lens) > _MAX_ITEMS or blk.size > _MAX_TEXT:
                        rt = None
                        self._rtail = None
                        self._split_block(blk.idx)
                    elif index[client].starts[-1] == seq:  # the next item is the right origin
                        rt = (client, seq + n, blk, j, off + n, right)
                    else:
                        rt = None
                    continue
            self._rtail = rt
            self.apply_insert(client, seq, left, right, content, checked=True)
            rt = self._rtail
            index = self._index or self._ensure_index()
        self._rtail = rt

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
                raise InvalidValueError(f"apply_insert: unknown right origin {right}")
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
        # The integration rule (YjsMod).  With L and R our origins, walk the items o from
        # right after L up to R (or the end), in document order.  `(db, dj)`, where we go,
        # follows the walk (just before the next item to look at) unless `scanning`:
        # - o's left origin is before L: stop; we go at `(db, dj)`.
        # - o's left origin is L (o was inserted into the same gap, concurrently):
        #   - o's right origin is R too: the lower client id *string* goes first (the
        #     names, not the client indexes, so every replica agrees): if ours is lower,
        #     stop (we go before o); else we go after o (`scanning` off).
        #   - o's right origin is before R (o went into a narrower gap inside ours): pass
        #     o tentatively (`scanning` on): `(db, dj)` stays before o and moves on only
        #     if a later item with left origin L lets us past it.
        #   - o's right origin is after R, or o has none: we go after o (`scanning` off).
        # - o's left origin is after L (inside what the walk passed: o was typed into or
        #   after an item before it): pass o, `scanning` as it was, so that it stays with
        #   the item it belongs to.
        # Items with the same origins thus come in the order of their client id strings,
        # and what was typed into or after each stays with it: concurrently typed runs
        # never interleave.  An item is integrated as a whole: each of its characters
        # after the first has the one before as its left origin, so they follow it.
        # `tests/core/text_oracle.py` applies the same rule one character at a time.
        #
        # Comparing an item's origins with ours needs their positions (an id lookup)
        # only when they are neither our own origins nor the last character of the item
        # just before (which lies in the scanned range, so after our left origin).
        names = self._client_ids
        mine = names[client]
        lc0, ls0 = (-1, 0) if left is None else left
        rc0, rs0 = (-1, 0) if right is None else right
        pc, pl = lc0, ls0  # last character of the item before item j
        scanning = False
        db, dj = b, j
        nblocks = len(blocks)
        blk = blocks[b]
        meter = self._meter
        budget = _UNMETERED if meter is None else meter.left
        steps = 0
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
            steps += 1
            if steps > budget:  # (hostile: very many inserts into this one gap)
                cast(WorkMeter, meter).spend(steps)
        if meter is not None:
            meter.spend(steps)
        return db, dj, right
