"""The HTTP sync exchange, played as a short session.

``POST /v1/docs/{doc_id}/sync`` carries one ``HttpSyncRequest`` and gets one answer. Instead of
a second set of rules for that request, the server plays it as the WebSocket session a client
would have opened for it: ``Hello`` (client id, token, protocol version), ``Subscribe`` (the
document and the request's version) and, when the request holds changes, ``Push`` (batch 1).
Those frames go through the server's own :class:`~synckit.protocol.ServerSession` and hub like
any other, so the protocol version, authentication, authorization, document id, size limits,
waiting changes and "ack only after commit" are the same code on both transports.
:class:`ServerHttpExchange` builds the frames and reads the server's answers back into the
HTTP answer; the ASGI shell only moves bytes and picks the status code.

The answer is an ``HttpSyncResponse`` (the changes ``Subscribed`` carried, the server version of
the ``Ack``, or of ``Subscribed`` when nothing was pushed) or an ``Error``.

Clients build requests with :func:`encode_http_request` and read answers with
:func:`decode_http_answer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.protocol._events import (
    DELETE,
    PROTOCOL_VERSION,
    Ack,
    Broadcast,
    DocDeleted,
    Error,
    ErrorCode,
    Subscribed,
    Welcome,
    check_doc_id,
)
from synckit.protocol._frames import FrameError, decode_frame, number_frame
from synckit.v1 import protocol_pb2 as pb

__all__ = [
    "HTTP_MEDIA_TYPE",
    "HttpSyncAnswer",
    "HttpSyncRequest",
    "ServerHttpExchange",
    "decode_http_answer",
    "encode_http_answer",
    "encode_http_error",
    "encode_http_request",
]

#: The media type of HTTP sync requests and of every answer a SyncKit server gives them.
HTTP_MEDIA_TYPE = "application/x-protobuf"

#: The batch id the short session's one push carries.
_BATCH = 1


@dataclass(frozen=True, slots=True)
class HttpSyncRequest:
    """What a client sends in ``POST /v1/docs/{doc_id}/sync``.

    ``version``: the client's encoded version vector before ``changes``; ``changes``: a
    change set for the server (may be empty).
    """

    client_id: str
    token: str = ""
    version: bytes = b""
    changes: bytes = b""
    protocol_version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class HttpSyncAnswer:
    """The server's answer to a request that succeeded.

    ``changes``: what the server held beyond the request's version when the request arrived;
    ``server_version``: the server's version once the request's changes were committed.
    """

    changes: bytes
    server_version: bytes


def encode_http_request(request: HttpSyncRequest) -> bytes:
    """The body of an HTTP sync request."""
    return pb.HttpSyncRequest(
        protocol_version=request.protocol_version,
        client_id=request.client_id,
        token=request.token,
        version=request.version,
        changes=request.changes,
    ).SerializeToString()


def encode_http_answer(answer: HttpSyncAnswer) -> bytes:
    """The body of an HTTP sync answer that succeeded."""
    return pb.HttpSyncResponse(
        changes=answer.changes, server_version=answer.server_version
    ).SerializeToString()


def encode_http_error(error: Error) -> bytes:
    """The body of an HTTP sync answer that reports ``error``."""
    return pb.Error(
        code=pb.ErrorCode.ValueType(error.code),
        message=error.message,
        retryable=error.retryable,
        fatal=True,
        doc_id=error.doc_id,
    ).SerializeToString()


def decode_http_answer(body: bytes, *, ok: bool) -> HttpSyncAnswer | Error | None:
    """Read an answer from a SyncKit server.

    ``ok``: the transport said the request succeeded (HTTP 200). Returns the answer, the
    server's :class:`Error`, or None when the bytes are not a SyncKit answer of that kind
    (garbage, or an error page from something else on the way).
    """
    if ok:
        answer = pb.HttpSyncResponse()
        try:
            answer.ParseFromString(body)
        except (_ProtoDecodeError, ValueError):
            return None
        return HttpSyncAnswer(answer.changes, answer.server_version)
    message = pb.Error()
    try:
        message.ParseFromString(body)
    except (_ProtoDecodeError, ValueError):
        return None
    if message.code == pb.ERROR_CODE_UNSPECIFIED:
        return None
    try:
        code = ErrorCode(message.code)
    except ValueError:
        code = ErrorCode.UNSPECIFIED  # a newer server's code: keep the message
    return Error(code, message.message, message.retryable, True, message.doc_id)


class ServerHttpExchange:
    """One HTTP sync request as a short client session, for the server to play.

    Build it from the request; feed :meth:`frames` to a new server connection, one by one, and
    every frame the server sends back to :meth:`receive` until it returns True; then
    :attr:`result` is the answer (an :class:`HttpSyncAnswer` or an :class:`Error`). When the
    body itself is unreadable, :attr:`result` is set at once and :meth:`frames` is empty.

    Args:
        doc_id: the document of the URL.
        body: the request body.
        max_body_bytes: bodies longer than this are refused (FRAME_TOO_LARGE).
        delete: ``DELETE /v1/docs/{doc_id}``: the request deletes the document (played as
            ``Hello`` and ``DeleteDoc``; its version and changes are ignored), and the answer
            is an empty :class:`HttpSyncAnswer` once the deletion is committed.
    """

    __slots__ = ("_delete", "_frames", "_pushed", "_subscribed", "doc_id", "result")

    def __init__(
        self, doc_id: str, body: bytes, *, max_body_bytes: int, delete: bool = False
    ) -> None:
        self.doc_id = doc_id
        #: The answer, once known.
        self.result: HttpSyncAnswer | Error | None = None
        self._frames: list[bytes] = []
        self._subscribed: Subscribed | None = None
        self._pushed = False
        self._delete = delete
        problem = check_doc_id(doc_id)
        if problem is not None:
            self.result = Error(ErrorCode.INVALID_DOC_ID, problem, fatal=True)
            return
        if len(body) > max_body_bytes:
            self.result = Error(
                ErrorCode.FRAME_TOO_LARGE,
                f"body of {len(body)} bytes exceeds the limit of {max_body_bytes}",
                fatal=True,
            )
            return
        request = pb.HttpSyncRequest()
        try:
            request.ParseFromString(body)
        except (_ProtoDecodeError, ValueError) as exc:
            self.result = Error(
                ErrorCode.BAD_FRAME, f"body is not a HttpSyncRequest ({exc})", fatal=True
            )
            return
        # The frames a client session would send, written field by field (not through the
        # event classes), so the server session checks them exactly as it checks a socket's.
        hello = pb.Envelope()
        hello.hello.protocol_version = request.protocol_version
        hello.hello.client_id = request.client_id
        hello.hello.token = request.token
        if delete:
            hello.hello.capabilities.append(DELETE)
            erase = pb.Envelope()
            erase.delete_doc.doc_id = doc_id
            erase.delete_doc.request_id = _BATCH
            self._frames = [
                number_frame(env.SerializeToString(), seq)
                for seq, env in enumerate((hello, erase), 1)
            ]
            return
        subscribe = pb.Envelope()
        subscribe.subscribe.doc_id = doc_id
        subscribe.subscribe.version = request.version
        envelopes = [hello, subscribe]
        if request.changes:
            push = pb.Envelope()
            push.push.doc_id = doc_id
            push.push.batch_id = _BATCH
            push.push.changes = request.changes
            envelopes.append(push)
            self._pushed = True
        self._frames = [
            number_frame(env.SerializeToString(), seq) for seq, env in enumerate(envelopes, 1)
        ]

    @property
    def pushes(self) -> bool:
        """The request carries changes (it writes, not only reads)."""
        return self._pushed

    def frames(self) -> list[bytes]:
        """The request's frames, for the server's session (once)."""
        frames, self._frames = self._frames, []
        return frames

    def receive(self, frame: bytes) -> bool:
        """Read one frame the server sent; True once :attr:`result` is known."""
        if self.result is not None:
            return True
        event = decode_frame(frame)
        match event:
            case FrameError():
                self.result = Error(ErrorCode.INTERNAL, f"server sent a bad frame: {event.message}")
            case Error():
                self.result = event
            case Welcome() | Broadcast():
                pass
            case DocDeleted(request_id=request) if self._delete and request == _BATCH:
                self.result = HttpSyncAnswer(b"", b"")
            case Subscribed():
                self._subscribed = event
                if not self._pushed:
                    self.result = HttpSyncAnswer(event.changes, event.server_version)
            case Ack(batch_id=batch) if batch == _BATCH and self._subscribed is not None:
                self.result = HttpSyncAnswer(self._subscribed.changes, event.server_version)
            case _:
                pass
        return self.result is not None

    def abandon(self, error: Error) -> None:
        """The server connection ended without an answer: answer ``error``."""
        if self.result is None:
            self.result = error
