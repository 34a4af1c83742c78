"""Applying a change made of list edits: the reference checks and the integration, each one
loop made for inserts, moves and deletes of one list.

A merge of list edits is one change of thousands of them per replica.
:func:`~synckit.core._remote._check_refs` and ``_integrate_changes`` dispatch over every
kind of operation and look the container up for each; these loops know the kinds and
look the list up once, and keep its visible order aside for one sort at the end
(:meth:`ListState.begin_batch`). The rules are those of the general loops and of
:meth:`ListState.insert` / :meth:`ListState.move` / :meth:`ListState.delete`, inline.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from synckit.core import _ops as K
from synckit.core._list import ListItem

if TYPE_CHECKING:
    from synckit.core._document import Document
    from synckit.core._ids import ContainerId
    from synckit.core._list import ListState
    from synckit.core._ops import Op

__all__ = ["BATCH_AT", "check_list_edits", "integrate_list_edits"]

_INSERT, _MOVE, _DELETE = K.LIST_INSERT, K.LIST_MOVE, K.LIST_DELETE


def BATCH_AT(order_len: int) -> int:  # noqa: N802 - a threshold, named as one
    """Past this many edits of a list in a row, one sort of its visible order at the end
    costs less than keeping it sorted edit by edit.

    Kept sorted, each edit moves the order's tail (about 50 µs an edit in a list of 200,000
    items), so past about a thousand edits the sort (about 0.3 µs an item) costs less in
    a list of any length: 12,000 moves into 200,000 items took 613 ms edit by edit, 112 ms
    sorted once (a push of them, just under the threshold this had before, ``n / 16``)."""
    return 32 + min(order_len >> 4, 1024)


def check_list_edits(
    doc: Document,
    author: int,
    deps: dict[int, int],
    ops: list[Op],
    runs: tuple[list[int], list[int]],
    added: list[tuple[ContainerId, int, bool]],
) -> bool:
    """Whether every op of ``ops`` is an insert, move or delete of the top-level list
    ``ops[0][2]`` and refers only to items that exist and that its author had seen
    (:func:`~synckit.core._remote._check_refs`' rules). Each insert is recorded as it goes,
    in ``runs`` (the first and last seqs of the runs ``author`` created in the list so far
    in this apply) and ``added`` (the key ``(name, author, False)`` once per run): on
    False, the caller rolls those back and leaves ``ops`` to the general loop, which takes
    other kinds and names the first problem."""
    name = ops[0][2]
    if type(name) is not str:
        return False  # (a nested list: the general loop checks the path to it)
    lst = doc._lists.get(name)
    items = lst._items if lst is not None else {}
    firsts, lasts = runs
    key = (name, author, False)
    for op in ops:
        kind = op[0]
        if kind == _INSERT:
            if op[2] != name:
                return False
            firsts.append(op[1])
            lasts.append(op[1])
            added.append(key)
            continue
        if (kind != _MOVE and kind != _DELETE) or op[2] != name:  # noqa: PLR1714
            return False
        item = op[3]
        c, s = item
        if c == author:
            if s >= op[1]:
                return False  # not one it had seen
            if item not in items:
                # Created by the author earlier in this apply (the runs, inline).
                i = bisect_right(firsts, s) - 1
                if i < 0 or s > lasts[i]:
                    return False
        elif s > deps.get(c, 0) or item not in items:
            # (An item of another client is one this apply created only if the changes
            # planned before created it: left to the general loop, which asks them.)
            return False
    return True


def integrate_list_edits(
    doc: Document, ops: list[Op], c: int, writer: str, batched: list[ListState]
) -> tuple[int, int]:
    """Apply the list edits at the start of ``ops`` (checked, trimmed) that are of the
    list ``ops[0][2]``, in batch mode; return how many were applied and the highest hybrid
    logical clock among them (0: none). The caller logs them."""
    name = ops[0][2]
    lst = doc._lists.get(name)
    if lst is None:
        lst = doc._list_state(name)
    if lst._adds is None:
        lst.begin_batch()
        batched.append(lst)
    adds = lst._adds
    assert adds is not None
    place = adds.append
    items = lst._items
    ids = lst._ids
    top = n = cut = 0
    for op in ops:
        kind = op[0]
        if op[2] != name:
            break
        if kind == _INSERT:
            hlc = op[3]
            if hlc > top:  # noqa: PLR1730 - cheaper than a call to max, per op
                top = hlc
            seq = op[1]
            item_id = (c, seq)
            key = op[5]
            items[item_id] = ListItem(op[4], key, hlc, writer, writer)
            sk = (key, writer, seq)
            ids[sk] = item_id
            place(sk)
        elif kind == _MOVE:
            hlc = op[4]
            if hlc > top:  # noqa: PLR1730 - as above
                top = hlc
            item_id = op[3]
            item = items[item_id]
            if hlc > item.hlc or (hlc == item.hlc and writer > item.writer):
                key = op[5]
                if not item.deleted:
                    del ids[(item.key, item.client_id, item_id[1])]
                    sk = (key, item.client_id, item_id[1])
                    ids[sk] = item_id
                    place(sk)
                    cut += 1
                item.key, item.hlc, item.writer = key, hlc, writer
                item.run = 0  # a new key: the run it continued is over
        elif kind == _DELETE:
            item = items[op[3]]
            if not item.deleted:
                item.deleted = True
                del ids[(item.key, item.client_id, op[3][1])]
                cut += 1
        else:
            break
        n += 1
    lst._cut += cut
    return n, top
