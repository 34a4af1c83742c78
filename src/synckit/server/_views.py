"""When a commit carries the JSON views of its documents, for a store that keeps them (the
``views`` table of PostgreSQL: see :class:`~synckit.server.PostgresStore`).

A view is a ``to_json`` of the whole document, serialised on the event loop and parsed into
``jsonb`` by the database, in the commit's transaction: its cost grows with the document, not
with the change. For a small document that is nothing, and its view is written with every
commit that touches it. For a large one it was everything: one keystroke into a 5.5 MB text
cost 20 ms of the loop and 70 ms of the commit (the database parsing and logging 5.5 MB of
JSON), and every other document's acknowledgements waited behind that commit; an author of a
64 MiB document could hold the whole server's commits to about one a second.

So a document of :attr:`~synckit.server.Limits.view_inline_bytes` or more (stored bytes, texts
counted decoded) has its view written at most once per ``max(1 s, view bytes /
view_bytes_per_second)``: a 5.5 MB view every 5.5 s at the default 1 MiB/s. A commit in
between leaves its stored view behind (stale); the hub writes it once its time comes (in
the next commit, or one of its own from :meth:`Hub.tick`) and when the document's room
closes, so the stored view always catches up.

Small documents are no safe harbour either: what a view costs depends on the document's
shape as much as on its bytes (a list of 2,000 small maps, 140 KB stored, took 15 ms to view,
a 240 KB text under 1 ms), and one author of many such documents could put dozens of them in
every commit. So all views together also keep to a share of the event loop
(:attr:`~synckit.server.Limits.view_loop_share`, 10 %): each view's building time is counted
against a budget that refills at that share of wall time (up to :data:`VIEW_BURST` seconds
ahead), and while it is spent, views wait, stale, and are written oldest first as it refills
(a document's own commits go after those).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ViewSchedule"]

#: The shortest time between two views of one large document, in seconds.
MIN_VIEW_INTERVAL = 1.0
#: Seconds of view building the budget holds at most (what idle time saves up).
VIEW_BURST = 0.1


@dataclass(slots=True)
class ViewSchedule:
    """Which documents' views a commit writes now (see the module docstring).

    Args:
        inline_bytes: documents smaller than this (stored bytes) have their view written
            with every commit.
        bytes_per_second: the pace of a large document's views: after one of N bytes, the
            next waits ``max(MIN_VIEW_INTERVAL, N / bytes_per_second)`` seconds.
        loop_share: the share of wall time all views together may take to build.
    """

    inline_bytes: int
    bytes_per_second: int
    loop_share: float = 1.0
    #: Seconds of building views may take now (below 0: owed; none is built until repaid).
    _credit: float = VIEW_BURST
    #: When the credit was last brought up to date (None: never, it is full).
    _at: float | None = None
    #: Large document -> the monotonic time before which its view is not written again.
    _next: dict[str, float] = field(default_factory=dict)
    #: Document -> when its stored view, which lags behind its commits, is due.
    _stale: dict[str, float] = field(default_factory=dict)

    def wants(self, doc_id: str, size: int, now: float) -> bool:
        """Whether the commit going to storage at ``now`` writes the view of ``doc_id`` (of
        ``size`` stored bytes). When it does not, the view is stale until :meth:`due`
        names it."""
        if size >= self.inline_bytes:
            at = self._next.get(doc_id, 0.0)
            if now < at:
                self._stale[doc_id] = at
                return False
        if self._refill(now) > 0:
            return True
        self._stale.setdefault(doc_id, now)  # (waiting since: oldest first)
        return False

    def _refill(self, now: float) -> float:
        """The credit at ``now``."""
        at = self._at
        if at is not None and now > at:
            self._credit = min(VIEW_BURST, self._credit + (now - at) * self.loop_share)
        if at is None or now > at:
            self._at = now
        return self._credit

    def written(
        self, doc_id: str, size: int, view_bytes: int, now: float, seconds: float = 0.0
    ) -> None:
        """A commit at ``now`` carries the view (``view_bytes`` long, ``seconds`` to build)
        of ``doc_id`` (of ``size`` stored bytes)."""
        self._credit -= seconds
        self._stale.pop(doc_id, None)
        if size < self.inline_bytes:
            self._next.pop(doc_id, None)
        else:
            wait = max(MIN_VIEW_INTERVAL, view_bytes / self.bytes_per_second)
            self._next[doc_id] = now + wait

    def is_stale(self, doc_id: str) -> bool:
        """The stored view of ``doc_id`` lags behind its commits."""
        return doc_id in self._stale

    def due(self, now: float) -> list[str]:
        """The documents whose stale view may be written at ``now``, the longest waiting
        first (none while the budget is spent): a view waiting for the budget keeps the
        place it took when it first had to wait."""
        if self._refill(now) <= 0:
            return []
        return [doc_id for doc_id, at in self._stale.items() if at <= now]

    def spent(self, now: float) -> bool:
        """Whether building views must wait for the budget to refill."""
        return self._refill(now) <= 0

    def built(self, seconds: float) -> None:
        """A view was built outside :meth:`wants` (a room closing): it costs the budget."""
        self._credit -= seconds

    def forget(self, doc_id: str) -> None:
        """``doc_id`` is no longer open here (its room closed, or it was deleted)."""
        self._stale.pop(doc_id, None)
        self._next.pop(doc_id, None)

    def __len__(self) -> int:
        """Documents whose stored view is stale."""
        return len(self._stale)
