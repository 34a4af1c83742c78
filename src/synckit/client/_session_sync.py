"""The client's WebSocket transport logic: one protocol session at a time over one engine.

:class:`SessionSync` drives a :class:`~synckit.protocol.ClientSession` for the documents of a
:class:`~synckit.client._replicas.ReplicaSet`::

    engine.connection_made(now)          # a transport is up: queues Hello
    engine.receive(frame, now)           # a frame arrived
    engine.flush()                       # push local edits (after any edit)
    frames = engine.data_to_send()       # write these to the transport
    engine.tick(now)                     # now and then: False -> drop the transport
    engine.connection_lost()             # the transport is gone

On each connection the server says what it holds (``Subscribed``) and the engine pushes exactly
what it lacks, pipelining further edits as they happen. Acknowledged versions come only from the
server, which acknowledges only after its commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synckit.client._presence import DocPresence
from synckit.client._replicas import Replica, ReplicaSet, is_terminal
from synckit.core import VersionVector
from synckit.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from synckit.protocol import (
    PRESENCE,
    PRESENCE_CODES,
    VERSION_DELTAS,
    Ack,
    Broadcast,
    ClientSession,
    DeleteDoc,
    DocDeleted,
    DocState,
    Error,
    ErrorCode,
    Event,
    Hello,
    Ping,
    Presence,
    PresenceSet,
    Push,
    State,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
)

__all__ = ["SessionSync"]

#: Seconds before subscribing again after the server ended a subscription with a retryable
#: error (unless the error asks for longer).
RESUBSCRIBE_SECONDS = 1.0

#: What the client's Hello advertises: presence, and the server's version told as what grew.
_CAPABILITIES = (PRESENCE, VERSION_DELTAS)


class SessionSync(ReplicaSet):
    """A :class:`ReplicaSet` synced over a protocol session (a WebSocket, or a simulation's
    link)."""

    def _opened(self, doc_id: str, rep: Replica) -> None:
        if self.online:
            self._subscribe(doc_id, rep)

    def _send_deletions(self) -> None:
        session = self.session
        if session is None or not self.online or not self._welcomed:
            return
        for doc_id, deletion in self._deletions.items():
            if deletion.request_id or deletion.done or deletion.error is not None:
                continue
            if not session.may_delete:
                deletion.error = Error(
                    ErrorCode.UNKNOWN_MESSAGE,
                    f"cannot delete {doc_id!r}: the server does not support deleting "
                    "documents (no 'delete' capability)",
                    doc_id=doc_id,
                )
                continue
            deletion.request_id = session.next_request_id()
            session.send(DeleteDoc(doc_id, deletion.request_id))

    def _identity_changed(self) -> None:
        # The server binds a connection to the client id of its Hello: start a new one.
        if self.session is not None and self.session.state is not State.CLOSED:
            self.session.close()

    def _closed(self, doc_id: str) -> None:
        session = self.session
        if session is not None and session.doc_state(doc_id) is not None:
            session.send(Unsubscribe(doc_id))  # the server drops our presence there too
        record = self._presence.pop(doc_id, None)
        if record is not None:
            record.reset()

    # -- presence -----------------------------------------------------------------------

    def doc_presence(self, doc_id: str) -> DocPresence:
        """The presence record of open document ``doc_id``.

        Raises:
            LocalProtocolError: the document is not open.
        """
        record = self._presence.get(doc_id)
        if record is None:
            if doc_id not in self._replicas:
                raise LocalProtocolError(f"open document {doc_id!r} before using its presence")
            record = self._presence[doc_id] = DocPresence(doc_id)
        return record

    @property
    def presence_available(self) -> bool:
        """A session is open with a server that speaks presence."""
        return self.online and self.session is not None and self.session.presence

    def set_presence(
        self, doc_id: str, state: bytes | None, value: Mapping[str, Any] | None
    ) -> None:
        """Set (None: clear) this replica's presence state in ``doc_id``; queued for the
        server at once when the document is subscribed on an open session."""
        record = self.doc_presence(doc_id)
        if state == record.local:
            return
        had = record.local is not None
        record.local, record.value, record.error = state, value, None
        if state is not None or had:
            self._send_presence(record, self._last_heard)

    def _send_presence(self, record: DocPresence, now: float) -> None:
        session = self.session
        if session is None or not self.presence_available:
            return
        if session.doc_state(record.doc_id) is None:
            return  # sent once subscribed
        session.send(PresenceSet(record.doc_id, record.local or b""))
        record.sent_at = now

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """A transport is up: start a session (queues the Hello)."""
        self.session = ClientSession()
        self.session.send(Hello(self.actor_id, self.token, _CAPABILITIES))
        self._last_heard = now
        self._ping_due = False
        self._waiting.clear()
        self._batch_mine.clear()
        self._welcomed = False
        for deletion in self._deletions.values():
            deletion.request_id = 0  # unanswered: asked again on this connection
        for rep in self._replicas.values():
            rep.server_raw = None
            rep.error = None
            rep.http_pending = False
            rep.stored = 0
            rep.resubscribe_at = 0.0

    def reauthenticate(self, token: str) -> None:
        """Send a Hello with a fresh ``token`` on the open session (before the one in use
        expires); subscriptions and pending pushes carry on."""
        self.token = token
        session = self.session
        if session is not None and session.state is State.OPEN:
            session.send(Hello(self.actor_id, token, _CAPABILITIES))

    def reauth_due(self, now: float) -> bool:
        """Whether the token should be renewed at Unix time ``now``: a fifth of its lifetime
        as of the Welcome, or 30 s, whichever is less, is left (but never less than 2 s, or
        half the lifetime when that is shorter)."""
        return self.token_expires is not None and self.online and now >= self._renew_at

    def connection_lost(self) -> None:
        """The transport is gone."""
        if self.session is not None:
            self.session.close()
            self.session = None
        for rep in self._replicas.values():
            rep.server_raw = None
        for record in self._presence.values():
            record.reset()

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
        rep: Replica | None
        match event:
            case Welcome(max_frame_bytes=limit):
                self.max_frame_bytes = limit
                self.max_push_ops = event.max_push_ops
                self.max_presence_bytes = event.max_presence_bytes
                if event.presence_timeout_ms:
                    self.presence_renew = event.presence_timeout_ms / 3000
                expires = event.token_expires_ms
                self.token_expires = expires / 1000 if expires else None
                if self.token_expires is not None:
                    # Renew when a fifth of the lifetime (at most 30 s) is left, yet at least
                    # 2 s before it ends (halfway for shorter ones): the client looks about
                    # once a second, and a short-lived token must not expire in between.
                    left = max(self.token_expires - self.wall_clock(), 0.0)
                    margin = min(30.0, max(left / 5, min(2.0, left / 2)))
                    self._renew_at = self.token_expires - margin
                if self._welcomed:
                    return  # a re-authentication: subscriptions carry on
                self._welcomed = True
                for doc_id, rep in self._replicas.items():
                    self._subscribe(doc_id, rep)
                self._send_deletions()
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
                rep.received = True
                rep.pushed = VersionVector()
                rep.stored = 0
                self._push(doc_id, rep)
                record = self._presence.get(doc_id)
                if record is not None:
                    record.reset()  # the server sends everyone there next
                    if record.local is not None:
                        self._send_presence(record, self._last_heard)
            case Ack(doc_id=doc_id, batch_id=batch):
                self.acked_pushes += 1
                mine = self._batch_mine.pop(batch, (0, 0))[0]
                rep = self._replicas.get(doc_id)
                if rep is None or rep.server_raw is None:
                    return
                self._told(rep, event.server_version)
                rep.stored = max(rep.stored, mine)
                error = rep.error
                if error is not None and error.retryable and error.batch_id < batch:
                    rep.error = None  # a later push was taken: the refusal is over
                session = self.session
                if session is not None and not session.pushing(doc_id):
                    server = self._server(rep)
                    me = self.actor_id
                    if server is not None and max(server[me], rep.stored) < rep.pushed[me]:
                        # The server did not take everything we pushed: push the rest again.
                        rep.pushed = VersionVector()
                    self._push(doc_id, rep)  # and whatever was held back meanwhile
            case Broadcast(doc_id=doc_id):
                rep = self._replicas.get(doc_id)
                if rep is None or not self._apply(doc_id, rep, event.changes):
                    return
                if rep.server_raw is not None:
                    self._told(rep, event.server_version)
            case Presence(doc_id=doc_id):
                if doc_id in self._replicas:  # kept even before the application asks
                    self.doc_presence(doc_id).apply(event.entries)
            case DocDeleted(doc_id=doc_id):
                self.drop_deleted(
                    doc_id,
                    Error(
                        ErrorCode.DOC_DELETED,
                        f"document {doc_id!r} was deleted by this client",
                        doc_id=doc_id,
                    ),
                )
            case Error(request_id=request) if request:
                # The answer to one of our DeleteDoc requests: that request failed.
                for deletion in self._deletions.values():
                    if deletion.request_id == request and not deletion.done:
                        deletion.error = event
            case Error(doc_id=doc_id, code=ErrorCode.DOC_DELETED) if doc_id:
                # Deleted by someone with admin access (now, or while we were away): our
                # copy and its unsent edits go; the id is never usable again.
                self.drop_deleted(doc_id, event)
            case Error(doc_id=doc_id, code=code) if code in PRESENCE_CODES:
                record = self._presence.get(doc_id)
                if record is not None:
                    record.error = event
            case Error(fatal=True):
                self.last_error = event
                if is_terminal(event, self.token_renewable):
                    self.terminal_error = event
            case Error(doc_id=doc_id, code=ErrorCode.PERMISSION_CHANGED) if (
                doc_id in self._replicas
            ):
                # The principal's access changed: subscribe again with the access it has now
                # (pushes resume if it may write; a refusal is recorded as usual).
                rep = self._replicas[doc_id]
                if self.on_rejected is not None:
                    self.on_rejected(doc_id, event)
                rep.error = None
                rep.pushed = VersionVector()
                if self.online:
                    self._subscribe(doc_id, rep)
            case Error(doc_id=doc_id, code=ErrorCode.TOO_MANY) if (
                doc_id in self._replicas
                and event.batch_id
                and not event.retryable
                and self._fewer_ops(self._batch_mine.pop(event.batch_id, (0, 0))[1])
            ):
                # A push of more operations than the server takes at once, or whose merge
                # was too much work: sent again in parts half as large.
                rep = self._replicas[doc_id]
                rep.pushed = VersionVector()
                self._push(doc_id, rep)
            case Error(doc_id=doc_id) if doc_id in self._replicas:
                rep = self._replicas[doc_id]
                self._reject(doc_id, rep, event)
                if not event.batch_id:
                    # The subscription ended. One the server may take again (its storage failed
                    # to load the document) is tried again on this connection a little later:
                    # nothing else would renew it while the connection stays up. Otherwise, on
                    # the next connection.
                    rep.server_raw = None
                    if event.retryable:
                        wait = max(RESUBSCRIBE_SECONDS, event.retry_after_ms / 1000)
                        rep.resubscribe_at = self._last_heard + wait
                elif event.retryable:
                    rep.pushed = VersionVector()
                    rep.retry_at = self._last_heard + event.retry_after_ms / 1000
            case _:
                pass

    def _fail(self, code: ErrorCode, message: str) -> None:
        session = self.session
        if session is not None and session.state is not State.CLOSED:
            err = Error(code, message, retryable=False, fatal=True)
            session.send(err)
            self.last_error = err

    def _subscribe(self, doc_id: str, rep: Replica) -> None:
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

    def _told(self, rep: Replica, server_version: bytes) -> None:
        """The server's version in an Ack or Broadcast: the whole of it, or, on a session
        with :data:`VERSION_DELTAS`, the entries that grew, merged into what we knew."""
        session = self.session
        if session is None or not session.version_deltas:
            rep.server_raw = server_version
            return
        if not server_version:
            return  # nothing grew
        known = self._server(rep)
        if known is None:
            return
        try:
            grown = VersionVector.decode(server_version)
        except DecodeError as exc:
            self._fail(ErrorCode.BAD_CHANGES, f"server version does not decode: {exc}")
            return
        merged = known.merge(grown)
        # The frame's bytes stand for the merged version (see _server's cache).
        rep.server_raw = server_version
        rep.server_cache = (server_version, merged)

    def _push(self, doc_id: str, rep: Replica) -> None:
        session = self.session
        if session is None or session.state is not State.OPEN:
            return
        if session.doc_state(doc_id) is not DocState.SUBSCRIBED:
            return
        if session.pushing(doc_id):
            # One push per document at a time: edits made meanwhile go in the next one, sent
            # when this one is acknowledged (so a fast writer sends few large pushes, not one
            # per edit, and an edit waits at most one commit for its turn).
            return
        if not self._stored(doc_id):
            return  # nothing is sent before it is stored (the store failed: tried again later)
        server = self._server(rep)
        if server is None:
            return
        version = rep.doc.version()
        base = server.merge(rep.pushed) if rep.pushed else server
        if base[self.actor_id] >= version[self.actor_id]:
            return  # the server holds (or was sent) every edit of ours
        if rep.error is not None and not rep.error.retryable:
            return  # refused on this connection: tried again only on the next one
        if rep.retry_at > self._last_heard:
            return  # the server said when to try again; tick() pushes then
        me = self.actor_id
        room = self.max_frame_bytes and self.max_frame_bytes - 64 - len(doc_id)
        # A backlog larger than a frame goes in parts, the next one when this one is acked.
        since = self._own_since(version, base)
        data, reached = self._own_part(rep.doc, version, since, room)
        if room and len(data) > room:
            rep.error = Error(
                ErrorCode.FRAME_TOO_LARGE,
                f"an edit of {doc_id!r} takes {len(data)} bytes, more than the frame limit "
                f"of {self.max_frame_bytes}",
                doc_id=doc_id,
            )
            return
        batch = session.next_batch_id()
        session.send(Push(doc_id, batch, data))
        self._batch_mine[batch] = (reached, reached - since[me])
        rep.pushed = VersionVector._trusted({**version._seqs, me: reached})

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
        for record in self._presence.values():
            sent = record.sent_at
            if record.local is not None and (sent is None or now - sent >= self.presence_renew):
                self._send_presence(record, now)  # a renewal (or the first send)
        for doc_id, rep in self._replicas.items():
            if rep.retry_at and rep.retry_at <= now:
                rep.retry_at = 0.0  # the wait the server asked for is over: push again
                if rep.server_raw is not None:
                    self._push(doc_id, rep)
            if rep.resubscribe_at and rep.resubscribe_at <= now:
                rep.resubscribe_at = 0.0
                if session.state is State.OPEN and session.doc_state(doc_id) is None:
                    self._subscribe(doc_id, rep)
        return True
