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
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ViewSchedule"]

#: The shortest time between two views of one large document, in seconds.
MIN_VIEW_INTERVAL = 1.0


@dataclass(slots=True)
class ViewSchedule:
    """Which documents' views a commit writes now (see the module docstring).

    Args:
        inline_bytes: documents smaller than this (stored bytes) have their view written
            with every commit.
        bytes_per_second: the pace of a large document's views: after one of N bytes, the
            next waits ``max(MIN_VIEW_INTERVAL, N / bytes_per_second)`` seconds.
    """

    inline_bytes: int
    bytes_per_second: int
    #: Large document -> the monotonic time before which its view is not written again.
    _next: dict[str, float] = field(default_factory=dict)
    #: Document -> when its stored view, which lags behind its commits, is due.
    _stale: dict[str, float] = field(default_factory=dict)

    def wants(self, doc_id: str, size: int, now: float) -> bool:
        """Whether the commit going to storage at ``now`` writes the view of ``doc_id`` (of
        ``size`` stored bytes). When it does not, the view is stale until :meth:`due`
        names it."""
        if size < self.inline_bytes:
            return True
        at = self._next.get(doc_id, 0.0)
        if now >= at:
            return True
        self._stale[doc_id] = at
        return False

    def written(self, doc_id: str, size: int, view_bytes: int, now: float) -> None:
        """A commit at ``now`` carries the view (``view_bytes`` long) of ``doc_id`` (of
        ``size`` stored bytes)."""
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
        """The documents whose stale view may be written at ``now``."""
        return [doc_id for doc_id, at in self._stale.items() if at <= now]

    def forget(self, doc_id: str) -> None:
        """``doc_id`` is no longer open here (its room closed, or it was deleted)."""
        self._stale.pop(doc_id, None)
        self._next.pop(doc_id, None)

    def __len__(self) -> int:
        """Documents whose stored view is stale."""
        return len(self._stale)
