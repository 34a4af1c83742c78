"""The set container: observed-remove set state, where add wins over a concurrent remove,
and its handle.

Every add is tagged with its own operation id. A remove names the tags of the member that
its author had seen; a concurrent add carries a tag the remove did not name, so the member
stays. Members are JSON scalars, keyed so that ``1``, ``1.0`` and ``True`` stay distinct.

:class:`ORSetState` is one set's state (the document keeps one per name); :class:`ORSet` is
the handle applications use, which talks to the document through
:class:`~synckit.core._host.Host`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from synckit.core import _ops as K
from synckit.core._host import SET
from synckit.core._ids import ItemId
from synckit.core._values import JSONScalar, check_scalar, scalar_key
from synckit.errors import NotFoundError

if TYPE_CHECKING:
    from synckit.core._host import Host
    from synckit.core._ids import ContainerId

__all__ = ["ORSet", "ORSetState"]


class ORSetState:
    """The live members of one set container and the add tags keeping each alive."""

    __slots__ = ("_members",)

    def __init__(self) -> None:
        self._members: dict[tuple[str, JSONScalar], tuple[JSONScalar, set[ItemId]]] = {}

    def add(self, member: JSONScalar, tag: ItemId) -> None:
        key = scalar_key(member)
        entry = self._members.get(key)
        if entry is None:
            self._members[key] = (member, {tag})
        else:
            entry[1].add(tag)

    def remove(self, member: JSONScalar, tags: tuple[ItemId, ...]) -> None:
        key = scalar_key(member)
        entry = self._members.get(key)
        if entry is None:
            return
        entry[1].difference_update(tags)
        if not entry[1]:
            del self._members[key]

    def tags(self, member: JSONScalar) -> tuple[ItemId, ...]:
        """The tags a local remove of ``member`` must name (empty when absent)."""
        entry = self._members.get(scalar_key(member))
        return tuple(sorted(entry[1])) if entry else ()

    def __contains__(self, member: JSONScalar) -> bool:
        return scalar_key(member) in self._members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[JSONScalar]:
        """Members in a replica-independent order (by type, then value)."""
        for key in sorted(self._members, key=_sort_key):
            yield self._members[key][0]


def _sort_key(key: tuple[str, JSONScalar]) -> tuple[str, JSONScalar]:
    return (key[0], 0) if key[1] is None else key


class ORSet:
    """An observed-remove set of JSON scalars; an add wins over a concurrent remove."""

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: ContainerId) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> ORSetState | None:
        return self._doc._sets.get(self._name)

    def add(self, member: JSONScalar) -> None:
        """Add ``member`` (None, bool, int, finite float or str)."""
        member = check_scalar(member)
        doc = self._doc
        doc._check_kind(self._name, SET)
        seq = doc._next_seq()
        doc._set_state(self._name).add(member, (doc._me, seq))
        doc._record((K.SET_ADD, seq, self._name, member))

    def remove(self, member: JSONScalar) -> None:
        """Remove ``member``; ``KeyError`` when it is not in the set."""
        member = check_scalar(member)
        state = self._state()
        if state is None or member not in state:
            raise NotFoundError(member)
        self._remove(state, member)

    def discard(self, member: JSONScalar) -> None:
        """Remove ``member`` if present."""
        member = check_scalar(member)
        state = self._state()
        if state is not None and member in state:
            self._remove(state, member)

    def _remove(self, state: ORSetState, member: JSONScalar) -> None:
        doc = self._doc
        tags = state.tags(member)
        seq = doc._next_seq()
        state.remove(member, tags)
        doc._record((K.SET_REMOVE, seq, self._name, member, tags))

    def __contains__(self, member: object) -> bool:
        state = self._state()
        try:
            return state is not None and check_scalar(member) in state
        except TypeError:
            return False

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __iter__(self) -> Iterator[JSONScalar]:
        state = self._state()
        return iter(list(state) if state is not None else [])

    def __repr__(self) -> str:
        return f"ORSet({self._name!r}, {list(self)!r})"
