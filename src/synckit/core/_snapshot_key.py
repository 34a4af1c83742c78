"""Snapshot keys: a keyed hash (HMAC-SHA256) over snapshot bytes this process wrote itself.

``Document.load`` checks a snapshot against everything a hostile author could have put in it
(see :mod:`synckit.core._snapshot`). Most of those checks guard against bytes *someone else*
wrote: a snapshot a server saved with ``doc.save()`` and reads back from its own storage was
made by this code from a document that passed them. A :class:`SnapshotKey` lets the writer
prove that: ``tag = key.tag(data)`` next to the bytes when saving, and
``Document.load(data, key=key, tag=tag)`` when loading. If the tag verifies (the bytes are
exactly what was tagged, under the same secret), the load skips the checks only a hostile
author needs; otherwise it runs every check, as a load without a key does. A tag is never a
reason to trust bytes more than a load without one would, and the snapshot format is unchanged
(the tag is kept beside the bytes, not in them).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from synckit.errors import InvalidTypeError, InvalidValueError

__all__ = ["SnapshotKey"]

#: Shortest secret accepted, in bytes (HMAC-SHA256 keys should have at least 128 bits).
MIN_SECRET = 16
#: Length of a tag, in bytes (SHA-256).
TAG_SIZE = 32


@dataclass(frozen=True, slots=True)
class SnapshotKey:
    """A secret for tagging snapshots this process saved and trusting them when loading.

    Keep the secret where the snapshots' writer keeps its other secrets (not beside the
    snapshots): whoever holds it can make any bytes load with fewer checks.
    """

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            raise InvalidTypeError(
                f"SnapshotKey takes a bytes secret, got {type(self.secret).__name__}"
            )
        if len(self.secret) < MIN_SECRET:
            raise InvalidValueError(f"SnapshotKey secret must be at least {MIN_SECRET} bytes")

    def tag(self, data: bytes | bytearray | memoryview) -> bytes:
        """The 32-byte HMAC-SHA256 of ``data`` under this key."""
        return hmac.digest(self.secret, data, hashlib.sha256)

    def verify(self, data: bytes | bytearray | memoryview, tag: bytes) -> bool:
        """Whether ``tag`` is this key's tag of exactly ``data`` (a constant-time compare)."""
        if not isinstance(tag, bytes | bytearray | memoryview) or len(tag) != TAG_SIZE:
            return False
        return hmac.compare_digest(self.tag(data), bytes(tag))
