"""What the changes planned so far in one apply created: :class:`Created`, which the
reference checks of :mod:`synckit.core._remote` (and :mod:`synckit.core._list_merge`) ask
about items that are not in the document yet."""

from __future__ import annotations

from bisect import bisect_right

from synckit.core._ids import ContainerId, ItemId

__all__ = ["Created"]


class Created:
    """Items (text characters, list items) created by the changes planned so far in one apply.

    Per (container name, client, whether text): first and last seqs of the runs created, in
    seq order (a client's changes are planned in seq order), searched by bisection. Text
    characters and list items are kept apart: a hostile change set may use one name for both
    a list and a text, and a text op must never be checked against a list item of that name
    (or the reverse) - the check would pass and the op would then find no such character.
    """

    __slots__ = ("_added", "_runs")

    def __init__(self) -> None:
        self._runs: dict[tuple[ContainerId, int, bool], tuple[list[int], list[int]]] = {}
        self._added: list[tuple[ContainerId, int, bool]] = []

    def add(self, name: ContainerId, client: int, first: int, last: int, *, text: bool) -> None:
        key = (name, client, text)
        runs = self._runs.get(key)
        if runs is None:
            runs = self._runs[key] = ([], [])
        runs[0].append(first)
        runs[1].append(last)
        self._added.append(key)

    @property
    def added(self) -> list[tuple[ContainerId, int, bool]]:
        """The keys of the runs added, in order: whoever appends to :meth:`runs` lists
        appends the key here too (so that :meth:`rollback` finds it)."""
        return self._added

    def runs(self, key: tuple[ContainerId, int, bool]) -> tuple[list[int], list[int]]:
        """The first and last seqs of the runs created so far for ``(container name,
        client, whether text)`` (made empty when there are none yet), to append to."""
        runs = self._runs.get(key)
        if runs is None:
            runs = self._runs[key] = ([], [])
        return runs

    def mark(self) -> int:
        """A point to :meth:`rollback` to."""
        return len(self._added)

    def rollback(self, mark: int) -> None:
        """Forget every run added since ``mark``."""
        while len(self._added) > mark:
            runs = self._runs[self._added.pop()]
            runs[0].pop()
            runs[1].pop()

    def holds_run(self, name: ContainerId, client: int, lo: int, hi: int) -> bool:
        """Whether one run of text characters created so far holds every seq ``lo..hi`` of
        ``client``."""
        runs = self._runs.get((name, client, True))
        if runs is None:
            return False
        i = bisect_right(runs[0], lo) - 1
        return i >= 0 and hi <= runs[1][i]

    def holds(self, name: ContainerId, item: ItemId, *, text: bool) -> bool:
        """Whether ``item`` was created so far, as a text character (``text``) or a list item."""
        runs = self._runs.get((name, item[0], text))
        if runs is None:
            return False
        i = bisect_right(runs[0], item[1]) - 1
        return i >= 0 and item[1] <= runs[1][i]
