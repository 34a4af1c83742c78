"""Looking at received changes before they apply: who wrote what, with which clocks, and
whether any of it contradicts what the document already holds.

``Document.apply(data, screen=...)`` decodes the changes, then calls ``screen`` with a
:class:`ChangeReview` before anything in the document changes; whatever the screen raises
refuses the whole set and leaves the document exactly as it was. A server uses it to refuse
operations written under someone else's client id, clocks too far ahead, and equivocation —
all without decoding a push twice.

Equivocation is two different operations under one client id and seq. It is found where the
document can tell: at seqs it holds, comparing each incoming operation with the held one. Two
kinds of seq cannot be compared and are passed over: a field write that lost to a later one
(the document keeps only its seq, as a SKIP) and a deleted character (the document keeps only
its position); so are seqs sent as SKIPs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synckit.core import _ops as K
from synckit.core._change import Change, missing
from synckit.core._ops import Op, op_width

if TYPE_CHECKING:
    from synckit.core._document import Document

__all__ = ["ChangeReview", "ChangeSummary", "Equivocation", "Screen"]

# Stands for the content of a deleted character in a text's history (see _text._history).
_DELETED_CHAR = "\x00"


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """One received change: its author's client id, the seqs it covers, its largest clock
    (0 when none of its operations carries one)."""

    client: str
    start: int
    end: int
    max_clock: int


@dataclass(frozen=True, slots=True)
class Equivocation:
    """The first seq at which received changes contradict the document under ``client``."""

    client: str
    seq: int


@dataclass(slots=True)
class ChangeReview:
    """What a screen sees of the changes being applied (nothing has changed yet)."""

    _doc: Document
    _changes: list[Change]
    #: The parsed change set (a ``ChangeSet`` message), for :meth:`canonical`.
    _message: Any
    #: Every received change, in the order received.
    changes: list[ChangeSummary] = field(init=False)

    def __post_init__(self) -> None:
        names = self._doc._clients
        self.changes = [
            ChangeSummary(
                names[ch.client],
                ch.start,
                ch.end,
                _max_clock(ch.ops) if ch.field_writes is None else ch.field_writes.top,
            )
            for ch in self._changes
        ]

    def waiting(self) -> int:
        """How many of the changes would wait inside the document for operations it does
        not hold (their author's earlier ones, or a dependency), taken in order: each one
        that could apply counts as held for those after it."""
        vv = self._doc._vv
        changes = self._changes
        if len(changes) == 1:  # (most pushes: one change, its author's next, nothing lacking)
            [ch] = changes
            return 1 if missing(ch, vv.__getitem__) else 0
        reached: dict[int, int] = {}

        def held(client: int) -> int:
            return max(vv[client], reached.get(client, 0))

        count = 0
        for ch in changes:
            if missing(ch, held):
                count += 1
            elif ch.end > held(ch.client):
                reached[ch.client] = ch.end
        return count

    def unused_client(self) -> str | None:
        """The first client id of the change set's table that is neither the author nor a
        dependency of any of its changes (None: every one is). A writer names a client
        only when it writes something of it, and a change refers only to its own items
        and its dependencies', so honest change sets have none; but every id a table names
        is added to the document for good."""
        table = self._message.clients
        changes = self._changes
        if len(table) == 1 and changes:
            return None  # (the author of every change)
        names = self._doc._clients
        used = {names[ch.client] for ch in changes}
        for ch in changes:
            if ch.deps:
                used.update(map(names.__getitem__, ch.deps))
        if len(used) == len(table):
            return None
        return str(next(c for c in table if c not in used))

    def held(self, client: str) -> int:
        """The last seq of ``client`` the document holds (0: none)."""
        index = self._doc._client_index.get(client)
        return 0 if index is None else self._doc._vv[index]

    def canonical(self) -> bytes:
        """The received bytes as :func:`~synckit.core.canonical_changes` writes them, from
        the parse the apply already made (so a screen that keeps the review can pass the
        changes on without parsing them again)."""
        msg = self._message
        msg.DiscardUnknownFields()  # the apply's own parse, used for nothing else now
        return bytes(msg.SerializeToString())

    def equivocation(self) -> Equivocation | None:
        """The first (client, seq) where a received operation differs from the held one
        (call it from the screen: afterwards the document may have changed)."""
        doc = self._doc
        vv = doc._vv
        for ch in self._changes:
            have = vv[ch.client] if ch.client < len(vv) else 0
            if ch.start > have:
                continue
            held = dict(_units(ch.client, _held_ops(doc, ch.client, ch.start, min(ch.end, have))))
            for seq, unit in _units(ch.client, ch.ops):
                if seq > have:
                    break
                mine = held.get(seq)
                if mine is not None and unit is not None and mine != unit:
                    return Equivocation(doc._clients[ch.client], seq)
        return None


#: Called with the review of received changes; raises to refuse them all.
Screen = Callable[[ChangeReview], None]


def _max_clock(ops: list[Op]) -> int:
    top = 0
    for op in ops:
        kind = op[0]
        if kind in (K.FIELD_SET, K.FIELD_DELETE, K.LIST_INSERT, K.LIST_CREATE):
            clock = op[3]
        elif kind in (K.LIST_MOVE, K.MAP_SET, K.MAP_DELETE, K.MAP_CREATE):
            clock = op[4]
        else:
            continue
        top = max(top, clock)
    return int(top)


def _held_ops(doc: Document, c: int, first: int, last: int) -> list[Op]:
    """Client ``c``'s held operations covering seqs ``first`` to ``last``."""
    from synckit.core._changes import _ops_since

    return [op for op in _ops_since(doc, c, first - 1) if op[1] <= last]


def _units(client: int, ops: list[Op]) -> Iterator[tuple[int, Any]]:
    """Each seq an operation covers, with what identifies the operation at that seq (None
    where it cannot be compared: a SKIP, a deleted character)."""
    for op in ops:
        kind, seq = op[0], op[1]
        if kind == K.SKIP:
            for k in range(op_width(op)):
                yield seq + k, None
        elif kind == K.TEXT_INSERT:
            # A run may be cut or joined differently on each side; within a run each
            # character's left origin is the one before it. (Right origins are not compared:
            # a joined run keeps only one.)
            _, _, name, left, _right, content = op
            for k, char in enumerate(content):
                origin = left if k == 0 else (client, seq + k - 1)
                unit = None if char == _DELETED_CHAR else (kind, name, origin, char)
                yield seq + k, unit
        elif kind == K.TEXT_DELETE:
            _, _, name, target_client, target_first, count = op
            step = 1 if count > 0 else -1
            for k in range(abs(count)):
                yield seq + k, (kind, name, target_client, target_first + k * step)
        else:
            yield seq, (kind, *op[2:])
