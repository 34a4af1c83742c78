"""The counter container's handle: a PN-counter whose state is one int per name.

Its state is the document's table of totals (``Document._counters``); the handle reads its
total there and makes increments through the document's :class:`~synckit.core._host.Host`
interface, like every container handle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synckit.core import _ops as K
from synckit.core._host import COUNTER
from synckit.errors import InvalidTypeError

if TYPE_CHECKING:
    from synckit.core._host import Host
    from synckit.core._ids import ContainerId

__all__ = ["Counter"]


class Counter:
    """A PN-counter: concurrent increments and decrements all count.

    Deltas are ints (floats would make the total depend on the order they are added in).
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: ContainerId) -> None:
        self._doc = doc
        self._name = name

    @property
    def value(self) -> int:
        """The sum of every increment and decrement this replica holds."""
        return self._doc._counters.get(self._name, 0)

    def increment(self, n: int = 1) -> None:
        """Add ``n`` (an int; may be negative)."""
        if type(n) is not int:
            raise InvalidTypeError(f"counter deltas must be int, got {type(n).__name__}")
        doc = self._doc
        doc._check_kind(self._name, COUNTER)
        seq = doc._next_seq()
        doc._counter_add(self._name, n)
        doc._record((K.COUNTER_ADD, seq, self._name, n))

    def decrement(self, n: int = 1) -> None:
        """Subtract ``n`` (an int)."""
        if type(n) is not int:
            raise InvalidTypeError(f"counter deltas must be int, got {type(n).__name__}")
        self.increment(-n)

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Counter({self._name!r}, value={self.value})"
