"""The server's logic, without I/O: connections, rooms, commit, acknowledge, broadcast.

A :class:`Hub` owns the open documents ("rooms") and the connections subscribed to them. The
ASGI app (and the network simulation) feeds it frames with :meth:`Hub.receive` and sends what
:meth:`Connection.take_frames` returns; :meth:`Hub.disconnect` says a connection is gone.

Order of a push: size check, merge into the room's document, commit the new operations to the
store, acknowledge to the sender, broadcast to the other subscribers. Nothing is acknowledged
before the store returned from the commit.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from synckit.core import Document, VersionVector
from synckit.errors import DecodeError, RemoteProtocolError, StorageError
from synckit.protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Ack,
    Broadcast,
    Error,
    ErrorCode,
    Event,
    Hello,
    Push,
    ServerSession,
    State,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    check_doc_id,
    encode_frame_body,
)
from synckit.server._store import Store
from synckit.v1 import protocol_pb2 as pb

__all__ = ["Authenticator", "Connection", "Hub", "Limits"]

#: ``authenticate(client_id, token) -> bool``: may this client connect?
Authenticator = Callable[[str, str], bool]


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
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")


CAPABILITIES = ("http-sync",)


class Connection:
    """One client connection as the hub sees it: its session and its queue of frames out."""

    __slots__ = ("_limits", "_queued_bytes", "_wake", "id", "outbox", "session")

    def __init__(self, conn_id: int, limits: Limits, wake: Callable[[], None] | None) -> None:
        self.id = conn_id
        self.session = ServerSession(max_frame_bytes=limits.max_frame_bytes)
        self.outbox: deque[bytes] = deque()
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

    def _send(self, event: Event, body: bytes | None = None) -> None:
        if self.closed:
            return
        self.session.send(event, body=body)
        self._collect()

    def _collect(self) -> None:
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
            or self._queued_bytes > limits.max_queue_bytes
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


@dataclass(slots=True)
class _Room:
    doc: Document
    #: Bytes stored for the document (snapshot + log), for the size limit.
    size: int
    #: Batches in the log since the snapshot.
    log_count: int
    subscribers: dict[int, Connection] = field(default_factory=dict)


class Hub:
    """Rooms and connections of one server.

    Args:
        store: where documents are committed.
        limits: see :class:`Limits`.
        authenticate: decides whether a Hello's client id and token may connect; None lets
            everyone in.
    """

    def __init__(
        self,
        store: Store,
        *,
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
    ) -> None:
        self.store = store
        self.limits = limits or Limits()
        self._authenticate = authenticate
        self._rooms: dict[str, _Room] = {}
        # The rooms whose document is decoded, least recently used first (see _touch).
        self._live: dict[str, _Room] = {}
        self._connections: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        self._closed = False

    # -- connections ------------------------------------------------------------------

    def connect(self, wake: Callable[[], None] | None = None) -> Connection:
        """A new connection; ``wake()`` is called whenever frames are queued for it."""
        conn = Connection(next(self._ids), self.limits, wake)
        self._connections[conn.id] = conn
        if self._closed:
            conn._send(self.shutting_down_error())
        return conn

    def disconnect(self, conn: Connection) -> None:
        """The transport of ``conn`` is gone (or done): leave every room."""
        conn.session.close()
        self._drop(conn)

    def refuse(self, conn: Connection, error: Error) -> None:
        """Send ``error`` to ``conn`` (from the I/O shell); a fatal one ends the connection."""
        conn._send(error)
        if conn.closed:
            self._drop(conn)

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    @property
    def open_doc_ids(self) -> list[str]:
        """Documents held in memory (each has at least one subscriber)."""
        return sorted(self._rooms)

    def receive(self, conn: Connection, frame: bytes) -> None:
        """Handle one frame from ``conn``; frames for any connection may be queued."""
        if conn.id not in self._connections:
            return
        try:
            events = conn.session.receive(frame)
        except RemoteProtocolError:
            events = []
        conn._collect()
        for event in events:
            if conn.closed:
                break
            self._dispatch(conn, event)
        if conn.closed:
            self._drop(conn)

    def _dispatch(self, conn: Connection, event: Event) -> None:
        match event:
            case Hello():
                self._on_hello(conn, event)
            case Subscribe():
                self._on_subscribe(conn, event)
            case Push():
                self._on_push(conn, event)
            case Unsubscribe(doc_id=doc_id):
                self._leave(conn, doc_id)
            case _:
                pass  # Ping is answered by the session; Pong and Error need nothing.

    def _on_hello(self, conn: Connection, hello: Hello) -> None:
        if self._closed:
            conn._send(self.shutting_down_error())
        elif self._authenticate is not None and not self._authenticate(
            hello.client_id, hello.token
        ):
            conn._send(
                Error(ErrorCode.AUTH_FAILED, "authentication failed: token refused", fatal=True)
            )
        else:
            conn._send(Welcome(CAPABILITIES, self.limits.max_frame_bytes, PROTOCOL_VERSION))

    def _on_subscribe(self, conn: Connection, sub: Subscribe) -> None:
        doc_id = sub.doc_id
        try:
            since = VersionVector.decode(sub.version) if sub.version else VersionVector()
        except DecodeError as exc:
            conn._send(Error(ErrorCode.BAD_CHANGES, f"Subscribe: {exc}", doc_id=doc_id))
            return
        try:
            room = self._room(doc_id)
        except (StorageError, DecodeError) as exc:
            conn._send(
                Error(
                    ErrorCode.INTERNAL,
                    f"cannot load document {doc_id!r}: {exc}",
                    retryable=True,
                    doc_id=doc_id,
                )
            )
            return
        room.subscribers[conn.id] = conn
        doc = room.doc
        conn._send(Subscribed(doc_id, doc.changes(since), doc.version().encode()))

    def _on_push(self, conn: Connection, push: Push) -> None:
        doc_id, batch = push.doc_id, push.batch_id
        room = self._rooms[doc_id]  # the session only lets pushes for subscribed docs through
        self._touch(doc_id, room)
        try:
            delta, version = self._commit(doc_id, room, push.changes)
        except _Refused as refused:
            conn._send(
                Error(
                    refused.code,
                    refused.message,
                    retryable=refused.retryable,
                    doc_id=doc_id,
                    batch_id=batch,
                )
            )
            return
        conn._send(Ack(doc_id, batch, version))
        if delta:
            self._broadcast(room, Broadcast(doc_id, delta, version), conn)

    def _broadcast(self, room: _Room, out: Broadcast, sender: Connection | None) -> None:
        body = encode_frame_body(out)  # once, numbered per connection
        for other in list(room.subscribers.values()):
            if other is not sender:
                other._send(out, body)
                if other.closed:
                    self._drop(other)

    def _commit(self, doc_id: str, room: _Room, changes: bytes) -> tuple[bytes, bytes]:
        """Merge ``changes`` into the room and commit what is new.

        Returns the new operations (b"" when nothing was new) and the encoded version after.
        Raises _Refused when the changes are refused; then nothing changed.
        """
        limit = self.limits.max_doc_bytes
        if room.size + len(changes) > limit:
            raise _Refused(
                ErrorCode.DOC_TOO_LARGE,
                f"document {doc_id!r} would grow past the limit of {limit} bytes "
                f"({room.size} stored, {len(changes)} pushed)",
            )
        doc = room.doc
        before = doc.version()
        try:
            doc.apply(changes)
        except DecodeError as exc:
            raise _Refused(
                ErrorCode.BAD_CHANGES, f"changes refused, nothing stored: {exc}"
            ) from None
        after = doc.version()
        if after == before:
            return b"", after.encode()
        delta = doc.changes(before)
        try:
            self.store.append(doc_id, delta)
        except StorageError as exc:
            # Memory now holds what the disk does not: forget the room, so it reloads from
            # the store; its subscribers reconnect and resync.
            self._evict(doc_id, f"storage failed: {exc}")
            raise _Refused(ErrorCode.INTERNAL, str(exc), retryable=True) from None
        room.size += len(delta)
        room.log_count += 1
        if room.log_count >= self.limits.compact_every:
            self._compact(doc_id, room)
        return delta, after.encode()

    def _compact(self, doc_id: str, room: _Room) -> None:
        snapshot = room.doc.save()
        try:
            self.store.compact(doc_id, snapshot, room.log_count)
        except StorageError:
            return  # the log still holds everything; try again later
        room.size = len(snapshot)
        room.log_count = 0

    # -- rooms ------------------------------------------------------------------------

    def _room(self, doc_id: str) -> _Room:
        room = self._rooms.get(doc_id)
        if room is None:
            room = self._load(doc_id)
            self._rooms[doc_id] = room
        self._touch(doc_id, room)
        return room

    def _touch(self, doc_id: str, room: _Room) -> None:
        """Mark a room as just used; compact the least recently used beyond the limit."""
        live = self._live
        live.pop(doc_id, None)
        live[doc_id] = room
        while len(live) > self.limits.live_docs:
            oldest = next(iter(live))
            live.pop(oldest).doc.compact()

    def _load(self, doc_id: str) -> _Room:
        stored = self.store.load(doc_id)
        if stored is None:
            return _Room(Document(), 0, 0)
        doc = Document.load(stored.snapshot) if stored.snapshot else Document()
        for batch in stored.changes:
            doc.apply(batch)
        return _Room(doc, stored.size, len(stored.changes))

    def _leave(self, conn: Connection, doc_id: str) -> None:
        room = self._rooms.get(doc_id)
        if room is None:
            return
        room.subscribers.pop(conn.id, None)
        if not room.subscribers:
            self._unload(doc_id, room)

    def _unload(self, doc_id: str, room: _Room) -> None:
        if room.log_count:
            self._compact(doc_id, room)
        del self._rooms[doc_id]
        self._live.pop(doc_id, None)

    def _evict(self, doc_id: str, why: str) -> None:
        room = self._rooms.pop(doc_id, None)
        self._live.pop(doc_id, None)
        if room is None:
            return
        for conn in list(room.subscribers.values()):
            conn._send(Error(ErrorCode.INTERNAL, why, retryable=True, fatal=True))
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        if self._connections.pop(conn.id, None) is None:
            return
        for doc_id, room in list(self._rooms.items()):
            if conn.id in room.subscribers:
                self._leave(conn, doc_id)

    # -- HTTP -------------------------------------------------------------------------

    def doc_json(self, doc_id: str) -> dict[str, object] | None:
        """The JSON view of a stored document, or None when it does not exist.

        Raises:
            StorageError, DecodeError: the store failed or holds corrupt data.
        """
        room = self._rooms.get(doc_id)
        if room is None:
            if self.store.load(doc_id) is None:
                return None
            room = self._load(doc_id)
        else:
            self._touch(doc_id, room)
            if not room.doc.version():
                return None
        return dict(room.doc.to_json())

    def http_sync(self, doc_id: str, body: bytes) -> tuple[int, bytes]:
        """Answer ``POST /v1/docs/{doc_id}/sync``: status and protobuf body.

        The body is a ``HttpSyncRequest``; the answer a ``HttpSyncResponse`` (200) or an
        ``Error`` (4xx/5xx). Changes are committed before the answer, and broadcast to the
        WebSocket subscribers of the document.
        """
        problem = check_doc_id(doc_id)
        if problem is not None:
            return _http_error(400, ErrorCode.INVALID_DOC_ID, problem)
        if self._closed:
            return _http_error(503, ErrorCode.SHUTTING_DOWN, "server is shutting down", True)
        if len(body) > self.limits.max_frame_bytes:
            return _http_error(
                413,
                ErrorCode.FRAME_TOO_LARGE,
                f"body of {len(body)} bytes exceeds the limit of {self.limits.max_frame_bytes}",
            )
        req = pb.HttpSyncRequest()
        try:
            req.ParseFromString(body)
        except Exception as exc:  # protobuf raises DecodeError or ValueError subclasses
            return _http_error(400, ErrorCode.BAD_FRAME, f"body is not a HttpSyncRequest: {exc}")
        if req.protocol_version != PROTOCOL_VERSION:
            return _http_error(
                400,
                ErrorCode.PROTOCOL_VERSION,
                f"protocol version {req.protocol_version} is not supported "
                f"(this server speaks {PROTOCOL_VERSION})",
            )
        if self._authenticate is not None and not self._authenticate(req.client_id, req.token):
            return _http_error(401, ErrorCode.AUTH_FAILED, "authentication failed: token refused")
        try:
            since = VersionVector.decode(req.version) if req.version else VersionVector()
        except DecodeError as exc:
            return _http_error(400, ErrorCode.BAD_CHANGES, str(exc))
        loaded = doc_id in self._rooms
        try:
            room = self._room(doc_id)
        except (StorageError, DecodeError) as exc:
            return _http_error(500, ErrorCode.INTERNAL, f"cannot load document: {exc}", True)
        try:
            if req.changes:
                try:
                    delta, version = self._commit(doc_id, room, req.changes)
                except _Refused as refused:
                    status = {ErrorCode.DOC_TOO_LARGE: 413, ErrorCode.INTERNAL: 500}
                    return _http_error(
                        status.get(refused.code, 400),
                        refused.code,
                        refused.message,
                        refused.retryable,
                    )
                if delta:
                    self._broadcast(room, Broadcast(doc_id, delta, version), None)
            resp = pb.HttpSyncResponse(
                changes=room.doc.changes(since), server_version=room.doc.version().encode()
            )
            return 200, resp.SerializeToString()
        finally:
            if not loaded and doc_id in self._rooms and not room.subscribers:
                self._unload(doc_id, room)

    # -- shutdown ---------------------------------------------------------------------

    @staticmethod
    def shutting_down_error() -> Error:
        """The fatal error that tells a client the server is going away."""
        return Error(ErrorCode.SHUTTING_DOWN, "server is shutting down", retryable=True, fatal=True)

    def close(self) -> None:
        """Tell every connection the server is going away, snapshot open rooms, close the
        store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for conn in list(self._connections.values()):
            conn._send(self.shutting_down_error())
        for doc_id, room in list(self._rooms.items()):
            if room.log_count:
                self._compact(doc_id, room)
        self._rooms.clear()
        self._live.clear()
        self._connections.clear()
        self.store.close()


class _Refused(Exception):  # noqa: N818 - control flow inside this module, never escapes
    def __init__(self, code: ErrorCode, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


def _http_error(
    status: int, code: ErrorCode, message: str, retryable: bool = False
) -> tuple[int, bytes]:
    err = pb.Error(
        code=pb.ErrorCode.ValueType(code), message=message, retryable=retryable, fatal=True
    )
    return status, err.SerializeToString()
