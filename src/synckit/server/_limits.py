"""The server's limits: how much any one client may make the server hold or send."""

from __future__ import annotations

from dataclasses import dataclass

from synckit.errors import InvalidValueError
from synckit.protocol import DEFAULT_MAX_FRAME_BYTES

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Server limits; each one refused with an error that names it."""

    #: Largest frame accepted from a client (FRAME_TOO_LARGE, connection closed).
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    #: Largest stored size of one document (DOC_TOO_LARGE, that push refused).
    max_doc_bytes: int = 64 * 1024 * 1024
    #: Frames and bytes queued for one connection before it counts as too slow
    #: (SLOW_CONSUMER, connection closed; the client catches up when it reconnects).
    max_queue_frames: int = 4096
    max_queue_bytes: int = 32 * 1024 * 1024
    #: Replace a document's log by a snapshot after this many committed batches.
    compact_every: int = 256
    #: Open documents kept decoded in memory. Beyond this many, the least recently used
    #: are kept as their snapshot bytes (:meth:`synckit.Document.compact`) until used again.
    live_docs: int = 1024
    #: How far ahead of the server's wall clock, in seconds, an operation's clock may lie
    #: (CLOCK_SKEW, that push refused, retryable once the server's clock caught up). A device
    #: whose clock is off by a day still syncs; nobody can stamp writes further ahead to win
    #: last-writer-wins conflicts for longer, or push a clock toward the format's maximum.
    max_clock_ahead: float = 36 * 3600.0

    def __post_init__(self) -> None:
        for name in (
            "max_frame_bytes",
            "max_doc_bytes",
            "max_queue_frames",
            "max_queue_bytes",
            "compact_every",
            "live_docs",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise InvalidValueError(f"Limits.{name} must be a positive int, got {value!r}")
        ahead = self.max_clock_ahead
        if type(ahead) not in (int, float) or not 0 <= ahead <= 10 * 365 * 86400:
            raise InvalidValueError(
                f"Limits.max_clock_ahead must be seconds in [0, 10 years], got {ahead!r}"
            )
