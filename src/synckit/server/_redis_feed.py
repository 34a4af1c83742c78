"""Live permission changes across server processes, over Redis pub/sub.

:class:`RedisAccessFeed` is an :class:`~synckit.server.AccessFeed`: a change published on one
server reaches that server's listeners at once (as :class:`LocalAccessFeed` does) and every
other server on the same Redis channel within a Redis round trip. Each message carries the
publishing feed's id, so a server never hears its own changes twice.

Redis is not the truth: a change lost while Redis is down is not replayed. What it stands for
is kept by the publisher's store (:class:`AccessRules` stores the rules before publishing, and
a server reads them all again when it starts), and a token's grants end with the token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from synckit.server._access import AccessChange, AccessListener, LocalAccessFeed
from synckit.server._log import log_event
from synckit.server._redis_channel import RedisChannel

__all__ = ["RedisAccessFeed"]

#: The Redis channel access changes travel on, unless another is given.
DEFAULT_CHANNEL = "synckit:access"


class RedisAccessFeed:
    """An access feed shared by every server that uses the same Redis and channel.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.

    Call :meth:`start` in the running event loop before use (``SyncServer.start`` does) and
    :meth:`aclose` at the end (``SyncServer.aclose`` does).
    """

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self._local = LocalAccessFeed()
        self._channel = RedisChannel(url, channel, self._heard)

    def subscribe(self, listener: AccessListener) -> Callable[[], None]:
        return self._local.subscribe(listener)

    def publish(self, change: AccessChange) -> None:
        """Tell this server's listeners now, and the other servers' through Redis."""
        self._local.publish(change)
        fields = {
            "principal": change.principal,
            "doc_id": change.doc_id,
            "rules_set": change.rules_set,
            "rules": change.rules,
        }
        self._channel.publish(json.dumps(fields).encode())

    async def start(self) -> None:
        """Connect and listen (returns once subscribed, or retries in the background)."""
        await self._channel.start()

    async def aclose(self) -> None:
        """Stop listening and close the connection."""
        await self._channel.aclose()

    def _heard(self, payload: bytes) -> None:
        try:
            fields = json.loads(payload)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            log_event(logging.WARNING, "access_feed_bad_message", channel=self._channel.channel)
            return
        change = AccessChange(
            _str_or_none(fields.get("principal")),
            _str_or_none(fields.get("doc_id")),
            bool(fields.get("rules_set")),
            _str_or_none(fields.get("rules")),
        )
        self._local.publish(change)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
