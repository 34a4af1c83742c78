"""One Redis pub/sub channel shared by server processes: what the access feed and the change
bus both stand on.

A :class:`RedisChannel` publishes in the background (a publish never blocks or fails the
caller; a failure is logged, and whoever depends on the message has a way to catch up), hears
the other servers' messages (each message starts with its sender's id, so a server never hears
its own), and subscribes again after Redis went away, saying so (``on_resubscribed``): messages
may have been missed in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from synckit.server._log import log_event

__all__ = ["RedisChannel"]

# Seconds between attempts to subscribe again after Redis went away.
_RETRY_SECONDS = 0.5


class RedisChannel:
    """Messages of bytes among the servers on one Redis channel.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.
        on_message: called with each other server's message (its bytes after the sender id).
        on_resubscribed: called each time the channel is subscribed again after a failure.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        on_message: Callable[[bytes], None],
        on_resubscribed: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.channel = channel
        #: Tells this server's messages apart from the others'.
        self.origin = secrets.token_hex(8).encode()
        self._on_message = on_message
        self._on_resubscribed = on_resubscribed
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[Any]] = set()

    def publish(self, payload: bytes) -> None:
        """Send ``payload`` to the other servers, in the background (nothing before
        :meth:`start`)."""
        if self._redis is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(self.origin + b"\n" + payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, message: bytes) -> None:
        try:
            await self._redis.publish(self.channel, message)
        except (aioredis.RedisError, OSError) as exc:
            log_event(logging.WARNING, "redis_down", channel=self.channel, why=str(exc))

    async def start(self) -> None:
        """Connect and listen; returns once subscribed (or after the first failed attempt,
        retrying in the background)."""
        if self._task is not None:
            return
        self._redis = aioredis.from_url(self.url)
        self._task = asyncio.get_running_loop().create_task(
            self._listen(), name=f"synckit-redis:{self.channel}"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._ready.wait()

    async def _listen(self) -> None:
        first = True
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                self._ready.set()
                if not first and self._on_resubscribed is not None:
                    self._on_resubscribed()
                first = False
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._heard(message.get("data"))
            except (aioredis.RedisError, OSError) as exc:
                self._ready.set()
                first = False
                log_event(logging.WARNING, "redis_down", channel=self.channel, why=str(exc))
                await asyncio.sleep(_RETRY_SECONDS)

    def _heard(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        origin, sep, payload = data.partition(b"\n")
        if sep and origin != self.origin:
            self._on_message(payload)

    async def aclose(self) -> None:
        """Stop listening, let pending publishes finish, close the connection."""
        task, self._task = self._task, None
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
