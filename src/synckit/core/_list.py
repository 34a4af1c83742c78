"""The list container: ordered list state, where items are placed by fractional position
keys and moved by last writer, and its handle.

Each item is named by the id of the operation that inserted it and sits at a position key
(see :mod:`synckit.core._fractional`). A move gives the item a new key; concurrent moves of
one item resolve by last-writer-wins on ``(hlc, client id)``, so the item ends up exactly
once, at the winner's place. A delete is a tombstone and wins over any move. The visible
order is kept as a sorted list of ``(key, client id, seq)`` tuples.

:class:`ListState` is one list's state (the document keeps one per name); :class:`List` is
the handle applications use, which talks to the document through
:class:`~synckit.core._host.Host`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from synckit.core import _ops as K
from synckit.core._fractional import key_between, operation_suffix
from synckit.core._host import LIST
from synckit.core._ids import ItemId
from synckit.core._values import JSONInput, JSONValue, clone_json, copy_json
from synckit.errors import InvalidTypeError, PositionError

if TYPE_CHECKING:
    from synckit.core._host import Host

__all__ = ["List", "ListItem", "ListState"]

_SortKey = tuple[str, str, int]


class ListItem:
    """One item: its value, its position key and who last placed it there."""

    __slots__ = ("client_id", "deleted", "hlc", "key", "value", "writer")

    def __init__(self, value: JSONValue, key: str, hlc: int, writer: str, client_id: str) -> None:
        self.value = value
        self.key = key
        self.hlc = hlc
        self.writer = writer
        self.client_id = client_id
        self.deleted = False


class ListState:
    """All items of one list container, deleted ones included (moves may refer to them)."""

    __slots__ = ("_ids", "_items", "_order")

    def __init__(self) -> None:
        self._items: dict[ItemId, ListItem] = {}
        self._order: list[_SortKey] = []
        self._ids: dict[_SortKey, ItemId] = {}

    def __len__(self) -> int:
        return len(self._order)

    def has_item(self, item: ItemId) -> bool:
        return item in self._items

    def item_at(self, index: int) -> tuple[ItemId, ListItem]:
        """The visible item at ``index`` (negative indexes count from the end)."""
        sk = self._order[index]
        item_id = self._ids[sk]
        return item_id, self._items[item_id]

    def keys_around(
        self, index: int, exclude: ItemId | None = None
    ) -> tuple[str | None, str | None]:
        """Keys of the neighbours a new item at visible ``index`` would have.

        With ``exclude``, positions are counted as if that item were not in the list.
        """
        order = self._order
        if exclude is not None:
            item = self._items[exclude]
            order = order.copy()
            order.remove((item.key, item.client_id, exclude[1]))
        lo = order[index - 1][0] if index > 0 else None
        hi = order[index][0] if index < len(order) else None
        return lo, hi

    def insert(self, item_id: ItemId, client_id: str, value: JSONValue, key: str, hlc: int) -> None:
        item = ListItem(value, key, hlc, client_id, client_id)
        self._items[item_id] = item
        sk = (key, client_id, item_id[1])
        self._ids[sk] = item_id
        insort(self._order, sk)

    def move(self, item_id: ItemId, key: str, hlc: int, writer: str) -> bool:
        """Apply a move; True when it won and the item (if visible) changed place."""
        item = self._items[item_id]
        if (hlc, writer) <= (item.hlc, item.writer):
            return False
        if not item.deleted:
            old = (item.key, item.client_id, item_id[1])
            del self._order[bisect_left(self._order, old)]
            del self._ids[old]
            new = (key, item.client_id, item_id[1])
            self._ids[new] = item_id
            insort(self._order, new)
        item.key, item.hlc, item.writer = key, hlc, writer
        return True

    def delete(self, item_id: ItemId) -> bool:
        """Tombstone an item; True when it was visible."""
        item = self._items[item_id]
        if item.deleted:
            return False
        item.deleted = True
        sk = (item.key, item.client_id, item_id[1])
        del self._order[bisect_left(self._order, sk)]
        del self._ids[sk]
        return True

    def values(self) -> list[JSONValue]:
        items = self._items
        ids = self._ids
        return [items[ids[sk]].value for sk in self._order]


class List:
    """An ordered list of JSON values with insert, move and delete that merge cleanly.

    Concurrent inserts at one index keep both, in the same order everywhere; an item moved
    concurrently by two replicas ends up exactly once (the later move wins); a delete wins
    over a concurrent move.
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: str) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> ListState | None:
        return self._doc._lists.get(self._name)

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __getitem__(self, index: int) -> JSONValue:
        if not isinstance(index, int):
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        state = self._state()
        if state is None or not -len(state) <= index < len(state):
            raise PositionError(f"list index {index} out of range")
        value = state.item_at(index)[1].value
        return clone_json(value)

    def __iter__(self) -> Iterator[JSONValue]:
        state = self._state()
        return iter(clone_json(state.values()) if state is not None else [])  # type: ignore[arg-type]

    def insert(self, index: int, value: JSONInput) -> None:
        """Insert ``value`` so that it ends at ``index`` (0 <= index <= len)."""
        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        value = copy_json(value)
        n = len(self)
        if not 0 <= index <= n:
            raise PositionError(f"list insert index {index} out of range for length {n}")
        doc = self._doc
        doc._check_kind(self._name, LIST)
        state = doc._list_state(self._name)
        seq = doc._next_seq()
        lo, hi = state.keys_around(index)
        key = key_between(lo, hi, operation_suffix(doc._client_id, seq))
        hlc = doc._tick()
        state.insert((doc._me, seq), doc._client_id, value, key, hlc)
        doc._record((K.LIST_INSERT, seq, self._name, hlc, value, key))

    def append(self, value: JSONInput) -> None:
        """Insert ``value`` at the end."""
        self.insert(len(self), value)

    def move(self, index: int, to: int) -> None:
        """Move the item at ``index`` so that it ends at index ``to``."""
        n = len(self)
        for i in (index, to):
            if type(i) is not int:
                raise InvalidTypeError(f"list indices must be int, got {type(i).__name__}")
            if not 0 <= i < n:
                raise PositionError(f"list index {i} out of range for length {n}")
        if index == to:
            return
        doc = self._doc
        state = cast(ListState, self._state())
        item_id, _ = state.item_at(index)
        seq = doc._next_seq()
        lo, hi = state.keys_around(to, exclude=item_id)
        key = key_between(lo, hi, operation_suffix(doc._client_id, seq))
        hlc = doc._tick()
        state.move(item_id, key, hlc, doc._client_id)
        doc._record((K.LIST_MOVE, seq, self._name, item_id, hlc, key))

    def delete(self, index: int) -> None:
        """Delete the item at ``index``."""
        n = len(self)
        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        if not 0 <= index < n:
            raise PositionError(f"list index {index} out of range for length {n}")
        doc = self._doc
        state = cast(ListState, self._state())
        item_id, _ = state.item_at(index)
        seq = doc._next_seq()
        state.delete(item_id)
        doc._record((K.LIST_DELETE, seq, self._name, item_id))

    def __repr__(self) -> str:
        return f"List({self._name!r}, {list(self)!r})"
