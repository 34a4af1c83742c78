"""Client and server sessions: the sync protocol with no I/O.

A session turns events into frame bytes and frame bytes into events, and enforces the state
machine of :mod:`._state` plus the per-document rules. It never touches a socket, a clock or an
event loop; the caller moves the bytes::

    session.send(event)                 # queue a frame (LocalProtocolError if illegal now)
    for frame in session.data_to_send(): transport.write(frame)
    events = session.receive(frame)     # frames from the peer -> events

When the peer sends something illegal, :meth:`Session.receive` queues an ``Error`` frame for it
and then either drops the frame (a non-fatal, per-document problem: the result is ``[]``) or,
for a fatal one, closes the session and raises :class:`~synckit.errors.RemoteProtocolError`.
Either way the caller should send :meth:`Session.data_to_send` next, and close the transport
once :attr:`Session.state` is ``CLOSED``.
"""

from __future__ import annotations

import enum

from synckit.errors import (
    InvalidTypeError,
    InvalidValueError,
    LocalProtocolError,
    RemoteProtocolError,
)
from synckit.protocol._events import (
    DELETE,
    PRESENCE,
    PRESENCE_CODES,
    PROTOCOL_VERSION,
    VERSION_DELTAS,
    Ack,
    Broadcast,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    Event,
    Hello,
    Ping,
    Pong,
    Presence,
    PresenceSet,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
)
from synckit.protocol._frames import (
    FrameError,
    decode_numbered,
    encode_ack_body,
    encode_frame,
    number_frame,
)
from synckit.protocol._state import TRANSITIONS, Role, State

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "ClientSession", "DocState", "ServerSession", "Session"]

#: Frames larger than this are refused unless a session is built with another limit.
DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024

# The capabilities a session acts on, each a bit of an int kept per session.
_PRESENCE_BIT = 1
_VERSION_DELTAS_BIT = 2
_DELETE_BIT = 4
_CAPABILITY_BITS = (
    (PRESENCE, _PRESENCE_BIT),
    (VERSION_DELTAS, _VERSION_DELTAS_BIT),
    (DELETE, _DELETE_BIT),
)


def _capability_bits(capabilities: tuple[str, ...]) -> int:
    """The bits of the capabilities this session acts on among ``capabilities``."""
    return sum(bit for name, bit in _CAPABILITY_BITS if name in capabilities)


class DocState(enum.Enum):
    """A document's state on one connection, as the client sees it."""

    SUBSCRIBING = "SUBSCRIBING"
    SUBSCRIBED = "SUBSCRIBED"


class _PeerViolationError(Exception):
    """Internal: the peer broke a rule; carries the error to tell it."""

    def __init__(self, error: Error) -> None:
        super().__init__(error.message)
        self.error = error


def _illegal(
    message: str, *, fatal: bool, doc_id: str = "", batch_id: int = 0
) -> _PeerViolationError:
    return _PeerViolationError(
        Error(ErrorCode.ILLEGAL_STATE, message, False, fatal, doc_id, batch_id)
    )


