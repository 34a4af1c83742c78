"""Operation kinds and the in-memory shape of operations.

Every operation is a plain tuple whose first two items are its kind and its seq (tuples:
compact and fast to build on the hot path). Item references (list items, set tags, text
origins and targets) are :data:`~synckit.core._ids.ItemId` pairs of document-local client
indexes. The layouts, by kind:

============  ================================================================
kind          tuple
============  ================================================================
FIELD_SET     ``(kind, seq, name, hlc, value)``
FIELD_DELETE  ``(kind, seq, name, hlc)``
COUNTER_ADD   ``(kind, seq, name, delta)``
SET_ADD       ``(kind, seq, name, member)``
SET_REMOVE    ``(kind, seq, name, member, tags)``: tags is a tuple of ItemIds
LIST_INSERT   ``(kind, seq, name, hlc, value, key)``
LIST_MOVE     ``(kind, seq, name, item, hlc, key)``
LIST_DELETE   ``(kind, seq, name, item)``
TEXT_INSERT   ``(kind, seq, name, left, right, content)``: origins may be None
TEXT_DELETE   ``(kind, seq, name, target_client, target_first, signed_count)``
SKIP          ``(kind, seq, count)``
MAP_SET       ``(kind, seq, map, key, hlc, value)``
MAP_DELETE    ``(kind, seq, map, key, hlc)``
MAP_CREATE    ``(kind, seq, map, key, hlc, child kind, epoch)``: epoch an ItemId or None
LIST_CREATE   ``(kind, seq, list, hlc, child kind, key)``: an item that is a container
============  ================================================================

The third item of every operation but SKIP names its container: a str for a top-level
one, a tuple for a nested one (see :data:`~synckit.core._ids.ContainerId`). A child kind
is one of :data:`CHILD_KINDS`' positions plus one.

A text insert spans ``len(content)`` seqs, a text delete ``abs(signed_count)``, a skip
``count``; every other operation spans one. :func:`op_width` says how many,
:func:`split_op` cuts a multi-seq operation in two, and :func:`seq_of` is a sort key.
"""

from __future__ import annotations

from typing import Any, Final

from synckit.core._ids import ContainerId, ItemId

__all__ = ["REF_KINDS", "Op", "op_refs", "op_width", "path_refs", "seq_of", "split_op"]

FIELD_SET: Final = 1
FIELD_DELETE: Final = 2
COUNTER_ADD: Final = 3
SET_ADD: Final = 4
SET_REMOVE: Final = 5
LIST_INSERT: Final = 6
LIST_MOVE: Final = 7
LIST_DELETE: Final = 8
TEXT_INSERT: Final = 9
TEXT_DELETE: Final = 10
SKIP: Final = 11
MAP_SET: Final = 12
MAP_DELETE: Final = 13
MAP_CREATE: Final = 14
LIST_CREATE: Final = 15

#: The kinds of container that can be nested, by child kind (1: map, ..., 5: set).
CHILD_KINDS: Final = ("map", "list", "text", "counter", "set")

#: An operation tuple; see the module docstring for its layout by kind.
Op = tuple[Any, ...]


def op_width(op: Op) -> int:
    """How many seqs ``op`` takes."""
    kind = op[0]
    if kind == TEXT_INSERT:
        return len(str(op[5]))
    if kind == TEXT_DELETE:
        return abs(int(op[5]))
    if kind == SKIP:
        return int(op[2])
    return 1


def seq_of(op: Op) -> int:
    """The (first) seq of ``op``: a sort key."""
    return int(op[1])


def split_op(client: int, op: Op, k: int) -> tuple[Op, Op]:
    """Split a multi-seq operation of ``client`` after its first ``k`` seqs."""
    kind, seq = op[0], op[1]
    if kind == TEXT_INSERT:
        content = op[5]
        head = (kind, seq, op[2], op[3], op[4], content[:k])
        tail = (kind, seq + k, op[2], (client, seq + k - 1), op[4], content[k:])
        return head, tail
    if kind == TEXT_DELETE:
        count = op[5]
        step = 1 if count > 0 else -1
        head = (kind, seq, op[2], op[3], op[4], k * step)
        tail = (kind, seq + k, op[2], op[3], op[4] + k * step, count - k * step)
        return head, tail
    if kind == SKIP:
        return (kind, seq, k), (kind, seq + k, op[2] - k)
    raise AssertionError(f"operation kind {kind} spans one seq")  # pragma: no cover


#: The kinds of top-level operations that refer to items (see :func:`op_refs`).
REF_KINDS = frozenset((SET_REMOVE, LIST_MOVE, LIST_DELETE, MAP_CREATE))


def op_refs(op: Op) -> list[ItemId]:
    """The items a counter, set, list or map operation refers to (as ``apply`` checks them,
    see :func:`synckit.core._remote._check_refs`): a set remove's tags, the item a list
    move or delete targets, the write a map's creation of a container replaces, and the
    steps to a nested container (list items, map epochs)."""
    kind = op[0]
    refs: list[ItemId] = []
    if kind == SET_REMOVE:
        refs.extend(op[4])
    elif kind in (LIST_MOVE, LIST_DELETE):
        refs.append(op[3])
    elif kind == MAP_CREATE and op[6] is not None:
        refs.append(op[6])
    path_refs(op[2], refs)
    return refs


def path_refs(cid: ContainerId, refs: list[ItemId]) -> list[ItemId]:
    """Add to ``refs`` the items the path to container ``cid`` names (the list items and
    map epochs on its way); returns ``refs``."""
    while type(cid) is tuple:
        if len(cid) == 2:
            refs.append(cid[1])
        elif cid[2] is not None:
            refs.append(cid[2])
        cid = cid[0]
    return refs
