"""The fields of a :class:`~synckit.core._text._state.TextState`, declared in one place.

``TextState`` is put together from mixins, one per module of this package, that all work on
the same fields; they are declared here, with what each one means and which module keeps it
up to date, so that every mixin (and mypy) sees the same slots.  ``TextState.__init__``
(in :mod:`._state`) gives them their initial values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from synckit.core._ids import ItemId

if TYPE_CHECKING:
    from synckit.core._text._blocks import _Block
    from synckit.core._text._history import TextOp, _DeleteLog
    from synckit.core._text._id_index import _ClientIndex
    from synckit.core._work import WorkMeter


@dataclass(slots=True, init=False, repr=False, eq=False, match_args=False)
class _TextFields:
    """The slots every part of a text state shares (no behaviour of its own: the dataclass
    only makes the slots, from the declarations below)."""

    #: The document's client ids (strings) by client index; YATA breaks ties with them.
    _client_ids: list[str]
    #: What bounds the work of the merge in progress (set by the Document for one merge
    #: with a limit, None otherwise): see :mod:`synckit.core._work`.
    _meter: WorkMeter | None
    #: The document order as blocks of items (:mod:`._blocks`).
    _blocks: list[_Block]
    #: Visible length of the text.
    _len: int
    #: Cursor of the position index: a block index and the visible position where it starts.
    _cur_b: int
    _cur_bpos: int
    #: The id index (:mod:`._id_index`), built on first use; None until then.
    _index: dict[int, _ClientIndex] | None
    #: Per client, its delete operations (:mod:`._history`).
    _dels: dict[int, _DeleteLog]
    #: Local typing fast path (:meth:`TextState.local_insert`): the last local insert ended
    #: at visible position ``_tail_pos``, at the end of item ``_tail_i`` of ``_tail_blk``
    #: (text offset ``_tail_off`` in that block); typing on with seq ``_tail_seq`` by
    #: ``_tail_client`` grows that item.  ``_tail_pos`` -1: not valid.
    _tail_pos: int
    _tail_seq: int
    _tail_client: int
    _tail_blk: _Block
    _tail_i: int
    _tail_off: int
    #: The latest local op, to answer ``ops_since`` cheaply right after it (:mod:`._history`):
    #: (client, end of that client's previous text op, first seq, last seq, ops).
    _recent: tuple[int, int, int, int, list[TextOp]] | None
    #: Remote typing fast path (:mod:`._yata`): (client, next seq, block, item index, text
    #: offset of the item's end, right origin) of the item the last ``apply_insert`` grew or
    #: made, when the item right after it is its right origin.  None: not valid.
    _rtail: tuple[int, int, _Block, int, int, ItemId | None] | None
    #: Edits of remote ops in visible positions, (pos, deleted, inserted) each, while the
    #: Document records them for its subscribers (:mod:`._edit_records`).  None: off.
    _edits: list[tuple[int, int, str]] | None
    #: A state loaded from trusted bytes and not decoded yet (:meth:`TextState.decode_later`):
    #: (clients known then, ints, visible text, deletes); ``_blocks``, ``_dels`` and
    #: ``_tail_blk`` are unset until the first use of one of them decodes it.  None: decoded.
    _lazy: tuple[int, Sequence[int], str, Sequence[int]] | None
