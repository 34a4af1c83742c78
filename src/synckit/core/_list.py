"""The list container: ordered list state, where items are placed by fractional position
keys and moved by last writer, and its handle.

Each item is named by the id of the operation that inserted it and sits at a position key
(see :mod:`synckit.core._fractional`); an insert right after the item this replica inserted
last extends that item's run, so that each replica's run of inserts stays one block when
replicas insert at one place concurrently. A move gives the item a new key; concurrent moves of
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
from typing import TYPE_CHECKING, Any, cast

from synckit.core import _ops as K
from synckit.core._cursor import Bind, Cursor
from synckit.core._fractional import DIGITS, client_tag, key_after, key_inside, operation_suffix
from synckit.core._host import LIST
from synckit.core._ids import ContainerId, ItemId
from synckit.core._values import JSONInput, JSONValue, clone_json, copy_json
from synckit.errors import InvalidTypeError, InvalidValueError, PositionError

if TYPE_CHECKING:
    from synckit.core._counter import Counter
    from synckit.core._host import Host
    from synckit.core._map import Map
    from synckit.core._orset import ORSet
    from synckit.core._text._handle import Text

__all__ = ["List", "ListItem", "ListState"]

_SortKey = tuple[str, str, int]


class ListItem:
    """One item: its value, its position key and who last placed it there."""

    __slots__ = ("client_id", "deleted", "hlc", "key", "run", "value", "writer")

    def __init__(self, value: Any, key: str, hlc: int, writer: str, client_id: str) -> None:
        # value: a JSON value, or a synckit.core._map.Child for a nested container
        self.value = value
        self.key = key
        self.hlc = hlc
        self.writer = writer
        self.client_id = client_id
        self.deleted = False
        # Local only: the length of the key of the first item of the run this replica's
        # insert started (every key of the run starts with it); 0 when unknown.
        self.run = 0


class ListState:
    """All items of one list container, deleted ones included (moves may refer to them)."""

    __slots__ = ("_adds", "_cut", "_head", "_ids", "_items", "_order", "_tag", "last_insert")

    def __init__(self) -> None:
        self._items: dict[ItemId, ListItem] = {}
        self._order: list[_SortKey] = []
        self._ids: dict[_SortKey, ItemId] = {}
        #: Between begin_batch and end_batch: the sort keys placed since (some of them
        #: maybe taken away again), and how many were taken away from the visible order
        #: (else None and 0: ``_order`` is kept up to date at once). ``_ids`` is always up
        #: to date: it holds the sort keys of exactly the visible items.
        self._adds: list[_SortKey] | None = None
        self._cut = 0
        #: The item this replica inserted last (local only): an insert right after it
        #: continues its run.
        self.last_insert: ItemId | None = None
        self._tag = ("", "")  # (client id, its client_tag), computed once
        self._head: tuple[str, int, str] = ("", 0, "")  # (client id, seq // 62, its digits)

    def suffix(self, client_id: str, seq: int) -> str:
        """:func:`~synckit.core._fractional.operation_suffix`, from parts kept: the client's
        tag followed by the digits of ``seq // 62``, which 62 seqs in a row share."""
        high, low = divmod(seq, 62)
        head = self._head
        if head[0] != client_id or head[1] != high or seq <= 0:
            if self._tag[0] != client_id:
                self._tag = (client_id, client_tag(client_id))
            tag = self._tag[1]
            if seq <= 0:
                return operation_suffix(client_id, seq, tag)
            head = self._head = (
                client_id,
                high,
                operation_suffix(client_id, high, tag)[:-1] if high else tag,
            )
        return head[2] + DIGITS[low] + "1"

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
            # Visible index i of the list without the item is order[i] below the item's
            # own index and order[i + 1] from it on (no copy of the order: O(log n)).
            item = self._items[exclude]
            at = bisect_left(order, (item.key, item.client_id, exclude[1]))
            lo_i = index - 1 if index - 1 < at else index
            hi_i = index if index < at else index + 1
            lo = order[lo_i][0] if index > 0 else None
            hi = order[hi_i][0] if hi_i < len(order) else None
            return lo, hi
        lo = order[index - 1][0] if index > 0 else None
        hi = order[index][0] if index < len(order) else None
        return lo, hi

    def insert(
        self,
        item_id: ItemId,
        client_id: str,
        value: Any,
        key: str,
        hlc: int,
        at: int | None = None,
    ) -> ListItem:
        """Add an item and return it. ``at`` (a local insert, outside a batch): the index
        of the visible order it goes to, when the caller knows it (no search then)."""
        item = ListItem(value, key, hlc, client_id, client_id)
        self._items[item_id] = item
        sk = (key, client_id, item_id[1])
        self._ids[sk] = item_id
        if self._adds is not None:
            self._place(sk)
        elif at is None:
            insort(self._order, sk)
        else:
            self._order.insert(at, sk)
        return item

    def begin_batch(self) -> None:
        """Until :meth:`end_batch`, keep the visible order's changes aside and sort once at
        the end, rather than insert into (and delete from) the sorted order one item at a
        time: for a merge of many remote edits. In between, only :meth:`insert`,
        :meth:`move` and :meth:`delete` may be called (nothing that reads the order)."""
        self._adds = []
        self._cut = 0

    def end_batch(self) -> None:
        """Bring the visible order up to date again (see :meth:`begin_batch`): the sort keys
        of the visible items (``_ids``), those already in order first."""
        adds, ids = self._adds, self._ids
        assert adds is not None
        self._adds = None
        order = self._order
        if self._cut:
            self._cut = 0
            order = list(filter(ids.__contains__, order))
        if adds:
            adds = list(filter(ids.__contains__, adds))
            if len(order) + len(adds) == len(ids):
                order += adds
                order.sort()
            else:
                # A sort key placed twice, or again after it was taken away (only a
                # hostile change's moves reuse a key): every visible one, once.
                order = sorted(ids)
        self._order = order

    def _place(self, sk: _SortKey) -> None:
        """Add ``sk`` to the visible order."""
        adds = self._adds
        if adds is None:
            insort(self._order, sk)
        else:
            adds.append(sk)

    def _unplace(self, sk: _SortKey) -> None:
        """Remove ``sk`` from the visible order (the caller takes it out of ``_ids``)."""
        if self._adds is None:
            del self._order[bisect_left(self._order, sk)]
        else:
            self._cut += 1

    def move(
        self,
        item_id: ItemId,
        key: str,
        hlc: int,
        writer: str,
        places: tuple[int, int] | None = None,
    ) -> bool:
        """Apply a move; True when it won and the item (if visible) changed place.

        ``places`` (a local move, outside a batch): the item's index in the visible order
        and the index it ends at, when the caller knows them (no search then).
        """
        item = self._items[item_id]
        if (hlc, writer) <= (item.hlc, item.writer):
            return False
        if not item.deleted:
            old = (item.key, item.client_id, item_id[1])
            del self._ids[old]
            new = (key, item.client_id, item_id[1])
            self._ids[new] = item_id
            if self._adds is None:
                order = self._order
                if places is None:
                    del order[bisect_left(order, old)]
                    insort(order, new)
                else:
                    del order[places[0]]
                    order.insert(places[1], new)
            else:
                self._unplace(old)
                self._place(new)
        item.key, item.hlc, item.writer = key, hlc, writer
        item.run = 0  # a new key: the run it continued is over
        return True

    def delete(self, item_id: ItemId) -> bool:
        """Tombstone an item; True when it was visible."""
        item = self._items[item_id]
        if item.deleted:
            return False
        item.deleted = True
        sk = (item.key, item.client_id, item_id[1])
        if self._adds is None:
            del self._order[bisect_left(self._order, sk)]
        else:
            self._unplace(sk)
        del self._ids[sk]
        return True

    def values(self) -> list[JSONValue]:
        items = self._items
        ids = self._ids
        return [items[ids[sk]].value for sk in self._order]

    def visible_items(self) -> Iterator[tuple[ItemId, ListItem]]:
        """(id, item) of every visible item, in order."""
        items = self._items
        ids = self._ids
        for sk in self._order:
            item_id = ids[sk]
            yield item_id, items[item_id]

    def index_of(self, item_id: ItemId) -> int | None:
        """The visible index of ``item_id``; None when it is deleted or unknown."""
        item = self._items.get(item_id)
        if item is None or item.deleted:
            return None
        return bisect_left(self._order, (item.key, item.client_id, item_id[1]))

    def place_of(self, item_id: ItemId) -> tuple[int, bool] | None:
        """How many visible items come before ``item_id`` and whether it is visible itself;
        a deleted item keeps its key, so it still has a place. None when unknown."""
        item = self._items.get(item_id)
        if item is None:
            return None
        return bisect_left(self._order, (item.key, item.client_id, item_id[1])), not item.deleted

    def has_containers(self) -> bool:
        """Whether any item (visible or not) is a nested container."""
        from synckit.core._map import Child

        return any(isinstance(item.value, Child) for item in self._items.values())


