"""Document changes across server processes on shared storage, over Redis pub/sub.

Every server on a :class:`RedisChangeBus` publishes the changes it committed (after the commit:
storage is the truth, Redis only makes the others hear of it sooner), and merges what the
others publish into the documents it has open, telling their subscribers
(:meth:`Hub.merge_remote`). A message can be lost (Redis restarting, a server's subscription
dropping): whenever the bus subscribes again, the server reads each open document from storage
and merges it, so its clients catch up by version vector on what they missed.

Deletions travel on the same channel (:meth:`RedisChangeBus.publish_deleted`): the others tell
their subscribers of the document and refuse it from then on. A lost deletion message is
caught up too: the periodic catch-up asks storage which open documents have a tombstone.
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

#: ``listener(doc_id)``: another server deleted a document.
DeleteListener = Callable[[str], None]

# A deletion's message starts with this in place of a document id (no document id starts with
# "!"): an older server reads it as changes of a document it never has open, and ignores it.
_DELETED = b"!deleted\n"


class RedisChangeBus(RedisBus):
    """Committed changes shared by every server on the same Redis and channel (see
    :class:`~synckit.server._redis_channel.RedisBus` for start, close and resubscription:
    read from storage what is open each time it subscribes again)."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        super().__init__(url, channel)
        self._listeners: list[ChangeListener] = []
        self._delete_listeners: list[DeleteListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(doc_id, changes)`` with every change another server publishes."""
        self._listeners.append(listener)

    def publish(self, doc_id: str, changes: bytes) -> None:
        """Tell the other servers that ``changes`` of ``doc_id`` are committed."""
        self._channel.publish(doc_id.encode() + b"\n" + changes)

    def subscribe_deleted(self, listener: DeleteListener) -> None:
        """Call ``listener(doc_id)`` with every deletion another server publishes."""
        self._delete_listeners.append(listener)

    def publish_deleted(self, doc_id: str) -> None:
        """Tell the other servers that ``doc_id`` is deleted (its tombstone committed)."""
        self._channel.publish(_DELETED + doc_id.encode())

    def _heard(self, payload: bytes) -> None:
        if payload.startswith(_DELETED):
            deleted = payload[len(_DELETED) :].decode("utf-8", "replace")
            for on_deleted in tuple(self._delete_listeners):
                on_deleted(deleted)
            return
        doc, sep, changes = payload.partition(b"\n")
        if not sep:
            log_event(logging.WARNING, "change_bus_bad_message", channel=self._channel.channel)
            return
        doc_id = doc.decode("utf-8", "replace")
        for listener in tuple(self._listeners):
            listener(doc_id, changes)