class Session:
    """What client and server sessions share; build a :class:`ClientSession` or a
    :class:`ServerSession`.

    Args:
        max_frame_bytes: frames from the peer larger than this are refused (FRAME_TOO_LARGE).
    """

    __slots__ = (
        "_batches",
        "_deletes",
        "_last_batch",
        "_last_request",
        "_outbox",
        "_own_bits",
        "_peer_bits",
        "_peer_capabilities",
        "_received",
        "_sent",
        "_state",
        "error",
        "max_frame_bytes",
    )

    role: Role
    _peer: Role

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 64:
            raise InvalidValueError("max_frame_bytes must be at least 64")
        self.max_frame_bytes = max_frame_bytes
        self._state = State.AWAITING_HELLO
        self._outbox: list[bytes] = []
        # Pushes sent (client) or received (server) and not yet acknowledged: batch -> doc.
        self._batches: dict[int, str] = {}
        self._last_batch = 0
        # Deletions asked (client) or being decided (server) and not yet answered:
        # request id -> doc.
        self._deletes: dict[int, str] = {}
        self._last_request = 0
        # Frames numbered so far, each way.
        self._sent = 0
        self._received = 0
        # Capabilities from the Hello / Welcome each side sent last: the ones this session
        # acts on as bits (see _CAPABILITY_BITS), the peer's as it sent them (a set of its
        # own per connection would cost more memory than the rest of an idle session).
        self._own_bits = 0
        self._peer_bits = 0
        self._peer_capabilities: tuple[str, ...] = ()
        #: The fatal error that closed the session (sent or received), if any.
        self.error: Error | None = None

    @property
    def state(self) -> State:
        return self._state

    @property
    def peer_capabilities(self) -> frozenset[str]:
        """The capabilities of the peer's last ``Hello`` or ``Welcome``."""
        return frozenset(self._peer_capabilities)

    @property
    def presence(self) -> bool:
        """Both sides advertised the presence capability: presence messages may flow."""
        return bool(self._own_bits & self._peer_bits & _PRESENCE_BIT)

    @property
    def version_deltas(self) -> bool:
        """Both sides advertised :data:`VERSION_DELTAS`: the ``server_version`` of an Ack or
        Broadcast holds only what grew since the last one sent for its document."""
        return bool(self._own_bits & self._peer_bits & _VERSION_DELTAS_BIT)

    def _check_presence(self, event: Event, *, sending: bool) -> None:
        """Presence messages only between peers that both advertised the capability."""
        if self.presence:
            return
        name = type(event).__name__
        if sending:
            raise LocalProtocolError(f"{name} needs the {PRESENCE!r} capability on both sides")
        raise _illegal(
            f"{name} sent though the {PRESENCE!r} capability was not advertised by both sides",
            fatal=True,
        )

    @property
    def pending_batches(self) -> dict[int, str]:
        """Pushes not yet acknowledged or refused: batch id -> document id (a copy)."""
        return dict(self._batches)

    @property
    def pending_deletes(self) -> dict[int, str]:
        """``DeleteDoc`` requests not yet answered: request id -> document id (a copy)."""
        return dict(self._deletes)

    def pushing(self, doc_id: str) -> bool:
        """A push of ``doc_id`` is not yet acknowledged or refused."""
        return doc_id in self._batches.values()

    @property
    def has_data_to_send(self) -> bool:
        """Frames are queued: call :meth:`data_to_send`."""
        return bool(self._outbox)

    def data_to_send(self) -> list[bytes]:
        """Take the frames queued for the peer, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def close(self) -> None:
        """The transport is gone: move to CLOSED without telling the peer."""
        self._state = State.CLOSED

    def abort(self, error: Error, *, unsent: int = 0) -> None:
        """End the session with the fatal ``error`` in place of frames never written.

        ``unsent``: how many of the last frames taken with :meth:`data_to_send` the caller
        dropped instead of writing (frames still queued here are dropped too). The error takes
        their place in the frame numbering, so the peer reads it as the next frame.
        Next, call :meth:`data_to_send` (it returns just the error).
        """
        if not error.fatal:
            raise InvalidValueError("abort needs a fatal Error")
        if not 0 <= unsent <= self._sent - len(self._outbox):
            raise InvalidValueError(f"cannot retract {unsent} frames")
        if self._state is State.CLOSED:
            return
        self._sent -= unsent + len(self._outbox)
        self._outbox.clear()
        self._queue(error)
        self._state = State.CLOSED
        self.error = error

    # -- sending --------------------------------------------------------------------------

    def send(self, event: Event, *, body: bytes | None = None) -> None:
        """Queue ``event`` for the peer; next, call :meth:`data_to_send`.

        ``body``: ``encode_frame_body(event)`` when the caller already has it (a fan-out of
        one event to many sessions encodes it once).

        Raises:
            LocalProtocolError: the event is not allowed in the current state (nothing queued).
        """
        if self._state is State.CLOSED:
            raise LocalProtocolError(
                f"cannot send {type(event).__name__}: the session is in state CLOSED"
            )
        if isinstance(event, Error) and event.fatal:
            next_state = State.CLOSED
        else:
            row = TRANSITIONS.get((self.role, self._state), {})
            if type(event) not in row:
                raise LocalProtocolError(
                    f"{self.role.value} may not send {type(event).__name__} "
                    f"in state {self._state.value}"
                )
            next_state = row[type(event)]
        self._check_send(event)
        if isinstance(event, Hello | Welcome):
            self._own_bits = _capability_bits(event.capabilities)
        self._queue(event, body)
        self._state = next_state
        if isinstance(event, Error) and event.fatal:
            self.error = event

    def _check_send(self, event: Event) -> None:
        """Per-document rules for sending; raise LocalProtocolError, then record the event."""

    # -- receiving ------------------------------------------------------------------------

    def receive(self, frame: bytes) -> list[Event]:
        """Take one frame from the peer and return what it means (zero or one event).

        A ``Ping`` is answered with a ``Pong`` automatically (and still returned). When the
        frame is illegal, an ``Error`` frame is queued for the peer: for a problem limited to one
        document the frame is dropped and ``[]`` returned; otherwise the session closes.
        Next, call :meth:`data_to_send`.

        Raises:
            RemoteProtocolError: the peer sent something fatal; the session is now CLOSED and
                :attr:`error` says why.
        """
        if self._state is State.CLOSED:
            return []
        try:
            return self._receive(frame)
        except _PeerViolationError as v:
            if v.error.fatal:
                self._queue(v.error)
                self._state = State.CLOSED
                self.error = v.error
                raise RemoteProtocolError(v.error.message) from None
            if self._state is State.OPEN:
                self._queue(v.error)
            return []

    def _queue(self, event: Event, body: bytes | None = None) -> None:
        self._sent += 1
        if body is None:
            self._outbox.append(encode_frame(event, self._sent))
        else:
            self._outbox.append(number_frame(body, self._sent))

    def _receive(self, frame: bytes) -> list[Event]:
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise InvalidTypeError(f"frames are bytes, got {type(frame).__name__}")
        if len(frame) > self.max_frame_bytes:
            raise _PeerViolationError(
                Error(
                    ErrorCode.FRAME_TOO_LARGE,
                    f"frame of {len(frame)} bytes exceeds the limit of {self.max_frame_bytes}",
                    fatal=True,
                )
            )
        event, seq = decode_numbered(bytes(frame))
        if seq:
            if seq != self._received + 1:
                raise _PeerViolationError(
                    Error(
                        ErrorCode.BAD_FRAME,
                        f"frame number {seq} arrived where {self._received + 1} was due "
                        f"(a frame was lost, repeated or reordered; state {self._state.value})",
                        fatal=True,
                    )
                )
            self._received = seq
        if isinstance(event, FrameError):
            # Bad bytes inside an open session's document message only spoil that message.
            fatal = not (event.code is ErrorCode.INVALID_DOC_ID and self._state is State.OPEN)
            message = event.message
            if event.code is ErrorCode.PROTOCOL_VERSION:
                message = f"{message} (this {self.role.value} speaks {PROTOCOL_VERSION})"
            raise _PeerViolationError(
                Error(event.code, message, False, fatal, event.doc_id, event.batch_id)
            )
        if isinstance(event, Error) and event.fatal:
            self._check_receive(event)
            self._state = State.CLOSED
            self.error = event
            return [event]
        row = TRANSITIONS.get((self._peer, self._state), {})
        if type(event) not in row:
            raise _illegal(
                f"{type(event).__name__} is not allowed from the {self._peer.value} "
                f"in state {self._state.value}",
                fatal=True,
            )
        if isinstance(event, Hello | Welcome) and event.protocol_version != PROTOCOL_VERSION:
            raise _PeerViolationError(
                Error(
                    ErrorCode.PROTOCOL_VERSION,
                    f"protocol version {event.protocol_version} is not supported "
                    f"(this {self.role.value} speaks {PROTOCOL_VERSION})",
                    fatal=True,
                )
            )
        if not self._check_receive(event):
            return []
        if isinstance(event, Hello | Welcome):
            self._peer_capabilities = tuple(event.capabilities)
            self._peer_bits = _capability_bits(event.capabilities)
        self._state = row[type(event)]
        if isinstance(event, Ping):
            self._queue(Pong(event.nonce))
        return [event]

    def _check_receive(self, event: Event) -> bool:
        """Per-document rules for receiving: raise _PeerViolationError, or return False to drop the
        event silently (a late frame for a document already left), or record it and return
        True."""
        return True


class ClientSession(Session):
    """The client's end of a connection.

    Next steps: ``send(Hello(...))``, wait for a ``Welcome`` from :meth:`receive`, then
    ``send(Subscribe(...))`` and ``send(Push(...))`` freely.
    """

    __slots__ = ("_docs", "_left")

    role = Role.CLIENT
    _peer = Role.SERVER

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        super().__init__(max_frame_bytes=max_frame_bytes)
        self._docs: dict[str, DocState] = {}
        self._left: set[str] = set()

    def doc_state(self, doc_id: str) -> DocState | None:
        """The document's state on this connection; None when not subscribed."""
        return self._docs.get(doc_id)

    def next_batch_id(self) -> int:
        """The smallest batch id a new :class:`Push` may use."""
        return self._last_batch + 1

    def next_request_id(self) -> int:
        """The smallest request id a new :class:`DeleteDoc` may use."""
        return self._last_request + 1

    @property
    def may_delete(self) -> bool:
        """The server advertised the :data:`DELETE` capability: :class:`DeleteDoc` may be sent."""
        return bool(self._peer_bits & _DELETE_BIT)

    def _check_send(self, event: Event) -> None:
        match event:
            case DeleteDoc(doc_id=doc, request_id=request):
                if not self.may_delete:
                    raise LocalProtocolError(
                        f"DeleteDoc needs a server that advertised the {DELETE!r} capability"
                    )
                if request <= self._last_request:
                    raise LocalProtocolError(
                        f"DeleteDoc request id {request} is not above the last one "
                        f"({self._last_request})"
                    )
                self._last_request = request
                self._deletes[request] = doc
            case Subscribe(doc_id=doc):
                self._docs[doc] = DocState.SUBSCRIBING
                self._left.discard(doc)
            case Push(doc_id=doc, batch_id=batch):
                if doc not in self._docs:
                    raise LocalProtocolError(
                        f"Push for document {doc!r} which is not subscribed on this connection"
                    )
                if batch <= self._last_batch:
                    raise LocalProtocolError(
                        f"Push batch id {batch} is not above the last one ({self._last_batch})"
                    )
                self._last_batch = batch
                self._batches[batch] = doc
            case Unsubscribe(doc_id=doc):
                if doc not in self._docs:
                    raise LocalProtocolError(f"Unsubscribe from {doc!r} which is not subscribed")
                del self._docs[doc]
                self._left.add(doc)
            case PresenceSet(doc_id=doc):
                self._check_presence(event, sending=True)
                if doc not in self._docs:
                    raise LocalProtocolError(
                        f"PresenceSet for document {doc!r} which is not subscribed on this "
                        "connection"
                    )
            case _:
                pass

    def _check_receive(self, event: Event) -> bool:
        match event:
            case Subscribed(doc_id=doc) | Broadcast(doc_id=doc) | Presence(doc_id=doc):
                if isinstance(event, Presence):
                    self._check_presence(event, sending=False)
                if doc in self._docs:
                    if isinstance(event, Subscribed):
                        self._docs[doc] = DocState.SUBSCRIBED
                    return True
                if doc in self._left:
                    return False
                raise _illegal(
                    f"{type(event).__name__} for document {doc!r} which was never subscribed "
                    f"(state {self._state.value})",
                    fatal=True,
                )
            case Ack(doc_id=doc, batch_id=batch):
                if self._batches.get(batch) != doc:
                    raise _illegal(
                        f"Ack of batch {batch} for {doc!r} which is not a pending push "
                        f"(state {self._state.value})",
                        fatal=True,
                    )
                del self._batches[batch]
            case DocDeleted(doc_id=doc, request_id=request):
                if self._deletes.get(request) != doc:
                    raise _illegal(
                        f"DocDeleted of request {request} for {doc!r} which is not a pending "
                        f"DeleteDoc (state {self._state.value})",
                        fatal=True,
                    )
                del self._deletes[request]
                if doc in self._docs:  # the document is gone: so is its subscription
                    del self._docs[doc]
                    self._left.add(doc)
            case Error(request_id=request) if request:
                self._deletes.pop(request, None)  # answers a DeleteDoc: ends nothing else
            case Error(batch_id=batch) if batch:
                self._batches.pop(batch, None)
            case Error(doc_id=doc, code=code) if (
                doc and doc in self._docs and (code not in PRESENCE_CODES)
            ):
                # A document error outside any push ends that document's subscription.
                del self._docs[doc]
                self._left.add(doc)
            case _:
                pass
        return True


