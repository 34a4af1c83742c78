"""Ordered list state: items placed by fractional position keys, moved by last writer.

Each item is named by the id of the operation that inserted it and sits at a position key
(see :mod:`synckit.core._fractional`). A move gives the item a new key; concurrent moves of
one item resolve by last-writer-wins on ``(hlc, client id)``, so the item ends up exactly
once, at the winner's place. A delete is a tombstone and wins over any move. The visible
order is kept as a sorted list of ``(key, client id, seq)`` tuples.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from synckit.core._ids import ItemId
from synckit.core._values import JSONValue

__all__ = ["ListItem", "ListState"]

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