class List:
    """An ordered list of JSON values with insert, move and delete that merge cleanly.

    Concurrent inserts at one index keep both, in the same order everywhere, and each
    replica's run of inserts (each right after the one before) stays together; an item moved
    concurrently by two replicas ends up exactly once (the later move wins); a delete wins
    over a concurrent move.
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: ContainerId) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> ListState | None:
        return self._doc._lists.get(self._name)

    def _view(self, item_id: ItemId, value: Any) -> JSONValue:
        from synckit.core._map import Child

        if type(value) is Child:
            from synckit.core._views import render

            return render(self._doc, (self._name, item_id), value.kind)
        return clone_json(value)

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __getitem__(self, index: int) -> JSONValue:
        if not isinstance(index, int):
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        state = self._state()
        if state is None or not -len(state) <= index < len(state):
            raise PositionError(f"list index {index} out of range")
        item_id, item = state.item_at(index)
        return self._view(item_id, item.value)

    def __iter__(self) -> Iterator[JSONValue]:
        from synckit.core._views import render_list

        return iter(render_list(self._doc, self._name))

    def insert(self, index: int, value: JSONInput) -> None:
        """Insert ``value`` so that it ends at ``index`` (0 <= index <= len)."""
        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        if type(value) is not int:  # (an int is a JSON value as it is: no call to check it)
            value = copy_json(value)
        self._insert(index, value, None)

    def _insert(self, index: int, value: Any, child_kind: int | None) -> ItemId:
        # The key made here, inline: this runs for every local insert.
        doc = self._doc
        name = self._name
        state = doc._lists.get(name)
        n = len(state._order) if state is not None else 0
        if not 0 <= index <= n:
            raise PositionError(f"list insert index {index} out of range for length {n}")
        if state is None:  # (a list's state exists once its name passed the check)
            doc._check_kind(name, LIST)
            state = doc._list_state(name)
        seq = doc._next_seq()
        client_id = doc._client_id
        order = state._order
        lo = order[index - 1][0] if index else None
        hi = order[index][0] if index < n else None
        suffix = state.suffix(client_id, seq)
        # Right after the item this replica inserted last (unmoved since), the key extends
        # that run's first key; anywhere else it starts a run of its own.
        last = state.last_insert
        run = 0
        if index and last is not None and state._ids[order[index - 1]] == last:
            run = state._items[last].run
        if run > 0:
            key = key_after(lo, hi, run, suffix)
        else:
            if lo is not None and hi is not None and lo < hi:
                key = key_inside(lo, hi, suffix)  # (what key_after comes to, in one call)
            else:
                key = key_after(lo, hi, 0, suffix)
            run = len(key)
        hlc = doc._tick()
        item_id = (doc._me, seq)
        # Between its neighbours' keys (as every key made here is, but for a forged order):
        # its place is ``index``, with no search.
        known = (lo is None or lo < key) and (hi is None or key < hi)
        state.insert(item_id, client_id, value, key, hlc, index if known else None).run = run
        state.last_insert = item_id
        # (Nothing of the document is read after _record: a subscriber may compact it.)
        if child_kind is None:
            doc._record((K.LIST_INSERT, seq, name, hlc, value, key))
        else:
            doc._record((K.LIST_CREATE, seq, name, hlc, child_kind, key))
        return item_id

    def _insert_child(self, index: int, kind: int) -> Any:
        from synckit.core._map import MAX_DEPTH, Child, child_handle, depth_of

        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        if depth_of(self._name) + 1 > MAX_DEPTH:
            raise InvalidValueError(f"containers nest at most {MAX_DEPTH} levels deep")
        item_id = self._insert(index, Child(kind), kind)
        return child_handle(self._doc, (self._name, item_id), kind)

    def insert_map(self, index: int) -> Map:
        """Insert an empty map so that it ends at ``index``; returns its handle."""
        return self._insert_child(index, 1)  # type: ignore[no-any-return]

    def insert_list(self, index: int) -> List:
        """Insert an empty list so that it ends at ``index``; returns its handle."""
        return self._insert_child(index, 2)  # type: ignore[no-any-return]

    def insert_text(self, index: int) -> Text:
        """Insert an empty text so that it ends at ``index``; returns its handle."""
        return self._insert_child(index, 3)  # type: ignore[no-any-return]

    def insert_counter(self, index: int) -> Counter:
        """Insert a counter (at 0) so that it ends at ``index``; returns its handle."""
        return self._insert_child(index, 4)  # type: ignore[no-any-return]

    def insert_set(self, index: int) -> ORSet:
        """Insert an empty set so that it ends at ``index``; returns its handle."""
        return self._insert_child(index, 5)  # type: ignore[no-any-return]

    def _child_at(self, index: int, kind: int) -> Any:
        from synckit.core._map import Child, child_handle

        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        state = self._state()
        if state is None or not -len(state) <= index < len(state):
            raise PositionError(f"list index {index} out of range")
        item_id, item = state.item_at(index)
        value: Any = item.value
        name = K.CHILD_KINDS[kind - 1]
        if type(value) is not Child:
            raise InvalidTypeError(f"item {index} of this list is a value, not a {name}")
        if value.kind != kind:
            raise InvalidTypeError(
                f"item {index} of this list is a {value.kind_name}, not a {name}"
            )
        return child_handle(self._doc, (self._name, item_id), kind)

    def get_map(self, index: int) -> Map:
        """A handle on the map that is item ``index`` (TypeError if the item is not one)."""
        # The common case (a map item at a valid index) in few steps; anything else goes
        # through _child_at, which says what is wrong.
        doc = self._doc
        state = doc._lists.get(self._name)
        if state is not None and type(index) is int:
            order = state._order
            if -len(order) <= index < len(order):
                item_id = state._ids[order[index]]
                value = state._items[item_id].value
                if type(value) is _maps.Child and value.kind == 1:
                    handle = value.handle
                    if handle is None or handle._doc is not doc:
                        handle = value.handle = _maps.Map(doc, (self._name, item_id))
                    return handle  # type: ignore[no-any-return]
        return self._child_at(index, 1)  # type: ignore[no-any-return]

    def get_list(self, index: int) -> List:
        """A handle on the list that is item ``index`` (TypeError if the item is not one)."""
        return self._child_at(index, 2)  # type: ignore[no-any-return]

    def get_text(self, index: int) -> Text:
        """A handle on the text that is item ``index`` (TypeError if the item is not one)."""
        return self._child_at(index, 3)  # type: ignore[no-any-return]

    def get_counter(self, index: int) -> Counter:
        """A handle on the counter that is item ``index`` (TypeError if it is not one)."""
        return self._child_at(index, 4)  # type: ignore[no-any-return]

    def get_set(self, index: int) -> ORSet:
        """A handle on the set that is item ``index`` (TypeError if the item is not one)."""
        return self._child_at(index, 5)  # type: ignore[no-any-return]

    def cursor(self, index: int, bind: Bind = "next") -> Cursor:
        """A :class:`~synckit.Cursor` at ``index`` (0 <= index <= len) that moves with the items.

        ``bind="next"`` binds it to the item at ``index`` (it stays right before that item,
        wherever the item is moved), ``"previous"`` to the one before ``index`` (it stays right
        after it). When its item is deleted the cursor stays where the item was. The cursor's
        ``text`` field names this list. An app keeps a selected todo item or a drop target
        this way while others insert, move and delete items.

        Raises:
            IndexError: ``index`` is outside the list.
        """
        if type(index) is not int:
            raise InvalidTypeError(f"list indices must be int, got {type(index).__name__}")
        if bind not in ("next", "previous"):
            raise InvalidValueError(f"bind must be 'next' or 'previous', got {bind!r}")
        n = len(self)
        if not 0 <= index <= n:
            raise PositionError(f"list position {index} out of range for length {n}")
        at = index if bind == "next" else index - 1
        state = self._state()
        if state is None or not 0 <= at < n:
            return Cursor(self._label(), None, 0, bind)  # the end / the start of the list
        (client, seq), _ = state.item_at(at)
        return Cursor(self._label(), self._doc._clients[client], seq, bind)

    def position(self, cursor: Cursor) -> int | None:
        """Where ``cursor`` is now: an index in this list (0 <= index <= len).

        Works on any replica, for cursors made on any replica. None when this replica does
        not hold the cursor's item yet.

        Raises:
            ValueError: the cursor belongs to another list or text (``cursor.text``).
        """
        if not isinstance(cursor, Cursor):
            raise InvalidTypeError(f"position takes a Cursor, got {type(cursor).__name__}")
        label = self._label()
        if cursor.text != label:
            raise InvalidValueError(f"the cursor belongs to {cursor.text!r}, not list {label!r}")
        state = self._state()
        if cursor.client is None:
            return 0 if cursor.bind == "previous" or state is None else len(state)
        client = self._doc._client_index.get(cursor.client)
        if client is None or state is None:
            return None
        found = state.place_of((client, cursor.seq))
        if found is None:
            return None
        before, visible = found
        return before + 1 if visible and cursor.bind == "previous" else before

    def _label(self) -> str:
        name = self._name
        if type(name) is str:
            return name
        from synckit.core._views import label_of

        return label_of(self._doc, name)

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
        # The neighbours at ``to`` once the item (at ``index`` of the order) is out of it:
        # keys_around(to, exclude=item_id) without the search for the item.
        order = state._order
        lo_i = to - 1 if to - 1 < index else to
        hi_i = to if to < index else to + 1
        lo = order[lo_i][0] if to > 0 else None
        hi = order[hi_i][0] if hi_i < n else None
        key = key_after(lo, hi, 0, state.suffix(doc._client_id, seq))
        hlc = doc._tick()
        # (A key between its new neighbours' keys, as every key made here is but for a
        # forged order: then the item's place in the order is known, no search needed.)
        known = (lo is None or lo < key) and (hi is None or key < hi)
        state.move(item_id, key, hlc, doc._client_id, (index, to) if known else None)
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


# Last: _map imports this module's List (a cycle), and get_map only needs it at call time.
from synckit.core import _map as _maps  # noqa: E402
