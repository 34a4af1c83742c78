"""The client's HTTP transport logic: one document per ``POST /v1/docs/{doc_id}/sync``.

Without a WebSocket, the same engine syncs each document by HTTP requests::

    body = engine.http_request(doc_id)   # POST it; then, with the answer:
    outcome = engine.receive_http(doc_id, ok, answer_body, content_type=...)
    # or, when no answer came (connection refused, reset, timed out):
    engine.http_failed(doc_id)
    # outcome is HttpOutcome.AGAIN: build and send the next request for doc_id at once

``ok`` is whether the transport reported success (HTTP 200). The request and answer bytes are
the protocol layer's (:func:`~synckit.protocol.encode_http_request`,
:func:`~synckit.protocol.decode_http_answer`); the server plays each request as a short
session, so the same rules hold as over a WebSocket.
"""

from __future__ import annotations

import enum

from synckit.client._replicas import Replica, ReplicaSet, is_terminal
from synckit.core import VersionVector
from synckit.errors import DecodeError, LocalProtocolError
from synckit.protocol import (
    HTTP_MEDIA_TYPE,
    Error,
    ErrorCode,
    HttpSyncAnswer,
    HttpSyncRequest,
    decode_http_answer,
    encode_http_request,
)

__all__ = ["HTTP_MEDIA_TYPE", "HttpOutcome", "HttpSync"]

# A refused request smaller than this is not split further: one edit is that large.
_MIN_PROBE_BYTES = 4096


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


