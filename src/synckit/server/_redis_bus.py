"""Document changes across server processes on shared storage, over Redis pub/sub.

Every server on a :class:`RedisChangeBus` publishes the changes it committed (after the commit:
storage is the truth, Redis only makes the others hear of it sooner), and merges what the
others publish into the documents it has open, telling their subscribers
(:meth:`Hub.merge_remote`). A message can be lost (Redis restarting, a server's subscription
dropping): whenever the bus subscribes again, the server reads each open document from storage
and merges it, so its clients catch up by version vector on what they missed.
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

__all__ = ["RedisChangeBus"]

#: The Redis channel changes travel on, unless another is given.
DEFAULT_CHANNEL = "synckit:changes"
# Seconds between attempts to subscribe again after Redis went away.
_RETRY_SECONDS = 0.5

#: ``listener(doc_id, changes)``: changes another server committed.
ChangeListener = Callable[[str, bytes], None]


class RedisChangeBus:
    """Committed changes shared by every server on the same Redis and channel.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        channel: the pub/sub channel.

    :meth:`start` in the running loop (``SyncServer.start`` does), :meth:`aclose` at the end.
    """

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self.url = url
        self.channel = channel
        #: Tells this server's messages apart from the others'.
        self.origin = secrets.token_hex(8).encode()
        self._listeners: list[ChangeListener] = []
        self._on_subscribed: list[Callable[[], None]] = []
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[Any]] = set()

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(doc_id, changes)`` with every change another server publishes."""
        self._listeners.append(listener)

    def on_subscribed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` every time the bus (re)subscribes: messages may have been
        missed since the last time, so read from storage what is open."""
        self._on_subscribed.append(callback)

    def publish(self, doc_id: str, changes: bytes) -> None:
        """Tell the other servers that ``changes`` of ``doc_id`` are committed."""
        if self._redis is None:
            return
        message = self.origin + b"\n" + doc_id.encode() + b"\n" + changes
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, message: bytes) -> None:
        try:
            await self._redis.publish(self.channel, message)
        except (aioredis.RedisError, OSError) as exc:
            # The others catch up from storage when their subscription is back.
            log_event(logging.WARNING, "change_bus_down", channel=self.channel, why=str(exc))

    async def start(self) -> None:
        """Connect and listen; returns once subscribed (or after the first failed attempt,
        retrying in the background)."""
        if self._task is not None:
            return
        self._redis = aioredis.from_url(self.url)
        self._task = asyncio.get_running_loop().create_task(
            self._listen(), name="synckit-change-bus"
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
                if not first:
                    for callback in tuple(self._on_subscribed):
                        callback()
                first = False
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._heard(message.get("data"))
            except (aioredis.RedisError, OSError) as exc:
                self._ready.set()
                first = False
                log_event(logging.WARNING, "change_bus_down", channel=self.channel, why=str(exc))
                await asyncio.sleep(_RETRY_SECONDS)

    def _heard(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        origin, _, rest = data.partition(b"\n")
        if origin == self.origin:
            return
        doc, sep, changes = rest.partition(b"\n")
        if not sep:
            log_event(logging.WARNING, "change_bus_bad_message", channel=self.channel)
            return
        doc_id = doc.decode("utf-8", "replace")
        for listener in tuple(self._listeners):
            listener(doc_id, changes)

    async def aclose(self) -> None:
        """Stop listening and close the connection."""
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
