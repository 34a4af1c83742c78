"""The internal interface between a document and the modules that do its jobs.

Container handles (``_counter.py``, ``_orset.py``, ``_list.py``, ``_text/_handle.py``) are
objects applications hold; they use their document only through :class:`Host`, which
``Document`` implements. mypy checks both sides: that ``Document``
provides every member, and that a handle (typed ``Host``) uses nothing else.

The document's own parts (``_changes.py``, ``_remote.py``, ``_snapshot.py``,
``_compact.py``) are different: their functions serve as ``Document``'s methods and work on
its private state directly, as methods would.

This module also holds the markers every part reads in the document's state: the kind
names, the tombstone of a deleted field, and the shared empty tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from synckit.core._events import Subscriber, TextEdit
    from synckit.core._ids import ContainerId, ItemId
    from synckit.core._list import ListState
    from synckit.core._map import MapState
    from synckit.core._ops import Op
    from synckit.core._orset import ORSetState
    from synckit.core._text import TextState

__all__ = [
    "COUNTER",
    "DELETED",
    "EMPTY",
    "FIELD",
    "LIST",
    "MAP",
    "NONE",
    "NO_DEPS",
    "SET",
    "TEXT",
    "Host",
]

# Kind names, for error messages and for the order in which a name used by several kinds
# concurrently is shown by to_json (later wins).
FIELD, COUNTER, SET, LIST, TEXT, MAP = "field", "counter", "set", "list", "text", "map"

#: The value of a deleted field (a tombstone).
DELETED: Any = object()
#: Shared empty containers of documents that have none (read-only, so never mutated).
EMPTY: Any = MappingProxyType({})
NONE: Any = ()
#: Shared by every checkpoint without dependencies (never mutated).
NO_DEPS: dict[int, int] = {}


class Host(Protocol):
    """What a container handle may use of its document.

    **State.** Each kind's container states by name (read only; a name is absent until
    something is written to it), and for each kind the state to write to, created on the
    first write: ``_counter_add(name, delta)``, ``_set_state(name)``, ``_list_state(name)``,
    ``_text_state(name)``.

    **Clients.** ``_me`` is this replica's client index and ``_client_id`` its id;
    ``_clients`` are the client ids by index and ``_client_index`` the reverse (read only).

    **A local edit**, in this order: ``_check_kind(name, kind)`` claims the name for the
    handle's kind (TypeError if it is another kind here); ``_next_seq()`` reserves the seq
    of the operation; ``_tick()`` gives a hybrid logical clock value, for operations that
    carry one; the handle changes the state; then ``_record(op)`` logs a counter, set or
    list operation for ``changes``, makes its dependencies name the items it refers to,
    advances the version and tells subscribers.

    **Text** keeps its own history (a :class:`~synckit.core._text.TextState` records its
    operations), so instead of ``_record`` a text handle calls ``_cover(seq, refs)`` with
    the characters of other clients its edit refers to (reading ``_checkpoints[_me]`` to
    skip it when typing on), sets ``_vv[_me]`` to the last seq
    its edit used and, when ``_subscribers`` is not empty, calls ``_emit`` with the edit.
    These are plain attributes rather than one method because typing is the hottest path.
    """

    @property
    def _counters(self) -> Mapping[ContainerId, int]: ...
    @property
    def _sets(self) -> Mapping[ContainerId, ORSetState]: ...
    @property
    def _lists(self) -> Mapping[ContainerId, ListState]: ...
    @property
    def _texts(self) -> Mapping[ContainerId, TextState]: ...
    @property
    def _maps(self) -> Mapping[ContainerId, MapState]: ...
    def _counter_add(self, name: ContainerId, delta: int) -> None: ...
    def _set_state(self, name: ContainerId) -> ORSetState: ...
    def _list_state(self, name: ContainerId) -> ListState: ...
    def _text_state(self, name: ContainerId) -> TextState: ...
    def _map_state(self, name: ContainerId) -> MapState: ...

    @property
    def _me(self) -> int: ...
    @property
    def _client_id(self) -> str: ...
    @property
    def _clients(self) -> Sequence[str]: ...
    @property
    def _client_index(self) -> Mapping[str, int]: ...

    def _check_kind(self, name: object, kind: str) -> ContainerId: ...
    def _next_seq(self) -> int: ...
    def _tick(self) -> int: ...
    def _record(self, op: Op) -> None: ...
    def _cover(self, seq: int, refs: Iterable[ItemId]) -> None: ...

    @property
    def _vv(self) -> list[int]: ...

    #: Whoever raises an entry of ``_vv`` adds its client here (see ``Document.version``).
    @property
    def _version_stale(self) -> set[int]: ...

    @property
    def _checkpoints(self) -> Sequence[list[tuple[int, dict[int, int]]]]: ...
    @property
    def _subscribers(self) -> Sequence[Subscriber]: ...
    def _emit(
        self,
        local: bool,
        names: Iterable[ContainerId],
        text_edits: dict[ContainerId, tuple[TextEdit, ...]] | None = None,
    ) -> None: ...
