"""The client's sync logic, without I/O: documents, their store, and one session at a time.

:class:`SyncEngine` is what the asyncio client and the network simulation both drive::

    engine.connection_made(now)          # a transport is up: queues Hello
    engine.receive(frame, now)           # a frame arrived
    engine.flush()                       # push local edits (after any edit)
    frames = engine.data_to_send()       # write these to the transport
    engine.tick(now)                     # now and then: False -> drop the transport
    engine.connection_lost()             # the transport is gone

Without a WebSocket, the same engine syncs one document per HTTP request (the server's
``POST /v1/docs/{doc_id}/sync`` fallback)::

    body = engine.http_request(doc_id)   # POST it; then, with the answer:
    outcome = engine.receive_http(doc_id, status, answer_body, content_type=...)
    # or, when no answer came (connection refused, reset, timed out):
    engine.http_failed(doc_id)
    # outcome is HttpOutcome.AGAIN: build and send the next request for doc_id at once

Time is always passed in. Every local edit is appended to the store from inside the
document's change callback, before anything can be sent, so what is queued is always on disk.
What to push is recomputed from version vectors: on each connection the server says what it
holds (``Subscribed``), and the engine pushes exactly what it lacks, pipelining further edits
as they happen. Acknowledged versions come only from the server, which acknowledges only
after its commit.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from synckit.client._store import Store
from synckit.core import ChangeEvent, Document, VersionVector
from synckit.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from synckit.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Broadcast,
    ClientSession,
    DocState,
    Error,
    ErrorCode,
    Event,
    Hello,
    Ping,
    Push,
    State,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    check_doc_id,
)
from synckit.v1 import protocol_pb2 as pb

__all__ = ["HttpOutcome", "SyncEngine"]

#: Errors after which reconnecting cannot help.
_TERMINAL = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.PROTOCOL_VERSION})

#: The media type of HTTP sync requests and of every answer a SyncKit server gives them.
HTTP_MEDIA_TYPE = "application/x-protobuf"


class HttpOutcome(enum.Enum):
    """What :meth:`SyncEngine.receive_http` made of an answer, and what the caller does next."""

    #: The server answered and holds what it was sent; nothing more to send for this document
    #: until the next poll or local edit.
    DONE = "done"
    #: The server answered, and there is more to send now (its version was not known yet, or
    #: local edits happened while the request was out): call ``http_request`` again at once.
    AGAIN = "again"
    #: The server refused the request. The error is recorded: for the document
    #: (:meth:`SyncEngine.doc_error`) or, when no request can succeed (refused token, protocol
    #: version), as :attr:`SyncEngine.terminal_error`.
    REFUSED = "refused"
    #: The answer is not from a SyncKit server (a proxy's error page, garbage), or the server is
    #: shutting down: take it as a network failure and back off. Nothing was recorded as synced.
    UNREACHABLE = "unreachable"

    @property
    def reached(self) -> bool:
        """The SyncKit server itself answered."""
        return self is not HttpOutcome.UNREACHABLE


@dataclass(slots=True)
class _Replica:
    doc: Document
    #: What the store holds of the document.
    persisted: VersionVector
    #: Batches appended since the last snapshot.
    log_count: int
    unsubscribe: Callable[[], None]
    #: The server's version as it last told us on this connection (None: not told yet).
    #: Frames arrive in order and the server's version only grows, so the latest one holds
    #: everything earlier ones did; it is decoded only when needed.
    server_raw: bytes | None = None
    server_cache: tuple[bytes, VersionVector] | None = None
    #: The document's version at the last push on this connection.
    pushed: VersionVector = field(default_factory=VersionVector)
    #: The last error the server sent about this document.
    error: Error | None = None
    #: An HTTP sync request for this document is out, awaiting its answer.
    http_pending: bool = False
    #: Bytes of changes in that request (for error messages).
    http_pushed: int = 0


class SyncEngine:
    """Documents of one replica and their sync over successive connections.

    Args:
        store: where documents and edits persist.
        actor_id: the client id every document writes under (see ``Store.actor_id``).
        token: sent in the Hello.
        response_timeout: seconds without a frame while an answer is due before
            :meth:`tick` gives up on the connection.
        ping_interval: seconds of silence before :meth:`tick` sends a Ping.
        compact_every: snapshot a document in the store after this many appended batches.
        clock: passed to every Document (milliseconds); None for the system clock.
        wake: called when frames may be waiting (a local edit happened).
    """

    def __init__(
        self,
        store: Store,
        actor_id: str,
        *,
        token: str = "",
        response_timeout: float = 20.0,
        ping_interval: float = 10.0,
        compact_every: int = 256,
        clock: Callable[[], int] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.actor_id = actor_id
        self.token = token
        self.response_timeout = response_timeout
        self.ping_interval = ping_interval
        self.compact_every = compact_every
        self.wake = wake
        self._clock = clock
        self._replicas: dict[str, _Replica] = {}
        self.session: ClientSession | None = None
        #: The server's frame limit, from its Welcome.
        self.max_frame_bytes = 0
        #: An error after which reconnecting is pointless (refused token, protocol version).
        self.terminal_error: Error | None = None
        #: The last fatal error of a connection, from either side.
        self.last_error: Error | None = None
        self._last_heard = 0.0
        self._ping_due = False
        self._nonces = itertools.count(1)
        #: Pushes the server acknowledged, over all connections (a statistic).
        self.acked_pushes = 0
        # Unanswered requests -> the time a tick first saw them.
        self._waiting: dict[object, float] = {}

    # -- documents ----------------------------------------------------------------------

    def open(self, doc_id: str) -> Document:
        """The document ``doc_id``, loaded from the store (or new); synced from now on.

        Raises:
            ValueError: ``doc_id`` is not a valid document id.
            StorageError, DecodeError: the store failed or holds corrupt data.
        """
        rep = self._replicas.get(doc_id)
        if rep is not None:
            return rep.doc
        problem = check_doc_id(doc_id)
        if problem is not None:
            raise ValueError(problem)
        stored = self.store.load(doc_id)
        if stored is None:
            doc = Document(self.actor_id, clock=self._clock)
            log_count = 0
        else:
            if stored.snapshot is not None:
                doc = Document.load(stored.snapshot, self.actor_id, clock=self._clock)
            else:
                doc = Document(self.actor_id, clock=self._clock)
            for batch in stored.changes:
                doc.apply(batch)
            log_count = len(stored.changes)

        def on_change(event: ChangeEvent) -> None:
            self._on_change(doc_id, event)

        rep = _Replica(doc, doc.version(), log_count, doc.subscribe(on_change, text_edits=False))
        self._replicas[doc_id] = rep
        if self.online:
            self._subscribe(doc_id, rep)
        return doc

    def close_doc(self, doc_id: str) -> None:
        """Stop syncing ``doc_id`` and forget it (its store data stays)."""
        rep = self._replicas.pop(doc_id, None)
        if rep is None:
            return
        rep.unsubscribe()
        session = self.session
        if session is not None and session.doc_state(doc_id) is not None:
            session.send(Unsubscribe(doc_id))

    @property
    def doc_ids(self) -> list[str]:
        return list(self._replicas)

    def document(self, doc_id: str) -> Document | None:
        rep = self._replicas.get(doc_id)
        return None if rep is None else rep.doc

    def doc_error(self, doc_id: str) -> Error | None:
        """The last error recorded for the open document ``doc_id`` (by the server or by the
        engine itself, such as a push over the frame limit); None when there is none."""
        rep = self._replicas.get(doc_id)
        return None if rep is None else rep.error

    def _on_change(self, doc_id: str, event: ChangeEvent) -> None:
        if not event.local:
            return  # remote changes are stored as received, by _apply
        rep = self._replicas[doc_id]
        version = rep.doc.version()
        if not rep.persisted.dominates(version):
            self._append(doc_id, rep, rep.doc.changes(rep.persisted), version)
        if self.wake is not None:
            self.wake()

    def _append(self, doc_id: str, rep: _Replica, changes: bytes, version: VersionVector) -> None:
        self.store.append(doc_id, changes)
        rep.persisted = version
        rep.log_count += 1
        if rep.log_count >= self.compact_every:
            self.store.compact(doc_id, rep.doc.save(), rep.log_count)
            rep.log_count = 0

    def _server(self, rep: _Replica) -> VersionVector | None:
        """The server's version (decoded once per new value); None when not told."""
        raw = rep.server_raw
        if raw is None:
            return None
        cache = rep.server_cache
        if cache is not None and cache[0] is raw:
            return cache[1]
        try:
            version = VersionVector.decode(raw)
        except DecodeError as exc:
            self._fail(ErrorCode.BAD_CHANGES, f"server version does not decode: {exc}")
            rep.server_raw = None
            return None
        rep.server_cache = (raw, version)
        return version

    # -- sync state ---------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """A session is open (the server accepted our Hello)."""
        return self.session is not None and self.session.state is State.OPEN

    def unsynced(self) -> list[str]:
        """Documents holding local edits the server has not acknowledged."""
        out = []
        for doc_id, rep in self._replicas.items():
            version = rep.doc.version()
            server = self._server(rep)
            if server is None:
                # Not told on this connection: only a document we never wrote to is known synced.
                if version[self.actor_id]:
                    out.append(doc_id)
            elif not server.dominates(version):
                out.append(doc_id)
        return out

    def sync_error(self) -> Error | None:
        """An error that keeps local edits from ever being acknowledged as things stand."""
        if self.terminal_error is not None:
            return self.terminal_error
        for rep in self._replicas.values():
            if rep.error is not None and not rep.error.retryable:
                return rep.error
        return None

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """A transport is up: start a session (queues the Hello)."""
        self.session = ClientSession()
        self.session.send(Hello(self.actor_id, self.token, ()))
        self._last_heard = now
        self._ping_due = False
        self._waiting.clear()
        for rep in self._replicas.values():
            rep.server_raw = None
            rep.error = None
            rep.http_pending = False

    def connection_lost(self) -> None:
        """The transport is gone."""
        if self.session is not None:
            self.session.close()
            self.session = None
        for rep in self._replicas.values():
            rep.server_raw = None

    @property
    def has_data_to_send(self) -> bool:
        """Frames are waiting (answers, pushes): call :meth:`data_to_send`."""
        return self.session is not None and self.session.has_data_to_send

    def data_to_send(self) -> list[bytes]:
        """Frames to write to the transport, oldest first."""
        return [] if self.session is None else self.session.data_to_send()

    @property
    def closing(self) -> bool:
        """The session ended: write :meth:`data_to_send`, then close the transport."""
        return self.session is not None and self.session.state is State.CLOSED

    def receive(self, frame: bytes, now: float) -> list[Event]:
        """Handle one frame from the server; return the events it carried."""
        session = self.session
        if session is None:
            return []
        self._last_heard = now
        self._ping_due = False
        try:
            events = session.receive(frame)
        except RemoteProtocolError:
            self.last_error = session.error
            return []
        for event in events:
            self._handle(event)
        return events

    def _handle(self, event: Event) -> None:
        rep: _Replica | None
        match event:
            case Welcome(max_frame_bytes=limit):
                self.max_frame_bytes = limit
                for doc_id, rep in self._replicas.items():
                    self._subscribe(doc_id, rep)
            case Subscribed(doc_id=doc_id):
                rep = self._replicas.get(doc_id)
                if rep is None:
                    return
                mine = rep.doc.version()[self.actor_id]
                rep.server_raw = event.server_version
                server = self._server(rep)
                if server is not None:
                    self._check_rolled_back(doc_id, rep, mine, server)
                if not self._apply(doc_id, rep, event.changes):
                    return
                rep.pushed = VersionVector()
                self._push(doc_id, rep)
            case Ack(doc_id=doc_id):
                self.acked_pushes += 1
                rep = self._replicas.get(doc_id)
                if rep is None or rep.server_raw is None:
                    return
                rep.server_raw = event.server_version
                session = self.session
                if session is not None and doc_id not in session.pending_batches.values():
                    server = self._server(rep)
                    if server is not None and not server.dominates(rep.pushed):
                        # The server did not take everything we pushed: push the rest again.
                        rep.pushed = VersionVector()
                        self._push(doc_id, rep)
            case Broadcast(doc_id=doc_id):
                rep = self._replicas.get(doc_id)
                if rep is None or not self._apply(doc_id, rep, event.changes):
                    return
                if rep.server_raw is not None:
                    rep.server_raw = event.server_version
            case Error(fatal=True):
                self.last_error = event
                if event.code in _TERMINAL:
                    self.terminal_error = event
            case Error(doc_id=doc_id) if doc_id in self._replicas:
                rep = self._replicas[doc_id]
                rep.error = event
                if not event.batch_id:
                    rep.server_raw = None  # the subscription ended; retried on the next connection
                elif event.retryable:
                    rep.pushed = VersionVector()
            case _:
                pass

    def _check_rolled_back(
        self, doc_id: str, rep: _Replica, mine: int, server: VersionVector
    ) -> None:
        """Refuse to push ``doc_id`` when the server holds more of our own edits (``server``)
        than the document did before taking the server's changes (``mine``)."""
        if server[self.actor_id] > mine:
            # The server holds edits of this very replica that its store lacks: the store was
            # rolled back (a restored copy). Edits made since reuse their numbers and would be
            # dropped as duplicates, so refuse to push them.
            rep.error = Error(
                ErrorCode.ILLEGAL_STATE,
                f"the store of {self.actor_id!r} is older than the server's copy of "
                f"its edits to {doc_id!r} (seq {mine} < {server[self.actor_id]}): "
                "was it restored from a backup? Open the client with a fresh store",
                doc_id=doc_id,
            )

    def _apply(self, doc_id: str, rep: _Replica, changes: bytes) -> bool:
        """Apply changes from the server and store them as they came."""
        before = rep.doc.version()
        try:
            rep.doc.apply(changes)
        except DecodeError as exc:
            self._fail(ErrorCode.BAD_CHANGES, f"changes for {doc_id!r} do not decode: {exc}")
            return False
        version = rep.doc.version()
        if version != before:
            # Everything the version holds is now in the store: earlier bytes were stored the
            # same way, and local edits by _on_change.
            self._append(doc_id, rep, changes, version)
        return True

    def _fail(self, code: ErrorCode, message: str) -> None:
        session = self.session
        if session is not None and session.state is not State.CLOSED:
            err = Error(code, message, retryable=False, fatal=True)
            session.send(err)
            self.last_error = err

    def _subscribe(self, doc_id: str, rep: _Replica) -> None:
        assert self.session is not None
        rep.server_raw = None
        self.session.send(Subscribe(doc_id, rep.doc.version().encode()))

    # -- pushing ------------------------------------------------------------------------

    def flush(self) -> None:
        """Push every local edit the server has not been sent on this connection."""
        if not self.online:
            return
        for doc_id, rep in self._replicas.items():
            if rep.server_raw is not None:
                self._push(doc_id, rep)

    def _push(self, doc_id: str, rep: _Replica) -> None:
        session = self.session
        if session is None or session.state is not State.OPEN:
            return
        if session.doc_state(doc_id) is not DocState.SUBSCRIBED:
            return
        server = self._server(rep)
        if server is None:
            return
        version = rep.doc.version()
        base = server.merge(rep.pushed) if rep.pushed else server
        if base.dominates(version):
            return
        if rep.error is not None and not rep.error.retryable:
            return  # refused on this connection: tried again only on the next one
        data = rep.doc.changes(base)
        if self.max_frame_bytes and len(data) + 64 + len(doc_id) > self.max_frame_bytes:
            rep.error = Error(
                ErrorCode.FRAME_TOO_LARGE,
                f"unsent changes of {doc_id!r} take {len(data)} bytes, more than the "
                f"server's frame limit of {self.max_frame_bytes}",
                doc_id=doc_id,
            )
            return
        session.send(Push(doc_id, session.next_batch_id(), data))
        rep.pushed = version

    # -- HTTP fallback ------------------------------------------------------------------

    def http_request(self, doc_id: str) -> bytes:
        """The body of the next ``POST /v1/docs/{doc_id}/sync``: an ``HttpSyncRequest``.

        While the server's version of the document is unknown (the first request, or after
        :meth:`http_failed`), the request carries only the document's version, and the answer
        tells the server's. After that it carries exactly the changes the server lacks
        (``version`` is then the document's version without them, as the protocol says), or
        none when the server holds everything. Nothing is pushed while a non-retryable error
        about the document stands (:meth:`doc_error`), nor when the request would exceed a
        frame limit the server announced (recorded as ``FRAME_TOO_LARGE``): the request then
        only asks for what the server holds.

        Send the body with content type ``application/x-protobuf``; then call
        :meth:`receive_http` with the answer, or :meth:`http_failed` if none came.

        Raises:
            LocalProtocolError: ``doc_id`` is not open, a request for it is already out, or a
                WebSocket session is active (one transport at a time).
        """
        if self.session is not None:
            raise LocalProtocolError("a WebSocket session is active: sync over it, not HTTP")
        rep = self._replicas.get(doc_id)
        if rep is None:
            raise LocalProtocolError(f"document {doc_id!r} is not open")
        if rep.http_pending:
            raise LocalProtocolError(f"an HTTP sync request for {doc_id!r} is already out")
        version = rep.doc.version()
        since, changes = version, b""
        server = self._server(rep)
        blocked = rep.error is not None and not rep.error.retryable
        if server is not None and not blocked and not server.dominates(version):
            changes = rep.doc.changes(server)
            since = _meet(version, server)
        body = self._http_body(since, changes)
        limit = self.max_frame_bytes
        if changes and limit and len(body) > limit:
            rep.error = Error(
                ErrorCode.FRAME_TOO_LARGE,
                f"unsent changes of {doc_id!r} take {len(changes)} bytes, more than the "
                f"server's frame limit of {limit}",
                doc_id=doc_id,
            )
            changes, body = b"", self._http_body(version, b"")
        rep.http_pending = True
        rep.http_pushed = len(changes)
        return body

    def _http_body(self, version: VersionVector, changes: bytes) -> bytes:
        request = pb.HttpSyncRequest(
            protocol_version=PROTOCOL_VERSION,
            client_id=self.actor_id,
            token=self.token,
            version=version.encode(),
            changes=changes,
        )
        return request.SerializeToString()

    def receive_http(
        self, doc_id: str, status: int, body: bytes, *, content_type: str | None = None
    ) -> HttpOutcome:
        """Take the answer to the request :meth:`http_request` made for ``doc_id``.

        A 200 answer (``HttpSyncResponse``) is applied to the document and stored as it came,
        and the server's version is recorded, so :meth:`unsynced` and :meth:`sync_error` tell
        the truth as they do over a WebSocket. An error answer (an ``Error``) is recorded as
        its WebSocket twin would be: ``AUTH_FAILED`` and ``PROTOCOL_VERSION`` as
        :attr:`terminal_error`; ``SHUTTING_DOWN`` as a network failure; anything else as the
        document's error (:meth:`doc_error`) with the server's ``retryable`` flag; a
        non-retryable one stops pushes of the document until :meth:`http_failed`.

        Args:
            status: the HTTP status code.
            body: the answer's body.
            content_type: the answer's ``Content-Type`` when known. Anything other than
                ``application/x-protobuf`` did not come from a SyncKit server (a proxy's error
                page, say) and counts as a network failure.

        Returns:
            what to do next: see :class:`HttpOutcome`. An answer for a document closed since
            the request is dropped (``DONE``).

        Raises:
            LocalProtocolError: no request for ``doc_id`` is out.
        """
        rep = self._replicas.get(doc_id)
        if rep is None:
            return HttpOutcome.DONE
        if not rep.http_pending:
            raise LocalProtocolError(f"no HTTP sync request for {doc_id!r} is out")
        rep.http_pending = False
        if content_type is not None:
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != HTTP_MEDIA_TYPE:
                return self._unreachable(
                    doc_id, f"HTTP {status} answer of type {media_type!r} is not from SyncKit"
                )
        if status == 200:
            return self._http_synced(doc_id, rep, body)
        return self._http_refused(doc_id, rep, status, body)

    def http_failed(self, doc_id: str, reason: str = "") -> None:
        """No answer came to the request for ``doc_id`` (refused, reset, timed out).

        The request may or may not have been committed, so the server's version is forgotten
        and the next request asks for it again. As after a reconnect, errors about the
        document are cleared: a refused push is tried again. ``reason`` is kept as
        :attr:`last_error`. Back off before the next request.
        """
        rep = self._replicas.get(doc_id)
        if reason:
            self.last_error = Error(ErrorCode.UNSPECIFIED, reason)
        if rep is None:
            return
        rep.http_pending = False
        rep.server_raw = None
        rep.error = None

    def _unreachable(self, doc_id: str, reason: str) -> HttpOutcome:
        self.http_failed(doc_id, reason)
        return HttpOutcome.UNREACHABLE

    def _http_synced(self, doc_id: str, rep: _Replica, body: bytes) -> HttpOutcome:
        answer = pb.HttpSyncResponse()
        raw = b""
        try:
            answer.ParseFromString(body)
            raw = answer.server_version
            server = VersionVector.decode(raw)
        except Exception as exc:  # protobuf raises DecodeError or ValueError subclasses
            return self._unreachable(doc_id, f"the answer for {doc_id!r} does not decode: {exc}")
        # Before applying: the answer carries our own pushed changes back.
        self._check_rolled_back(doc_id, rep, rep.doc.version()[self.actor_id], server)
        if not self._apply(doc_id, rep, answer.changes):
            return self._unreachable(doc_id, f"changes for {doc_id!r} do not decode")
        rep.server_raw = raw
        rep.server_cache = (raw, server)
        if rep.error is not None:
            if not rep.error.retryable:
                return HttpOutcome.DONE  # pushes refused: only receive
            rep.error = None
        return HttpOutcome.DONE if server.dominates(rep.doc.version()) else HttpOutcome.AGAIN

    def _http_refused(self, doc_id: str, rep: _Replica, status: int, body: bytes) -> HttpOutcome:
        answer = pb.Error()
        try:
            answer.ParseFromString(body)
        except Exception:  # protobuf raises DecodeError or ValueError subclasses
            answer.Clear()
        if answer.code == pb.ERROR_CODE_UNSPECIFIED:
            return self._unreachable(doc_id, f"HTTP {status} answer is not a SyncKit error")
        try:
            code = ErrorCode(answer.code)
        except ValueError:
            code = ErrorCode.UNSPECIFIED  # a newer server's code: keep the message
        message = answer.message or f"HTTP {status}"
        if code in _TERMINAL:
            self.terminal_error = self.last_error = Error(code, message)
            return HttpOutcome.REFUSED
        if code is ErrorCode.SHUTTING_DOWN:
            return self._unreachable(doc_id, message)
        if code is ErrorCode.FRAME_TOO_LARGE:
            message = (
                f"unsent changes of {doc_id!r} take {rep.http_pushed} bytes; the server "
                f"refused the request as too large: {message}"
            )
        rep.error = Error(code, message, retryable=answer.retryable, doc_id=doc_id)
        return HttpOutcome.REFUSED

    # -- timers -------------------------------------------------------------------------

    def tick(self, now: float) -> bool:
        """Check the connection's liveness at time ``now`` (seconds, any fixed origin).

        Every request (Hello, Subscribe, Push, Ping) is timed from the first tick that sees it
        unanswered. May queue a Ping after ``ping_interval`` of silence. Returns False when an
        answer is more than ``response_timeout`` overdue: drop the transport.
        """
        session = self.session
        if session is None or session.state is State.CLOSED:
            return True
        waiting: set[object] = {("batch", b) for b in session.pending_batches}
        waiting.update(
            ("subscribe", d) for d in self._replicas if session.doc_state(d) is DocState.SUBSCRIBING
        )
        if session.state is not State.OPEN:
            waiting.add("hello")
        if self._ping_due:
            waiting.add("ping")
        seen = self._waiting
        for key in list(seen):
            if key not in waiting:
                del seen[key]
        for key in waiting:
            seen.setdefault(key, now)
        oldest = min(seen.values(), default=now)
        if now - oldest > self.response_timeout:
            self.last_error = Error(
                ErrorCode.UNSPECIFIED, f"no answer from the server for {now - oldest:.1f} s"
            )
            return False
        quiet = now - self._last_heard
        if quiet > self.ping_interval and not self._ping_due and session.state is State.OPEN:
            session.send(Ping(next(self._nonces)))
            self._ping_due = True
        return True

    def close(self) -> None:
        """Snapshot documents with a log into the store and stop (the store stays open)."""
        for doc_id, rep in list(self._replicas.items()):
            rep.unsubscribe()
            if rep.log_count:
                self.store.compact(doc_id, rep.doc.save(), rep.log_count)
        self._replicas.clear()
        self.connection_lost()


def _meet(a: VersionVector, b: VersionVector) -> VersionVector:
    """What both versions hold: per client, the smaller sequence number."""
    return VersionVector({c: n for c, seq in a.items() if (n := min(seq, b[c]))})
