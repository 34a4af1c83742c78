"""The map container: string keys whose values merge one by one, and its handle.

Each key is a last-writer-wins register, ordered by ``(hlc, client id)`` like top-level
fields. A key holds a JSON value (replaced whole), a tombstone, or a nested container: a
map, list, text, counter or set whose own contents merge operation by operation.

**Which container is at a key.** A nested container is named by ``(map id, key, epoch)``
(see :data:`~synckit.core._ids.ContainerId`), where ``epoch`` is the id of the register
write that the container's creation replaced (None when the key had never been written).
So two replicas that create a container at the same key from the same state -- typically
both at a fresh key, while apart -- name the *same* container, and everything both put in
it is kept. Creating a container after the key was deleted (or set to a value) gives a new,
empty one: deleting a key really empties it, nothing comes back. If concurrent creations
were of different kinds, the register's winner decides which one the key shows; the other's
contents stay in the document's state but are not shown.

**Edits inside a container that another replica concurrently replaced or deleted** are kept
in the state but not shown: the key's register shows what its last writer put there, on
every replica alike (the rule of Yjs and Automerge too). A list item that is a container
follows its item: deleting the item deletes the container with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from synckit.core import _ops as K
from synckit.core._counter import Counter
from synckit.core._host import DELETED, MAP
from synckit.core._ids import ContainerId, ItemId
from synckit.core._list import List
from synckit.core._orset import ORSet
from synckit.core._text._handle import Text
from synckit.core._values import JSONInput, JSONValue, check_text, copy_json
from synckit.errors import InvalidTypeError, NotFoundError

#: Value types that copy_json hands back as they are, with nothing to check.
_PLAIN_SCALARS = frozenset((type(None), bool, int))

if TYPE_CHECKING:
    from synckit.core._host import Host

__all__ = ["MAX_DEPTH", "Child", "Map", "MapState", "child_handle", "depth_of"]

#: How deep containers may nest (a top-level container is at depth 0).
MAX_DEPTH = 32


class Child:
    """The value of a map key or list item that is a nested container: its kind (1-5, see
    :data:`~synckit.core._ops.CHILD_KINDS`) and, in a map, the epoch that names it."""

    __slots__ = ("epoch", "handle", "kind")

    def __init__(self, kind: int, epoch: ItemId | None = None) -> None:
        self.kind = kind
        self.epoch = epoch
        #: The handle :meth:`List.get_map <synckit.List.get_map>` made for this container
        #: last (handles are immutable, so one can be handed out again).
        self.handle: Any = None

    @property
    def kind_name(self) -> str:
        return K.CHILD_KINDS[self.kind - 1]

    def __repr__(self) -> str:
        return f"Child({self.kind_name}, {self.epoch})"


#: A map key's register: (hlc, writer client id, client index, seq, value or DELETED or Child).
Entry = tuple[int, str, int, int, Any]


class MapState:
    """All keys of one map container, deleted ones included (their writes still compete)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def write(self, key: str, hlc: int, writer: str, c: int, seq: int, value: Any) -> bool:
        """Apply a write; True when it won (the key now shows ``value``)."""
        cur = self.entries.get(key)
        if cur is not None and (hlc, writer) <= (cur[0], cur[1]):
            return False
        self.entries[key] = (hlc, writer, c, seq, value)
        return True

    def visible(self) -> Iterator[tuple[str, Any]]:
        """(key, value or Child) of every key that is not deleted, in key order."""
        for key in sorted(self.entries):
            value = self.entries[key][4]
            if value is not DELETED:
                yield key, value

    def __len__(self) -> int:
        return sum(1 for e in self.entries.values() if e[4] is not DELETED)


def depth_of(cid: ContainerId) -> int:
    """How deep container ``cid`` is nested (0 for a top-level one)."""
    depth = 0
    while type(cid) is tuple:
        cid = cid[0]
        depth += 1
    return depth


def child_handle(doc: Host, cid: ContainerId, kind: int) -> Any:
    """A handle of the right class on the container ``cid`` of child kind ``kind``."""
    return _HANDLES[kind - 1](doc, cid)


