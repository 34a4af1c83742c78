"""One Redis pub/sub channel shared by server processes: what the access feed, the change bus
and the presence bus stand on (the last two through :class:`RedisBus`).

A :class:`RedisChannel` publishes in the background, in order, from an outbox: a publish
never blocks or fails the caller, and a message Redis could not take (Redis down, restarting,
or a pooled connection it closed) stays in the outbox and is sent again once Redis answers, so
the other servers still hear it, late. The outbox is bounded (:data:`MAX_OUTBOX` messages; the
oldest are dropped beyond, and logged): whoever depends on the messages must have another way
to catch up, for that and for a sender that dies with messages in its outbox. It hears the
other servers' messages (each message starts with its sender's id, so a server never hears its
own), and subscribes again after Redis went away, saying so (``on_resubscribed``): messages
may have been missed in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

import redis.asyncio as aioredis

from synckit.server._log import log_event

__all__ = ["RedisBus", "RedisChannel"]

# Seconds between attempts to subscribe (or publish) again after Redis went away.
_RETRY_SECONDS = 0.5
#: Messages waiting to be published at most; beyond, the oldest are dropped.
MAX_OUTBOX = 10_000
# Messages published per round trip to Redis at most.
_BATCH = 256

# Seconds aclose waits for the outbox to empty.
_FLUSH_SECONDS = 2.0


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
        self._sender: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._outbox: deque[bytes] = deque()
        self._queued = asyncio.Event()
        #: Messages dropped from a full outbox so far.
        self.dropped = 0

    def publish(self, payload: bytes) -> None:
        """Send ``payload`` to the other servers, in the background, after every message
        published before it (nothing before :meth:`start`)."""
        if self._redis is None:
            return
        if len(self._outbox) >= MAX_OUTBOX:
            self._outbox.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log_event(
                    logging.WARNING, "redis_outbox_full", channel=self.channel, dropped=self.dropped
                )
        self._outbox.append(self.origin + b"\n" + payload)
        self._queued.set()

    async def _send_all(self) -> None:
        """Publish the outbox in order; a message Redis did not take is tried again."""
        failing = False
        while True:
            if not self._outbox:
                self._queued.clear()
                await self._queued.wait()
                continue
            # Up to _BATCH messages per round trip (a pipeline): a backlog left by an outage,
            # or a busy server's stream of commits, goes out at once rather than one message
            # per round trip. A batch that failed part-way is sent again whole: a message
            # heard twice merges nothing new.
            batch = list(islice(self._outbox, _BATCH))
            try:
                if len(batch) == 1:
                    await self._redis.publish(self.channel, batch[0])
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    for message in batch:
                        pipe.publish(self.channel, message)
                    await pipe.execute()
            except (aioredis.RedisError, OSError) as exc:
                if not failing:
                    log_event(logging.WARNING, "redis_down", channel=self.channel, why=str(exc))
                failing = True
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            if failing:
                log_event(logging.INFO, "redis_back", channel=self.channel)
                failing = False
            for _ in range(min(len(batch), len(self._outbox))):
                self._outbox.popleft()

    @property
    def outbox(self) -> int:
        """Messages waiting to be published."""
        return len(self._outbox)

    async def start(self) -> None:
        """Connect and listen; returns once subscribed (or after the first failed attempt,
        retrying in the background)."""
        if self._task is not None:
            return
        self._redis = aioredis.from_url(self.url)
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._listen(), name=f"synckit-redis:{self.channel}")
        self._sender = loop.create_task(
            self._send_all(), name=f"synckit-redis-publish:{self.channel}"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._ready.wait()

    async def _listen(self) -> None:
        subscribed = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "message":
                        self._heard(message.get("data"))
                    elif kind == "subscribe":
                        # Redis confirms the subscription: the first time, and again after
                        # every reconnection, whether this loop made it or the client library
                        # made it on its own (it reconnects and subscribes again without a
                        # word when Redis is back at once). Either way messages may have been
                        # missed; those sent from now on will be heard.
                        self._ready.set()
                        if subscribed and self._on_resubscribed is not None:
                            self._on_resubscribed()
                        subscribed = True
            except (aioredis.RedisError, OSError) as exc:
                self._ready.set()
                subscribed = True
                log_event(logging.WARNING, "redis_down", channel=self.channel, why=str(exc))
                await asyncio.sleep(_RETRY_SECONDS)
            finally:
                # Its connection may have reconnected and subscribed again on its own: close
                # it, or Redis would keep queueing messages for a subscriber nobody reads.
                with contextlib.suppress(aioredis.RedisError, OSError):
                    await pubsub.aclose()

    def _heard(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        origin, sep, payload = data.partition(b"\n")
        if sep and origin != self.origin:
            self._on_message(payload)

    async def aclose(self) -> None:
        """Stop listening, give the outbox up to two seconds to empty, close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sender, self._sender = self._sender, None
        if sender is not None:
            deadline = asyncio.get_running_loop().time() + _FLUSH_SECONDS
            while self._outbox and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


class RedisBus(ABC):
    """A :class:`RedisChannel` with callbacks for every time it subscribes again: what the
    change bus and the presence bus share. A subclass says how to publish and decodes what
    it hears in :meth:`_heard`.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.

    :meth:`start` in the running loop (``SyncServer.start`` does), :meth:`aclose` at the end.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._channel = RedisChannel(url, channel, self._heard, self._resubscribed)
        self._on_subscribed: list[Callable[[], None]] = []

    def on_subscribed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` every time the bus subscribes again: messages may have been
        missed since (and the others may have missed ours)."""
        self._on_subscribed.append(callback)

    async def start(self) -> None:
        await self._channel.start()

    async def aclose(self) -> None:
        await self._channel.aclose()

    def _resubscribed(self) -> None:
        for callback in tuple(self._on_subscribed):
            callback()

    @abstractmethod
    def _heard(self, payload: bytes) -> None:
        """A message another server published on the channel."""
