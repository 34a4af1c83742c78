"""Presence across server processes, over Redis pub/sub.

Every server on a :class:`RedisPresenceBus` publishes its presence relays (its local changes
once per tick, and all its entries every third of the presence timeout) and merges the other
servers' (:meth:`PresenceTable.merge_relay`). Redis only carries them: presence is never
stored, in Redis or anywhere else. A lost message is mended by the sender's next full relay;
the entries of a server that stops relaying (it died) time out on the others.
"""

from __future__ import annotations

from collections.abc import Callable

from synckit.server._redis_channel import RedisBus

__all__ = ["RedisPresenceBus"]

#: The Redis channel presence travels on, unless another is given.
DEFAULT_CHANNEL = "synckit:presence"


class RedisPresenceBus(RedisBus):
    """Presence relays shared by every server on the same Redis and channel (see
    :class:`~synckit.server._redis_channel.RedisBus` for start, close and resubscription)."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        super().__init__(url, channel)
        self._listeners: list[Callable[[bytes], None]] = []

    def subscribe(self, listener: Callable[[bytes], None]) -> None:
        """Call ``listener(relay)`` with every relay another server publishes."""
        self._listeners.append(listener)

    def publish(self, relay: bytes) -> None:
        """Send a relay to the other servers, in the background."""
        self._channel.publish(relay)

    def _heard(self, payload: bytes) -> None:
        for listener in tuple(self._listeners):
            listener(payload)