class Map:
    """A map of string keys to JSON values and nested containers; each key merges on its own.

    Take one with :meth:`Document.get_map <synckit.Document.get_map>`, or nested with
    :meth:`get_map`, :meth:`List.insert_map <synckit.List.insert_map>`, and so on. Reading a
    key that holds a container gives its JSON view; :meth:`get_map`, :meth:`get_list`,
    :meth:`get_text`, :meth:`get_counter` and :meth:`get_set` give a handle to edit it
    (creating it when the key is unset). See :mod:`synckit.core._map` for the merge rules.
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: ContainerId) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> MapState | None:
        return self._doc._maps.get(self._name)

    def _entry(self, key: str) -> Any:
        state = self._state()
        if state is None:
            return DELETED
        entry = state.entries.get(key)
        return DELETED if entry is None else entry[4]

    # -------------------------------------------------------------- reading

    def get(self, key: str, default: JSONValue = None) -> JSONValue:
        """The JSON value at ``key`` (a nested container's JSON view), or ``default``."""
        value = self._entry(key)
        if value is DELETED:
            return default
        from synckit.core._views import render_value

        return render_value(self._doc, self._name, key, value)

    def __getitem__(self, key: str) -> JSONValue:
        value = self._entry(key)
        if value is DELETED:
            raise NotFoundError(key)
        from synckit.core._views import render_value

        return render_value(self._doc, self._name, key, value)

    def __contains__(self, key: object) -> bool:
        return type(key) is str and self._entry(key) is not DELETED

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __iter__(self) -> Iterator[str]:
        state = self._state()
        return iter([k for k, _ in state.visible()] if state is not None else [])

    def keys(self) -> list[str]:
        """The keys that are set, in sorted order (the same on every replica)."""
        return list(self)

    def to_json(self) -> dict[str, JSONValue]:
        """This map as a plain dict, nested containers as their JSON views."""
        from synckit.core._views import render_map

        return render_map(self._doc, self._name)

    # -------------------------------------------------------------- writing

    def _write(self, key: str, op_kind: int, value: Any, extra: tuple[Any, ...]) -> None:
        doc = self._doc
        if not isinstance(key, str):
            raise InvalidTypeError(f"map keys must be str, got {type(key).__name__}")
        check_text(key, "map key")
        doc._check_kind(self._name, MAP)
        seq = doc._next_seq()
        hlc = doc._tick()
        doc._map_state(self._name).write(key, hlc, doc._client_id, doc._me, seq, value)
        doc._record((op_kind, seq, self._name, key, hlc, *extra))

    def set(self, key: str, value: JSONInput) -> None:
        """Set ``key`` to a JSON value, replacing what it held (a container included).

        Raises:
            TypeError: ``key`` is not a str or ``value`` is not a JSON value (nothing changes).
        """
        doc = self._doc
        state = doc._maps.get(self._name)
        t = type(value)
        if (
            state is not None
            and type(key) is str
            and key in state.entries  # a key written before: checked then
            and (t in _PLAIN_SCALARS or (t is str and value.isascii()))  # type: ignore[union-attr]
        ):
            # The common case - a scalar into a key this map has held - without the checks
            # and copy it does not need (the same steps as _write otherwise).
            seq = doc._next_seq()
            hlc = doc._tick()
            state.write(key, hlc, doc._client_id, doc._me, seq, value)
            doc._record((K.MAP_SET, seq, self._name, key, hlc, value))
            return
        value = copy_json(value, f"value of {key!r}")
        self._write(key, K.MAP_SET, value, (value,))

    def delete(self, key: str) -> None:
        """Delete ``key`` (a tombstone that wins or loses like any write); deleting a key
        that holds a container empties it for good: a container created there later is new.
        """
        self._write(key, K.MAP_DELETE, DELETED, ())

    def _child(self, key: str, kind: int) -> Any:
        if not isinstance(key, str):
            raise InvalidTypeError(f"map keys must be str, got {type(key).__name__}")
        state = self._state()
        entry = state.entries.get(key) if state is not None else None
        name = K.CHILD_KINDS[kind - 1]
        if entry is not None and entry[4] is not DELETED:
            value = entry[4]
            if type(value) is not Child:
                raise InvalidTypeError(f"{key!r} holds a value in this map, not a {name}")
            if value.kind != kind:
                raise InvalidTypeError(f"{key!r} is a {value.kind_name} in this map, not a {name}")
            return child_handle(self._doc, (self._name, key, value.epoch), kind)
        from synckit.errors import InvalidValueError

        if depth_of(self._name) + 1 > MAX_DEPTH:
            raise InvalidValueError(f"containers nest at most {MAX_DEPTH} levels deep")
        epoch = None if entry is None else (entry[2], entry[3])
        self._write(key, K.MAP_CREATE, Child(kind, epoch), (kind, epoch))
        return child_handle(self._doc, (self._name, key, epoch), kind)

    def get_map(self, key: str) -> Map:
        """The map at ``key``, created (empty) when the key is unset or deleted."""
        return self._child(key, 1)  # type: ignore[no-any-return]

    def get_list(self, key: str) -> List:
        """The list at ``key``, created (empty) when the key is unset or deleted."""
        return self._child(key, 2)  # type: ignore[no-any-return]

    def get_text(self, key: str) -> Text:
        """The text at ``key``, created (empty) when the key is unset or deleted."""
        return self._child(key, 3)  # type: ignore[no-any-return]

    def get_counter(self, key: str) -> Counter:
        """The counter at ``key``, created (at 0) when the key is unset or deleted."""
        return self._child(key, 4)  # type: ignore[no-any-return]

    def get_set(self, key: str) -> ORSet:
        """The set at ``key``, created (empty) when the key is unset or deleted."""
        return self._child(key, 5)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Map({self._name!r}, {self.to_json()!r})"


# The handle class of each child kind (1-5), in CHILD_KINDS order.
_HANDLES: tuple[Any, ...] = (Map, List, Text, Counter, ORSet)
