"""Document changes across server processes on shared storage, over Redis pub/sub.

Every server on a :class:`RedisChangeBus` publishes the changes it committed (after the commit:
storage is the truth, Redis only makes the others hear of it sooner), and merges what the
others publish into the documents it has open, telling their subscribers
(:meth:`Hub.merge_remote`). A message can be lost (Redis restarting, a server's subscription
dropping): whenever the bus subscribes again, the server reads each open document from storage
and merges it, so its clients catch up by version vector on what they missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from synckit.server._log import log_event
from synckit.server._redis_channel import RedisBus

__all__ = ["RedisChangeBus"]

#: The Redis channel changes travel on, unless another is given.
DEFAULT_CHANNEL = "synckit:changes"

#: ``listener(doc_id, changes)``: changes another server committed.
ChangeListener = Callable[[str, bytes], None]


class RedisChangeBus(RedisBus):
    """Committed changes shared by every server on the same Redis and channel (see
    :class:`~synckit.server._redis_channel.RedisBus` for start, close and resubscription:
    read from storage what is open each time it subscribes again)."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        super().__init__(url, channel)
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(doc_id, changes)`` with every change another server publishes."""
        self._listeners.append(listener)

    def publish(self, doc_id: str, changes: bytes) -> None:
        """Tell the other servers that ``changes`` of ``doc_id`` are committed."""
        self._channel.publish(doc_id.encode() + b"\n" + changes)

    def _heard(self, payload: bytes) -> None:
        doc, sep, changes = payload.partition(b"\n")
        if not sep:
            log_event(logging.WARNING, "change_bus_bad_message", channel=self._channel.channel)
            return
        doc_id = doc.decode("utf-8", "replace")
        for listener in tuple(self._listeners):
            listener(doc_id, changes)
