"""What the hub tells an observer as it works (for metrics, see :mod:`._metrics`).

The hub calls these methods on its hot paths (every push, every ack), so an observer must do
O(1) work in each and never raise. :class:`HubObserver` itself does nothing: it is the default.
"""

from __future__ import annotations

from synckit.errors import AuthError
from synckit.protocol import ErrorCode

__all__ = ["NO_OBSERVER", "HubObserver"]


class HubObserver:
    """Receives the hub's events; every method here does nothing (subclass to count)."""

    __slots__ = ()

    def pushed(self, nbytes: int) -> None:
        """A push of ``nbytes`` bytes of changes was received (counted once, even when it
        waits for its document to load)."""

    def acked(self, seconds: float) -> None:
        """An Ack was queued, ``seconds`` after the server took its push (storage included)."""

    def broadcast(self, frames: int, nbytes: int) -> None:
        """A change was queued for ``frames`` other subscribers, ``nbytes`` bytes in all."""

    def presence_sent(self, frames: int, nbytes: int) -> None:
        """A presence flush queued ``frames`` frames, ``nbytes`` bytes in all."""

    def refused(self, code: ErrorCode) -> None:
        """An error with this code was sent to a client."""

    def auth_failed(self, error: AuthError) -> None:
        """A token was refused (any way in: Hello, JSON view, admin endpoint, metrics)."""

    def compacted(self, nbytes: int) -> None:
        """A snapshot of ``nbytes`` bytes replaced the log of a document in storage."""

    def snapshot_loaded(self, tagged: bool) -> None:
        """A document was rebuilt from a stored snapshot: ``tagged``, its tag verified under
        the server's key (the fast path); otherwise every check ran."""


#: The observer of a hub built without one: stateless, so one instance serves every hub.
NO_OBSERVER = HubObserver()
