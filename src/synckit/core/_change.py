"""A change as the core holds it once decoded: a gap-free run of one client's operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from synckit.core import _ops as K
from synckit.core._field_columns import FieldWrites
from synckit.core._ops import Op

__all__ = ["Change", "missing"]


class Change:
    """A gap-free run of one client's operations and the versions of others it depends on.

    A change of many field writes decoded column by column keeps those columns
    (:attr:`field_writes`) and builds its :attr:`ops` only when something asks for them: a
    first sync applies the columns as they are (see :mod:`synckit.core._field_columns`).
    """

    __slots__ = ("_ops", "client", "deps", "end", "field_writes", "start")

    def __init__(self, client: int, start: int, deps: dict[int, int], ops: list[Op]) -> None:
        self.client = client
        self.start = start
        self.deps = deps
        self._ops: list[Op] | None = ops
        #: The field writes (and skips) the change is made of, as columns (None: not
        #: decoded as such).
        self.field_writes: FieldWrites | None = None
        last = ops[-1]
        #: The seq of the last operation (the ops are never changed after construction).
        self.end = int(last[1]) + K.op_width(last) - 1

    @classmethod
    def of_field_writes(
        cls, client: int, start: int, deps: dict[int, int], writes: FieldWrites
    ) -> Change:
        """The change of ``writes``, from seq ``start``."""
        ch = cls.__new__(cls)
        ch.client = client
        ch.start = start
        ch.deps = deps
        ch._ops = None
        ch.field_writes = writes
        ch.end = writes.stop - 1
        return ch

    @property
    def ops(self) -> list[Op]:
        """The operations, in seq order."""
        ops = self._ops
        if ops is None:
            ops = self._ops = cast(FieldWrites, self.field_writes).ops()
        return ops

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Change):
            return NotImplemented
        return (self.client, self.start, self.deps, self.end, self.ops) == (
            other.client,
            other.start,
            other.deps,
            other.end,
            other.ops,
        )

    __hash__ = None  # type: ignore[assignment]  # (mutable, as the dataclass it was)

    def __repr__(self) -> str:
        return f"Change(client={self.client}, start={self.start}, deps={self.deps}, ops={self.ops})"


def missing(ch: Change, held: Callable[[int], int]) -> list[tuple[int, int]]:
    """What ``ch`` lacks to apply, where ``held(client)`` is the last seq held of a client:
    ``(client, seq)`` for each dependency not held, and its author's previous seq if not."""
    lacks = [(client, seq) for client, seq in ch.deps.items() if held(client) < seq]
    if held(ch.client) < ch.start - 1:
        lacks.append((ch.client, ch.start - 1))
    return lacks