class ServerSession(Session):
    """The server's end of a connection.

    Next steps: feed frames to :meth:`receive`; on a ``Hello`` send ``Welcome`` (or a fatal
    ``Error``); answer every ``Subscribe`` with one ``Subscribed`` and every ``Push`` with one
    ``Ack`` (after committing) or an ``Error`` carrying its batch id, and every ``DeleteDoc``
    with one ``DocDeleted`` or an ``Error`` carrying its request id.
    """

    __slots__ = ("_docs", "client_id")

    role = Role.SERVER
    _peer = Role.CLIENT

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        super().__init__(max_frame_bytes=max_frame_bytes)
        # Subscribed documents -> whether their Subscribe awaits its Subscribed (one dict
        # rather than two sets: an idle connection's memory counts).
        self._docs: dict[str, bool] = {}
        #: The client id from the peer's Hello ("" before it).
        self.client_id = ""

    @property
    def subscriptions(self) -> frozenset[str]:
        return frozenset(self._docs)

    def awaits_subscribed(self, doc_id: str) -> bool:
        """Whether ``doc_id``'s Subscribe is not answered yet (no Broadcast may go first)."""
        return self._docs.get(doc_id, False)

    def may_broadcast(self, doc_id: str) -> bool:
        """Whether a Broadcast for ``doc_id`` may be sent now: subscribed and answered."""
        return self._docs.get(doc_id) is False

    def send_broadcast(self, doc_id: str, body: bytes) -> bool:
        """Queue a Broadcast of ``doc_id`` given as ``encode_frame_body`` output, if one may
        be sent now (:meth:`may_broadcast`, session open); False, nothing queued, if not.

        :meth:`send` with ``body`` does the same; this is its fan-out path (a document's
        every change goes to each of its subscribers), without the general checks.
        """
        if self._state is not State.OPEN or self._docs.get(doc_id) is not False:
            return False
        self._sent += 1
        self._outbox.append(number_frame(body, self._sent))
        return True

    def send_ack(self, doc_id: str, batch_id: int, server_version: bytes) -> None:
        """:meth:`send` of ``Ack(doc_id, batch_id, server_version)``: the same checks and the
        same frame, without building the event (a server acknowledges every push).

        Raises:
            LocalProtocolError: no such push awaits its Ack, or the session's state allows
                none (nothing queued).
        """
        row = TRANSITIONS.get((self.role, self._state), {})
        if Ack not in row:
            raise LocalProtocolError(f"server may not send Ack in state {self._state.value}")
        if self._batches.get(batch_id) != doc_id:
            raise LocalProtocolError(f"Ack of batch {batch_id} for {doc_id!r}: no such push")
        if not isinstance(server_version, bytes):
            raise InvalidTypeError(
                f"Ack.server_version must be bytes, got {type(server_version).__name__}"
            )
        del self._batches[batch_id]
        self._sent += 1
        self._outbox.append(
            number_frame(encode_ack_body(doc_id, batch_id, server_version), self._sent)
        )
        self._state = row[Ack]

    def _check_send(self, event: Event) -> None:
        match event:
            case Subscribed(doc_id=doc):
                if not self._docs.get(doc, False):
                    raise LocalProtocolError(f"Subscribed for {doc!r} which no Subscribe awaits")
                self._docs[doc] = False
            case Broadcast(doc_id=doc) | Presence(doc_id=doc):
                if isinstance(event, Presence):
                    self._check_presence(event, sending=True)
                if self._docs.get(doc) is not False:
                    raise LocalProtocolError(
                        f"{type(event).__name__} for {doc!r} which is not subscribed on this "
                        "connection"
                    )
            case Ack(doc_id=doc, batch_id=batch):
                if self._batches.get(batch) != doc:
                    raise LocalProtocolError(f"Ack of batch {batch} for {doc!r}: no such push")
                del self._batches[batch]
            case DocDeleted(doc_id=doc, request_id=request):
                if self._deletes.get(request) != doc:
                    raise LocalProtocolError(
                        f"DocDeleted of request {request} for {doc!r}: no such DeleteDoc"
                    )
                del self._deletes[request]
                self._docs.pop(doc, None)  # the document is gone: so is its subscription
            case Error(request_id=request) if request:
                self._deletes.pop(request, None)  # answers a DeleteDoc: ends nothing else
            case Error(batch_id=batch) if batch:
                self._batches.pop(batch, None)
            case Error(doc_id=doc, code=code) if doc and code not in PRESENCE_CODES:
                # A document error outside any push ends that document's subscription.
                self._docs.pop(doc, None)
            case _:
                pass

    def _check_receive(self, event: Event) -> bool:
        match event:
            case Hello(client_id=client_id):
                if self.client_id and client_id != self.client_id:
                    raise _illegal(
                        f"a Hello that re-authenticates must keep the client id "
                        f"{self.client_id!r}, got {client_id!r}",
                        fatal=True,
                    )
                self.client_id = client_id
            case Subscribe(doc_id=doc):
                self._docs[doc] = True
            case Push(doc_id=doc, batch_id=batch):
                if batch <= self._last_batch:
                    raise _illegal(
                        f"Push batch id {batch} is not above the last one ({self._last_batch})",
                        fatal=True,
                        doc_id=doc,
                        batch_id=batch,
                    )
                self._last_batch = batch
                if doc not in self._docs:
                    raise _illegal(
                        f"Push for document {doc!r} which is not subscribed (state "
                        f"{self._state.value}); send Subscribe first",
                        fatal=False,
                        doc_id=doc,
                        batch_id=batch,
                    )
                self._batches[batch] = doc
            case DeleteDoc(doc_id=doc, request_id=request):
                if not self._own_bits & _DELETE_BIT:
                    raise _illegal(
                        f"DeleteDoc sent though this server did not advertise the {DELETE!r} "
                        "capability",
                        fatal=True,
                    )
                if request <= self._last_request:
                    raise _illegal(
                        f"DeleteDoc request id {request} is not above the last one "
                        f"({self._last_request})",
                        fatal=True,
                    )
                self._last_request = request
                self._deletes[request] = doc
            case Unsubscribe(doc_id=doc):
                if doc not in self._docs:
                    raise _illegal(
                        f"Unsubscribe from {doc!r} which is not subscribed", fatal=False, doc_id=doc
                    )
                self._docs.pop(doc, None)
            case PresenceSet(doc_id=doc):
                self._check_presence(event, sending=False)
                if doc not in self._docs:
                    # Not tied to the document (doc_id unset): a PresenceSet that crossed the
                    # end of its subscription must not end anything on the client.
                    raise _illegal(
                        f"PresenceSet for document {doc!r} which is not subscribed; send "
                        "Subscribe first",
                        fatal=False,
                    )
            case _:
                pass
        return True
