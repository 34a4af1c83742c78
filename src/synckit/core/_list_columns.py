"""Changes made of list edits only, written and read by loops made for them.

A merge of list edits is one change of thousands of inserts, moves and deletes of one list.
:class:`~synckit.core._codec.ChangeSetWriter` and
:func:`~synckit.core._codec.decode_changes` hand such a change here, to a loop that knows
its kinds and reads the list's name once (about a third of the per-operation loops' time:
those dispatch over every kind and look every name up). The bytes written and the
operations read are exactly those of the per-operation loops; anything out of the ordinary
(another kind of operation, more than one name, a value out of range) is left to those
loops, which also name the first problem of a bad change. (Passes of ``map`` / ``zip`` /
``compress`` over whole columns were tried: at about 40 ns per element each, the two dozen
a change needs cost more than this loop.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synckit.core import _ops as K

if TYPE_CHECKING:
    from collections.abc import Callable

    from synckit.core._ids import ContainerId
    from synckit.core._ops import Op
    from synckit.core._values import JSONValue

__all__ = ["LIST_EDITS", "list_columns", "list_ops"]

_INSERT, _MOVE, _DELETE = K.LIST_INSERT, K.LIST_MOVE, K.LIST_DELETE
#: The kinds these paths take.
LIST_EDITS = frozenset((_INSERT, _MOVE, _DELETE))
_MAX = 2**62  # (the codec's _MAX_SEQ and _MAX_HLC)


def list_columns(
    ops: list[Op],
    name: ContainerId,
    name_pos: int,
    client_pos: dict[int, int],
    client_of: Callable[[int], int],
) -> tuple[list[int], list[int], list[int], list[JSONValue], list[str]] | None:
    """The columns (kinds, ints, hlc deltas, values, strs) the per-op loop of
    ``ChangeSetWriter`` writes for ``ops`` when they are list inserts, moves and deletes of
    the list ``name`` (interned at table position ``name_pos``); ``client_pos`` holds the
    table positions of the document clients interned, ``client_of`` interns one.

    None when they are not: then nothing was interned but what that loop interns first
    too (the name, and the clients of the ops before the first other one).
    """
    kinds: list[int] = []
    ints: list[int] = []
    hlcs: list[int] = []
    values: list[JSONValue] = []
    strs: list[str] = []
    add_kind = kinds.append
    add_hlc = hlcs.append
    add_str = strs.append
    last_hlc = 0
    insert, move, delete = _INSERT, _MOVE, _DELETE
    for op in ops:
        kind = op[0]
        if op[2] != name:
            return None
        if kind == insert:
            ints.append(name_pos)
            add_hlc(op[3] - last_hlc)
            last_hlc = op[3]
            values.append(op[4])
            add_str(op[5])
        else:
            if kind == move:
                add_hlc(op[4] - last_hlc)
                last_hlc = op[4]
                add_str(op[5])
            elif kind != delete:
                return None
            item = op[3]
            pos = client_pos.get(item[0])
            ints += (name_pos, client_of(item[0]) if pos is None else pos, item[1])
        add_kind(kind)
    return kinds, ints, hlcs, values, strs


def list_ops(
    kinds: list[int],
    ints: list[int],
    hlcs: list[int],
    values: list[Any],
    strs: list[str],
    start: int,
    clients: list[int],
    names: list[ContainerId],
) -> list[Op] | None:
    """The ops the per-op loop of ``decode_changes`` reads from a change's columns when
    they are list inserts, moves and deletes of one list, every index, seq and clock in
    range and every column used up (``strs`` must be checked valid position keys already);
    None when not (then that loop reads them, and names what is wrong).

    One loop as lean as it can be: the name is read once, and a kind, a reference or a
    clock out of the ordinary gives up at once.
    """
    n = len(kinds)
    if not n or not ints or start + n >= _MAX or not 0 <= ints[0] < len(names):
        return None
    nm = ints[0]
    name = names[nm]
    n_clients = len(clients)
    ops: list[Op] = []
    append = ops.append
    seq = start
    hlc = ii = hi = vi = 0
    insert, move, delete = _INSERT, _MOVE, _DELETE
    try:
        for kind in kinds:
            if ints[ii] != nm:
                return None
            if kind == insert:
                hlc += hlcs[hi]
                if not 0 <= hlc < _MAX:
                    return None
                append((insert, seq, name, hlc, values[vi], strs[hi]))
                hi += 1
                vi += 1
                ii += 1
            else:
                ic, iseq = ints[ii + 1], ints[ii + 2]
                if not (0 <= ic < n_clients and 0 < iseq < _MAX):
                    return None
                if kind == move:
                    hlc += hlcs[hi]
                    if not 0 <= hlc < _MAX:
                        return None
                    append((move, seq, name, (clients[ic], iseq), hlc, strs[hi]))
                    hi += 1
                elif kind == delete:
                    append((delete, seq, name, (clients[ic], iseq)))
                else:
                    return None
                ii += 3
            seq += 1
    except IndexError:
        return None  # a column ends too early
    if ii != len(ints) or hi != len(hlcs) or hi != len(strs) or vi != len(values):
        return None
    return ops
