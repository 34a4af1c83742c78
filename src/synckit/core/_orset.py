"""Observed-remove set state: add wins over a concurrent remove.

Every add is tagged with its own operation id. A remove names the tags of the member that
its author had seen; a concurrent add carries a tag the remove did not name, so the member
stays. Members are JSON scalars, keyed so that ``1``, ``1.0`` and ``True`` stay distinct.
"""

from __future__ import annotations

from collections.abc import Iterator

from synckit.core._ids import ItemId
from synckit.core._values import JSONScalar, scalar_key

__all__ = ["ORSetState"]


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
