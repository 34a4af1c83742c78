"""One client connection as the hub sees it: its protocol session and its queue of frames out.

A connection is a :class:`~synckit.protocol.ServerSession` plus the frames waiting for its
transport. The queue is bounded (:class:`~synckit.server.Limits`): a client that reads too slowly
is told ``SLOW_CONSUMER`` and dropped, instead of making the server hold ever more for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from synckit.protocol import Error, ErrorCode, Event, ServerSession, State
from synckit.server._limits import Limits
from synckit.server._log import MAX_LOGGED_REFUSALS, log_event
from synckit.server._observer import NO_OBSERVER, HubObserver
from synckit.server._principal import Access, Principal

__all__ = ["Connection", "WakeGate"]

# Errors logged as a limit hit (WARNING) rather than a plain refusal.
_LIMIT_CODES = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.TOO_MANY,
        ErrorCode.HANDSHAKE_TIMEOUT,
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.DOC_TOO_LARGE,
    }
)
# Errors whose message may quote what the client sent (decoder errors): not logged.
_CONTENT_CODES = frozenset({ErrorCode.BAD_FRAME, ErrorCode.BAD_CHANGES, ErrorCode.UNKNOWN_MESSAGE})


class WakeGate:
    """Holds back the wake-ups of connections while the hub acknowledges a commit.

    A commit of many pushes sends an Ack per push: woken per frame, a writer's transport would
    write each alone (a system call per frame, and a segment per frame for the client to
    read). While :meth:`hold` is in force each connection is woken once, by :meth:`release`,
    with all of its frames queued. After :meth:`narrow` only the connections held already
    stay held (the commit's broadcast joins its pushers' Acks in one write; everyone else's
    copy is written at once).
    """

    __slots__ = ("held", "only_held")

    def __init__(self) -> None:
        #: Connections to wake on release, in the order they were first woken (None: not
        #: holding).
        self.held: dict[Connection, None] | None = None
        #: Hold back only the connections in :attr:`held` (see :meth:`narrow`).
        self.only_held = False

    def hold(self) -> bool:
        """Hold wake-ups back; False when already holding (the outer holder releases)."""
        if self.held is not None:
            return False
        self.held = {}
        return True

    def narrow(self) -> None:
        """From now until :meth:`release`, wake at once every connection not held yet."""
        self.only_held = True

    def holds(self, conn: Connection) -> bool:
        """Whether a wake-up of ``conn`` now waits for :meth:`release` (and is recorded)."""
        held = self.held
        if held is None or (self.only_held and conn not in held):
            return False
        held[conn] = None
        return True

    def release(self) -> None:
        """Wake every connection held back, once each."""
        held, self.held = self.held, None
        self.only_held = False
        for conn in held or ():
            conn.wake()


class Connection:
    """One client connection as the hub sees it: its session and its queue of frames out."""

    __slots__ = (
        "_gate",
        "_limits",
        "_observer",
        "_queued_bytes",
        "_wake",
        "held",
        "http",
        "id",
        "levels",
        "opened_at",
        "outbox",
        "principal",
        "reads_only",
        "refusals",
        "session",
    )

    def __init__(
        self,
        conn_id: int,
        limits: Limits,
        wake: Callable[[], None] | None,
        *,
        opened_at: float = 0.0,
        http: bool = False,
        reads_only: bool = False,
        observer: HubObserver = NO_OBSERVER,
        gate: WakeGate | None = None,
    ) -> None:
        self.id = conn_id
        #: When the connection opened, on the hub's monotonic clock (the handshake deadline).
        self.opened_at = opened_at
        #: The short session of one HTTP request, not a WebSocket.
        self.http = http
        #: It cannot write (an HTTP request without changes): its client id is not registered.
        self.reads_only = reads_only
        #: Errors sent to this client so far (the first few are logged).
        self.refusals = 0
        self.session = ServerSession(max_frame_bytes=limits.max_frame_bytes)
        # A list, not a deque: an empty deque costs ~600 bytes, and it is short.
        self.outbox: list[bytes] = []
        #: Who the connection authenticated as (None until its Hello is accepted).
        self.principal: Principal | None = None
        #: Access to each subscribed document when it was last checked.
        self.levels: dict[str, Access] = {}
        #: Frames received while the Hello is being decided (None: none is).
        self.held: list[bytes] | None = None
        self._queued_bytes = 0
        self._limits = limits
        self._wake = wake
        self._gate = gate
        self._observer = observer

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.session.client_id!r} {self.session.state.value}>"

    @property
    def closed(self) -> bool:
        """The session ended: send what :meth:`take_frames` returns, then close."""
        return self.session.state is State.CLOSED

    @property
    def queued_bytes(self) -> int:
        """Bytes of frames queued for the client and not taken yet."""
        return self._queued_bytes

    def take_frames(self) -> list[bytes]:
        """Take the frames queued for the client, oldest first."""
        frames = list(self.outbox)
        self.outbox.clear()
        self._queued_bytes = 0
        return frames

    def pop_frame(self) -> bytes | None:
        """Take the oldest frame queued for the client (None: none is). A frame counts
        against the queue limits until it is taken, so take it only when the transport can
        accept it."""
        if not self.outbox:
            return None
        frame = self.outbox.pop(0)
        self._queued_bytes -= len(frame)
        return frame

    def send(self, event: Event, body: bytes | None = None) -> None:
        """Queue ``event`` for the client (nothing once the connection is closed)."""
        if self.closed:
            return
        if isinstance(event, Error):
            self.log_refusal(event)
        self.session.send(event, body=body)
        self.collect()

    def send_ack(self, doc_id: str, batch_id: int, server_version: bytes) -> None:
        """Queue ``Ack(doc_id, batch_id, server_version)`` for the client (nothing once the
        connection is closed), through :meth:`ServerSession.send_ack`."""
        if self.closed:
            return
        self.session.send_ack(doc_id, batch_id, server_version)
        self.collect()

    def send_broadcast(self, doc_id: str, body: bytes) -> bool:
        """Queue an encoded Broadcast of ``doc_id`` if the session may send one now
        (:meth:`ServerSession.send_broadcast`); False, nothing queued, if not."""
        if not self.session.send_broadcast(doc_id, body):
            return False
        self.collect()
        return True

    def log_refusal(self, error: Error) -> None:
        """Log an error sent to (or a protocol error made by) this client, up to
        :data:`MAX_LOGGED_REFUSALS` per connection (all are counted by the observer)."""
        self._observer.refused(error.code)
        self.refusals += 1
        if self.refusals > MAX_LOGGED_REFUSALS:
            if self.refusals == MAX_LOGGED_REFUSALS + 1:
                log_event(logging.INFO, "quiet", **self.log_fields())
            return
        code = error.code
        if code in _LIMIT_CODES:
            level, event = logging.WARNING, "limit"
        elif code in (ErrorCode.AUTH_FAILED, ErrorCode.TOKEN_EXPIRED):
            level, event = logging.WARNING, "auth_failed"
        else:
            level, event = logging.INFO, "refused"
        log_event(
            level,
            event,
            **self.log_fields(),
            code=code.name,
            doc=error.doc_id,
            batch=error.batch_id or None,
            fatal=error.fatal or None,
            why=None if code in _CONTENT_CODES else error.message,
        )

    def log_fields(self) -> dict[str, object]:
        """Who this connection is, for log lines."""
        principal = self.principal
        return {
            "conn": self.id,
            "http": self.http or None,
            "principal": principal.id if principal is not None else None,
            "client": self.session.client_id,
        }

    def collect(self) -> None:
        """Move frames from the session to the outbox; enforce the queue limits."""
        frames = self.session.data_to_send()
        if not frames:
            return
        limits = self._limits
        # Over the byte limit: frames were queued behind more than max_queue_bytes of unsent
        # ones. The newest frame alone may be of any size (a large document's first sync).
        overflow = False
        for frame in frames:
            if self._queued_bytes > limits.max_queue_bytes:
                overflow = True
            self.outbox.append(frame)
            self._queued_bytes += len(frame)
        if not self.closed and (len(self.outbox) > limits.max_queue_frames or overflow):
            # Too slow to keep up: what is queued is dropped (the client gets it again when it
            # resubscribes), and the client is told why before the connection closes.
            log_event(
                logging.WARNING,
                "slow_consumer",
                **self.log_fields(),
                frames=len(self.outbox),
                bytes=self._queued_bytes,
            )
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
            self._observer.refused(ErrorCode.SLOW_CONSUMER)
            self.outbox.clear()
            self._queued_bytes = 0
            self.outbox.extend(self.session.data_to_send())
        if self._wake is not None:
            gate = self._gate
            if gate is None or gate.held is None or not gate.holds(self):
                self._wake()

    def wake(self) -> None:
        """Tell the transport that frames are queued (what queueing one does, unless held
        back by a :class:`WakeGate`)."""
        if self._wake is not None:
            self._wake()