class HttpSync(ReplicaSet):
    """A :class:`ReplicaSet` synced by HTTP requests, one document per request."""

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
        # Nothing is sent before it is stored (a failing store: only ask, push later).
        blocked = (rep.error is not None and not rep.error.retryable) or not self._stored(doc_id)
        me = self.actor_id
        if server is not None and not blocked and max(server[me], rep.stored) < version[me]:
            since = self._own_since(version, server)  # our version without our unsent edits
        limit = self.max_frame_bytes
        room = limit and limit - len(self._http_body(since, b"")) - 16
        reached = 0
        if since is not version:  # a backlog larger than a frame goes in parts, one a round
            changes, reached = self._own_part(rep.doc, version, since, room)
        body = self._http_body(since, changes)
        if changes and limit and len(body) > limit:
            rep.error = Error(
                ErrorCode.FRAME_TOO_LARGE,
                f"an edit of {doc_id!r} takes {len(changes)} bytes, more than the "
                f"frame limit of {limit}",
                doc_id=doc_id,
            )
            changes, body, reached = b"", self._http_body(version, b""), 0
        rep.http_pending = True
        rep.http_pushed = len(changes)
        rep.http_seqs = reached - since[me] if changes else 0
        rep.http_mine = reached
        return body

    def _http_body(self, version: VersionVector, changes: bytes) -> bytes:
        request = HttpSyncRequest(self.actor_id, self.token, version.encode(), changes)
        return encode_http_request(request)

    def receive_http(
        self, doc_id: str, ok: bool, body: bytes, *, content_type: str | None = None
    ) -> HttpOutcome:
        """Take the answer to the request :meth:`http_request` made for ``doc_id``.

        A successful answer is applied to the document and stored as it came, and the server's
        version is recorded, so :meth:`unsynced` and :meth:`sync_error` tell the truth as they
        do over a WebSocket. An error answer is recorded as its WebSocket twin would be:
        ``AUTH_FAILED`` and ``PROTOCOL_VERSION`` as :attr:`terminal_error`; ``SHUTTING_DOWN``
        as a network failure; anything else as the document's error (:meth:`doc_error`) with
        the server's ``retryable`` flag; a non-retryable one stops pushes of the document
        until :meth:`http_failed`.

        Args:
            ok: the transport reported success (HTTP 200); otherwise ``body`` is an error.
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
        kind = "success" if ok else "error"
        if content_type is not None:
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != HTTP_MEDIA_TYPE:
                return self._unreachable(
                    doc_id, f"{kind} answer of type {media_type!r} is not from SyncKit"
                )
        answer = decode_http_answer(body, ok=ok)
        if answer is None:
            return self._unreachable(doc_id, f"the {kind} answer for {doc_id!r} is not SyncKit's")
        if isinstance(answer, HttpSyncAnswer):
            return self._http_synced(doc_id, rep, answer)
        return self._http_refused(doc_id, rep, answer)

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
        rep.stored = 0

    def _unreachable(self, doc_id: str, reason: str) -> HttpOutcome:
        self.http_failed(doc_id, reason)
        return HttpOutcome.UNREACHABLE

    def _http_synced(self, doc_id: str, rep: Replica, answer: HttpSyncAnswer) -> HttpOutcome:
        raw = answer.server_version
        try:
            server = VersionVector.decode(raw)
        except DecodeError as exc:
            return self._unreachable(doc_id, f"the answer for {doc_id!r} does not decode: {exc}")
        # Before applying: the answer may carry our own pushed changes back.
        self._check_rolled_back(doc_id, rep, rep.doc.version()[self.actor_id], server)
        if not self._apply(doc_id, rep, answer.changes):
            return self._unreachable(doc_id, f"changes for {doc_id!r} do not decode")
        rep.server_raw = raw
        rep.server_cache = (raw, server)
        rep.received = True
        rep.stored = max(server[self.actor_id], rep.http_mine)  # a 200 answer: committed
        if rep.error is not None:
            if not rep.error.retryable:
                return HttpOutcome.DONE  # pushes refused: only receive
            rep.error = None
        done = rep.stored >= rep.doc.version()[self.actor_id]
        return HttpOutcome.DONE if done else HttpOutcome.AGAIN

    def _http_refused(self, doc_id: str, rep: Replica, error: Error) -> HttpOutcome:
        code, message = error.code, error.message or error.code.name
        if code is ErrorCode.DOC_DELETED:
            self.drop_deleted(doc_id, Error(code, message, doc_id=doc_id))
            return HttpOutcome.REFUSED
        if (
            code is ErrorCode.TOO_MANY
            and error.doc_id
            and not error.retryable
            and rep.http_mine
            and self._fewer_ops(rep.http_seqs)
        ):
            # A push of more operations than the server takes at once (the limit is in a
            # WebSocket Welcome, not here), or whose merge was too much work: half as many,
            # and again. (Over HTTP every error answer ends its request: "fatal".)
            return HttpOutcome.AGAIN
        expired = code is ErrorCode.TOKEN_EXPIRED
        if error.fatal and is_terminal(error, self.token_renewable):
            self.terminal_error = self.last_error = Error(code, message)
            return HttpOutcome.REFUSED
        if code is ErrorCode.SHUTTING_DOWN or expired:
            return self._unreachable(doc_id, message)  # (a fresh token for the next round)
        if code is ErrorCode.FRAME_TOO_LARGE and rep.http_pushed > _MIN_PROBE_BYTES:
            # The server's frame limit is not known over HTTP (a WebSocket Welcome says it):
            # guess half of what was refused, so a long backlog goes in parts, and try again.
            known = self.max_frame_bytes or rep.http_pushed
            self.max_frame_bytes = min(known, rep.http_pushed // 2)
            return HttpOutcome.AGAIN
        if code is ErrorCode.FRAME_TOO_LARGE:
            message = (
                f"unsent changes of {doc_id!r} take {rep.http_pushed} bytes; the server "
                f"refused the request as too large: {message}"
            )
        self._reject(
            doc_id,
            rep,
            Error(
                code,
                message,
                retryable=error.retryable,
                doc_id=doc_id,
                retry_after_ms=error.retry_after_ms,
            ),
        )
        if code is ErrorCode.PERMISSION_CHANGED:
            rep.error = None  # asked again next round
        return HttpOutcome.REFUSED
