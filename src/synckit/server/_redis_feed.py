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

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from synckit.server._access import AccessChange, AccessListener, LocalAccessFeed
from synckit.server._log import log_event

__all__ = ["RedisAccessFeed"]

#: The Redis channel access changes travel on, unless another is given.
DEFAULT_CHANNEL = "synckit:access"
# Seconds between attempts to subscribe again after Redis went away.
_RETRY_SECONDS = 1.0


class RedisAccessFeed:
    """An access feed shared by every server that uses the same Redis and channel.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.

    Call :meth:`start` in the running event loop before use (``SyncServer.start`` does) and
    :meth:`aclose` at the end (``SyncServer.aclose`` does).
    """

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self.url = url
        self.channel = channel
        #: Tells this feed's own messages apart from other servers'.
        self.origin = secrets.token_hex(8)
        self._local = LocalAccessFeed()
        self._redis: Any = None
        self._listener_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[Any]] = set()

    def subscribe(self, listener: AccessListener) -> Callable[[], None]:
        return self._local.subscribe(listener)

    def publish(self, change: AccessChange) -> None:
        """Tell this server's listeners now, and the other servers' through Redis."""
        self._local.publish(change)
        if self._redis is None:
            return
        message = json.dumps(
            {
                "origin": self.origin,
                "principal": change.principal,
                "doc_id": change.doc_id,
                "rules_set": change.rules_set,
                "rules": change.rules,
            }
        )
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._redis.publish(self.channel, message)
        except (aioredis.RedisError, OSError) as exc:
            log_event(logging.WARNING, "access_feed_down", channel=self.channel, why=str(exc))

    async def start(self) -> None:
        """Connect and listen; returns once subscribed (or after the first failed attempt,
        retrying in the background)."""
        if self._listener_task is not None:
            return
        self._redis = aioredis.from_url(self.url)
        self._listener_task = asyncio.get_running_loop().create_task(
            self._listen(), name="synckit-access-feed"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._ready.wait()

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._heard(message.get("data"))
            except (aioredis.RedisError, OSError) as exc:
                self._ready.set()
                log_event(logging.WARNING, "access_feed_down", channel=self.channel, why=str(exc))
                await asyncio.sleep(_RETRY_SECONDS)

    def _heard(self, data: object) -> None:
        try:
            fields = json.loads(data if isinstance(data, str | bytes) else b"")
            if not isinstance(fields, dict) or fields.get("origin") == self.origin:
                return
            change = AccessChange(
                _str_or_none(fields.get("principal")),
                _str_or_none(fields.get("doc_id")),
                bool(fields.get("rules_set")),
                _str_or_none(fields.get("rules")),
            )
        except ValueError:
            log_event(logging.WARNING, "access_feed_bad_message", channel=self.channel)
            return
        self._local.publish(change)

    async def aclose(self) -> None:
        """Stop listening and close the connection."""
        task, self._listener_task = self._listener_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pending in list(self._pending):
            with contextlib.suppress(Exception):
                await pending
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
