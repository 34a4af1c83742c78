"""Presence across server processes, over Redis pub/sub.

Every server on a :class:`RedisPresenceBus` publishes its presence relays (its local changes
once per tick, and all its entries every third of the presence timeout) and merges the other
servers' (:meth:`PresenceTable.merge_relay`). Redis only carries them: presence is never
stored, in Redis or anywhere else. A lost message is mended by the sender's next full relay;
the entries of a server that stops relaying (it died) time out on the others.
"""

from __future__ import annotations

from collections.abc import Callable

from synckit.server._redis_channel import RedisChannel

__all__ = ["RedisPresenceBus"]

#: The Redis channel presence travels on, unless another is given.
DEFAULT_CHANNEL = "synckit:presence"


class RedisPresenceBus:
    """Presence relays shared by every server on the same Redis and channel.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.

    :meth:`start` in the running loop (``SyncServer.start`` does), :meth:`aclose` at the end.
    """

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self._channel = RedisChannel(url, channel, self._heard, self._resubscribed)
        self._listeners: list[Callable[[bytes], None]] = []
        self._on_subscribed: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[bytes], None]) -> None:
        """Call ``listener(relay)`` with every relay another server publishes."""
        self._listeners.append(listener)

    def on_subscribed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` every time the bus subscribes again (relays may have been
        missed, and the others may have missed ours)."""
        self._on_subscribed.append(callback)

    def publish(self, relay: bytes) -> None:
        """Send a relay to the other servers, in the background."""
        self._channel.publish(relay)

    async def start(self) -> None:
        await self._channel.start()

    async def aclose(self) -> None:
        await self._channel.aclose()

    def _resubscribed(self) -> None:
        for callback in tuple(self._on_subscribed):
            callback()

    def _heard(self, payload: bytes) -> None:
        for listener in tuple(self._listeners):
            listener(payload)
