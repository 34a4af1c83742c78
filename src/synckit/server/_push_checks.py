"""What the server checks in a push before merging it: authorship, clocks, equivocation,
changes that would wait.

These run on the pushed bytes and the room's document, before :meth:`Document.apply`, so a
refused push changes nothing:

* **Authorship.** A connection writes new operations only under its own client id (the one
  its Hello named, which belongs to its principal). Operations under other ids are accepted
  only when the server holds them already (a harmless repeat); anything new under another id
  is ``NOT_AUTHOR``. The operations of other clients that a replica holds and the server lacks
  are for their authors to send (clients push only their own).
* **Clocks.** No operation may carry a hybrid logical clock further ahead of the server's wall
  clock than :attr:`Limits.max_clock_ahead`: ``CLOCK_SKEW``, retryable once the server's clock
  has caught up (``retry_after_ms``). This bounds how far any participant can push the
  last-writer-wins clock of a document, and keeps every clock far below the largest one the
  format can carry, so no write can make a document unwritable.
* **Equivocation.** Where the push repeats seqs the server holds, its operations must be the
  ones held: two different operations under one client id and seq are ``EQUIVOCATION``, naming
  the id (it was reused: a replica restored from an old copy of its store, say).
* **Waiting changes.** Changes whose dependencies the server does not hold wait inside the
  document (and in its log) until they arrive: with several servers, a client may push to
  one what depends on changes that reached it through another. A merge that may give them
  what they wait for looks at all of them again, so hostile changes waiting on an honest
  writer's next seqs would make its every push dear for good: at most
  :attr:`Limits.max_waiting_changes` may wait in a document, and a push that would add more
  is ``TOO_MANY``, retryable.
"""

from __future__ import annotations

from synckit.core import ChangeReview, VersionVector
from synckit.protocol import ErrorCode

__all__ = ["PushRefusedError", "PushScreen", "clock_limit", "push_screen"]

# When a push whose changes would wait is refused: by then the server may have caught up.
_WAITING_RETRY_MS = 1000

# An HLC is wall-clock milliseconds shifted left by this many bits, plus a counter.
_HLC_SHIFT = 16


class PushRefusedError(Exception):
    """A push is refused: the error code, a message, and when retrying makes sense."""

    def __init__(self, code: ErrorCode, message: str, retry_after_ms: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


def clock_limit(now: float, max_ahead: float) -> int:
    """The largest hybrid logical clock accepted at Unix time ``now``."""
    return (int((now + max_ahead) * 1000) << _HLC_SHIFT) | ((1 << _HLC_SHIFT) - 1)


class PushScreen:
    """The screen (see :meth:`synckit.Document.apply`) of a push by a connection writing as
    ``writer``, with clocks up to ``limit``: raises :class:`PushRefusedError`.

    It also counts the seqs the push's changes cover (:attr:`width`): when nothing waits
    before or after the merge and the document's version grew by exactly that many, every
    pushed operation was new and applied, once, and the pushed bytes are the delta itself
    (the hub stores and broadcasts them instead of encoding the delta again: see
    :attr:`review`), and what grew in the version is :attr:`tops`.
    """

    __slots__ = ("limit", "max_waiting", "review", "tops", "waiting", "width", "writer")

    def __init__(self, writer: str, limit: int, waiting: int = 0, max_waiting: int = 0) -> None:
        self.writer = writer
        self.limit = limit
        #: Changes waiting in the document already, and how many may (0: no limit).
        self.waiting = waiting
        self.max_waiting = max_waiting
        #: Seqs covered by the push's changes, summed over them (set by the call).
        self.width = 0
        #: Per client in the push, the last seq its changes reach (set by the call).
        self.tops: dict[str, int] = {}
        #: What the call was shown (None until then).
        self.review: ChangeReview | None = None

    def grown(self) -> bytes:
        """:attr:`tops` as an encoded version vector (what grew, when every pushed
        operation applied)."""
        tops = self.tops
        if len(tops) == 1:
            [(client, seq)] = tops.items()
            return VersionVector.encode_entry(client, seq)
        return VersionVector._trusted(dict(tops)).encode()

    def __call__(self, review: ChangeReview) -> None:
        self.review = review
        writer = self.writer
        overlaps = False
        top_clock = 0
        width = 0
        tops = self.tops
        for span in review.changes:
            client = span.client
            have = review.held(client)
            if tops.get(client, 0) < span.end:
                tops[client] = span.end
            if client != writer and span.end > have:
                raise PushRefusedError(
                    ErrorCode.NOT_AUTHOR,
                    f"the push holds new operations under client id {client!r} (seqs "
                    f"{max(span.start, have + 1)}-{span.end}), but this connection writes as "
                    f"{writer!r}; send only your own operations. Nothing stored",
                )
            if span.start <= have:
                overlaps = True
            width += span.end - span.start + 1
            top_clock = max(top_clock, span.max_clock)
        self.width = width
        unused = review.unused_client()
        if unused is not None:
            raise PushRefusedError(
                ErrorCode.BAD_CHANGES,
                f"the push's client table names {unused!r}, which is neither the author nor a "
                "dependency of any of its changes (every id named is kept with the document "
                "for good). Nothing stored",
            )
        limit = self.limit
        if top_clock > limit:
            ahead_ms = (top_clock >> _HLC_SHIFT) - (limit >> _HLC_SHIFT)
            raise PushRefusedError(
                ErrorCode.CLOCK_SKEW,
                f"an operation's clock lies {ahead_ms / 1000:.0f} s beyond what the server "
                "accepts (its wall clock plus the allowed lead); check the system clock of the "
                "device that made it. Nothing stored",
                retry_after_ms=ahead_ms,
            )
        if self.max_waiting:
            new = review.waiting()
            if new and self.waiting + new > self.max_waiting:
                raise PushRefusedError(
                    ErrorCode.TOO_MANY,
                    f"{new} of the pushed changes would wait for operations this server does "
                    f"not hold (their dependencies), and the document has {self.waiting} "
                    f"waiting already, at most {self.max_waiting} (max_waiting_changes). "
                    "Nothing stored; send them again after retry_after_ms",
                    retry_after_ms=_WAITING_RETRY_MS,
                )
        if overlaps:
            found = review.equivocation()
            if found is not None:
                raise PushRefusedError(
                    ErrorCode.EQUIVOCATION,
                    f"client id {found.client!r} sent an operation at seq {found.seq} that "
                    "differs from the one the server holds under that id and seq: the id was "
                    "reused (a store restored from an old copy, or copied to another device); "
                    "open the document with a fresh store. Nothing stored",
                )


def push_screen(writer: str, limit: int, waiting: int = 0, max_waiting: int = 0) -> PushScreen:
    """The screen of a push by a connection writing as ``writer``, with clocks up to
    ``limit``, into a document where ``waiting`` changes wait already and at most
    ``max_waiting`` may (see :class:`PushScreen`)."""
    return PushScreen(writer, limit, waiting, max_waiting)
