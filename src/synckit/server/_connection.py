"""One client connection as the hub sees it: its protocol session and its queue of frames out.

A connection is a :class:`~synckit.protocol.ServerSession` plus the frames waiting for its
transport. The queue is bounded (:class:`~synckit.server.Limits`): a client that reads too slowly
is told ``SLOW_CONSUMER`` and dropped, instead of making the server hold ever more for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from synckit.protocol import Error, ErrorCode, Event, ServerSession, State
from synckit.server._limits import Limits
from synckit.server._principal import Access, Principal

__all__ = ["Connection"]


class Connection:
    """One client connection as the hub sees it: its session and its queue of frames out."""

    __slots__ = (
        "_limits",
        "_queued_bytes",
        "_wake",
        "held",
        "id",
        "levels",
        "outbox",
        "principal",
        "reads_only",
        "session",
    )

    def __init__(self, conn_id: int, limits: Limits, wake: Callable[[], None] | None) -> None:
        self.id = conn_id
        self.session = ServerSession(max_frame_bytes=limits.max_frame_bytes)
        self.outbox: deque[bytes] = deque()
        #: Who the connection authenticated as (None until its Hello is accepted).
        self.principal: Principal | None = None
        #: Access to each subscribed document when it was last checked.
        self.levels: dict[str, Access] = {}
        #: Frames received while the Hello is being decided (None: none is).
        self.held: list[bytes] | None = None
        #: Plays a JSON view: it writes nothing, so its client id is not registered.
        self.reads_only = False
        self._queued_bytes = 0
        self._limits = limits
        self._wake = wake

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.session.client_id!r} {self.session.state.value}>"

    @property
    def closed(self) -> bool:
        """The session ended: send what :meth:`take_frames` returns, then close."""
        return self.session.state is State.CLOSED

    def take_frames(self) -> list[bytes]:
        """Take the frames queued for the client, oldest first."""
        frames = list(self.outbox)
        self.outbox.clear()
        self._queued_bytes = 0
        return frames

    def send(self, event: Event, body: bytes | None = None) -> None:
        """Queue ``event`` for the client (nothing once the connection is closed)."""
        if self.closed:
            return
        self.session.send(event, body=body)
        self.collect()

    def collect(self) -> None:
        """Move frames from the session to the outbox; enforce the queue limits."""
        frames = self.session.data_to_send()
        if not frames:
            return
        for frame in frames:
            self.outbox.append(frame)
            self._queued_bytes += len(frame)
        limits = self._limits
        if not self.closed and (
            len(self.outbox) > limits.max_queue_frames
            or (self._queued_bytes > limits.max_queue_bytes and len(self.outbox) > 1)
        ):
            # Too slow to keep up: what is queued is dropped (the client gets it again when it
            # resubscribes), and the client is told why before the connection closes.
            self.session.abort(
                Error(
                    ErrorCode.SLOW_CONSUMER,
                    f"send queue over its limit ({limits.max_queue_frames} frames or "
                    f"{limits.max_queue_bytes} bytes): the connection reads too slowly; "
                    "reconnect to catch up",
                    retryable=True,
                    fatal=True,
                ),
                unsent=len(self.outbox),
            )
            self.outbox.clear()
            self._queued_bytes = 0
            self.outbox.extend(self.session.data_to_send())
        if self._wake is not None:
            self._wake()
