"""Frames: protocol events to ``synckit.v1.Envelope`` bytes and back.

One frame is one WebSocket binary message holding one Envelope. :func:`encode_frame` never
fails on a well-formed event; :func:`decode_frame` raises :class:`FrameError` saying what was
wrong and which :class:`ErrorCode` the peer should be told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.core._wire import varint as _varint
from synckit.errors import InvalidTypeError
from synckit.protocol._events import (
    PROTOCOL_VERSION,
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
    PresenceEntry,
    PresenceSet,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    check_doc_id,
)
from synckit.v1 import protocol_pb2 as pb

__all__ = [
    "FrameError",
    "decode_frame",
    "decode_numbered",
    "encode_ack_body",
    "encode_frame",
    "encode_frame_body",
    "encode_presence_body",
    "encode_presence_entry",
    "number_frame",
]


@dataclass(frozen=True, slots=True)
class FrameError:
    """Why a frame could not be read: the code and message to send back.

    ``doc_id`` and ``batch_id`` are set when the frame was readable enough to tell which
    document or push it was about (then the problem concerns only that document).
    """

    code: ErrorCode
    message: str
    doc_id: str = ""
    batch_id: int = 0


def encode_frame(event: Event, seq: int = 0) -> bytes:
    """Serialize one event into frame bytes, numbered ``seq`` (0: unnumbered)."""
    return number_frame(encode_frame_body(event), seq)


def number_frame(body: bytes, seq: int) -> bytes:
    """Frame bytes from :func:`encode_frame_body` output, numbered ``seq``.

    Protobuf fields may come in any order and a message may be split, so the number is simply
    written in front: a fan-out encodes the body once and numbers it per connection.
    """
    if not seq:
        return body
    return b"".join((b"\x78", _varint(seq), body))  # field 15 (seq), varint


def encode_ack_body(doc_id: str, batch_id: int, server_version: bytes) -> bytes:
    """``encode_frame_body(Ack(doc_id, batch_id, server_version))`` for a valid Ack, the
    same bytes, without building the event: a server sends one per push."""
    return _doc_message(b"\x32", doc_id, batch_id, b"\x1a", server_version)  # Envelope.ack


def _doc_message(
    tag: bytes, doc_id: str, batch_id: int, bytes_tag: bytes, data: bytes, more: bytes = b""
) -> bytes:
    """The Envelope field ``tag`` holding a Push, Ack or Broadcast written by hand: the bytes
    protobuf writes (fields in number order, zero and empty ones left out) at a fraction of
    the cost of building the messages. ``doc_id`` is field 1, ``batch_id`` field 2,
    ``data`` the bytes field ``bytes_tag`` and ``more`` what follows it, encoded."""
    doc = doc_id.encode()
    parts = [b"\x0a", _varint(len(doc)), doc] if doc else []
    if batch_id:
        parts += (b"\x10", _varint(batch_id))
    if data:
        parts += (bytes_tag, _varint(len(data)), data)
    if more:
        parts.append(more)
    inner = b"".join(parts)
    return b"".join((tag, _varint(len(inner)), inner))


def encode_frame_body(event: Event) -> bytes:
    """Serialize one event into an unnumbered frame."""
    kind = type(event)
    if kind is Push:
        push = cast(Push, event)
        return _doc_message(b"\x2a", push.doc_id, push.batch_id, b"\x1a", push.changes)
    if kind is Ack:
        ack = cast(Ack, event)
        return _doc_message(b"\x32", ack.doc_id, ack.batch_id, b"\x1a", ack.server_version)
    if kind is Broadcast:
        cast_ = cast(Broadcast, event)
        version = cast_.server_version
        more = b"\x1a" + _varint(len(version)) + version if version else b""
        return _doc_message(b"\x3a", cast_.doc_id, 0, b"\x12", cast_.changes, more)
    env = pb.Envelope()
    match event:
        case Hello():
            env.hello.protocol_version = event.protocol_version
            env.hello.client_id = event.client_id
            env.hello.token = event.token
            env.hello.capabilities.extend(event.capabilities)
        case Welcome():
            env.welcome.protocol_version = event.protocol_version
            env.welcome.capabilities.extend(event.capabilities)
            env.welcome.max_frame_bytes = event.max_frame_bytes
            env.welcome.token_expires_ms = event.token_expires_ms
            env.welcome.principal = event.principal
            env.welcome.max_presence_bytes = event.max_presence_bytes
            env.welcome.presence_timeout_ms = event.presence_timeout_ms
            env.welcome.max_push_ops = event.max_push_ops
        case Subscribe():
            env.subscribe.doc_id = event.doc_id
            env.subscribe.version = event.version
        case Subscribed():
            env.subscribed.doc_id = event.doc_id
            env.subscribed.changes = event.changes
            env.subscribed.server_version = event.server_version
        case Push():
            env.push.doc_id = event.doc_id
            env.push.batch_id = event.batch_id
            env.push.changes = event.changes
        case Ack():
            env.ack.doc_id = event.doc_id
            env.ack.batch_id = event.batch_id
            env.ack.server_version = event.server_version
        case Broadcast():
            env.broadcast.doc_id = event.doc_id
            env.broadcast.changes = event.changes
            env.broadcast.server_version = event.server_version
        case Unsubscribe():
            env.unsubscribe.doc_id = event.doc_id
        case PresenceSet():
            env.presence_set.doc_id = event.doc_id
            env.presence_set.state = event.state
        case Presence():
            return encode_presence_body(
                event.doc_id, [encode_presence_entry(e) for e in event.entries]
            )
        case DeleteDoc():
            env.delete_doc.doc_id = event.doc_id
            env.delete_doc.request_id = event.request_id
        case DocDeleted():
            env.doc_deleted.doc_id = event.doc_id
            env.doc_deleted.request_id = event.request_id
        case Ping():
            env.ping.nonce = event.nonce
        case Pong():
            env.pong.nonce = event.nonce
        case Error():
            env.error.code = pb.ErrorCode.ValueType(event.code)
            env.error.message = event.message
            env.error.retryable = event.retryable
            env.error.fatal = event.fatal
            env.error.doc_id = event.doc_id
            env.error.batch_id = event.batch_id
            env.error.retry_after_ms = event.retry_after_ms
            env.error.request_id = event.request_id
        case _:  # pragma: no cover - the union is exhaustive
            raise InvalidTypeError(f"not a protocol event: {event!r}")
    return env.SerializeToString()


def encode_presence_entry(entry: PresenceEntry) -> bytes:
    """One entry as it sits inside a ``Presence`` message (field tag and length included):
    a fan-out encodes each entry once and joins them per receiver with
    :func:`encode_presence_body`."""
    pb_entry = pb.PresenceEntry(
        key=entry.key,
        principal=entry.principal,
        client_id=entry.client_id,
        state=entry.state,
        removed=entry.removed,
    )
    return _field(2, pb_entry.SerializeToString())


def encode_presence_body(doc_id: str, entries: list[bytes]) -> bytes:
    """An unnumbered ``Presence`` frame from entries made by :func:`encode_presence_entry`."""
    message = _field(1, doc_id.encode()) + b"".join(entries)
    return _field(13, message)  # Envelope.presence


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: its tag, the payload's length, the payload."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def decode_frame(data: bytes) -> Event | FrameError:
    """Read one frame; return the event, or a :class:`FrameError` when the bytes are bad.

    Never raises on hostile input: garbage, truncation, unknown message types, out-of-range
    fields and invalid document ids all come back as a :class:`FrameError`.
    """
    return decode_numbered(data)[0]


def decode_numbered(data: bytes) -> tuple[Event | FrameError, int]:
    """Like :func:`decode_frame`, with the frame's number (0 when unnumbered or unreadable)."""
    env = pb.Envelope()
    try:
        env.ParseFromString(data)
    except (_ProtoDecodeError, ValueError) as exc:
        return FrameError(ErrorCode.BAD_FRAME, f"frame is not a valid Envelope ({exc})"), 0
    seq = env.seq
    kind = env.WhichOneof("body")
    if kind is None:
        if data:
            return FrameError(
                ErrorCode.UNKNOWN_MESSAGE, "frame holds no message type this side knows"
            ), seq
        return FrameError(ErrorCode.UNKNOWN_MESSAGE, "empty frame"), seq
    msg = getattr(env, kind)
    if kind in ("hello", "welcome") and msg.protocol_version != PROTOCOL_VERSION:
        # Checked before any other field: another revision may fill them differently.
        return FrameError(
            ErrorCode.PROTOCOL_VERSION,
            f"protocol version {msg.protocol_version} is not supported",
        ), seq
    has_doc, has_batch = _SHAPE[kind]
    doc_id: str = msg.doc_id if has_doc else ""
    batch_id: int = msg.batch_id if has_batch else 0
    if has_doc and kind != "error":
        problem = check_doc_id(doc_id)
        if problem is not None:
            return FrameError(
                ErrorCode.INVALID_DOC_ID, f"{_TITLE[kind]}: {problem}", "", batch_id
            ), seq
    try:
        return _BUILD[kind](msg), seq
    except (TypeError, ValueError) as exc:
        return FrameError(ErrorCode.BAD_FRAME, f"{_TITLE[kind]}: {exc}", doc_id, batch_id), seq


def _error(m: pb.Error) -> Error:
    try:
        code = ErrorCode(m.code)
    except ValueError:
        code = ErrorCode.UNSPECIFIED  # a newer peer's code: keep the message, lose the detail
    return Error(
        code, m.message, m.retryable, m.fatal, m.doc_id, m.batch_id, m.retry_after_ms, m.request_id
    )


def _entry(m: pb.PresenceEntry) -> PresenceEntry:
    return PresenceEntry(m.key, m.principal, m.client_id, m.state, m.removed)


# "push" -> "Push": how messages are named in error texts.
_TITLE: dict[str, str] = {
    f.name: f.message_type.name if f.message_type else f.name
    for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["body"].fields
}

# "push" -> (has a doc_id field, has a batch_id field): read from the schema once, rather
# than asked of each frame's message (a missing attribute costs an exception).
_SHAPE: dict[str, tuple[bool, bool]] = {
    name: ("doc_id" in fields, "batch_id" in fields)
    for name, fields in (
        (f.name, f.message_type.fields_by_name if f.message_type else {})
        for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["body"].fields
    )
}

_BUILD: dict[str, Callable[[Any], Event]] = {
    "hello": lambda m: Hello(m.client_id, m.token, tuple(m.capabilities), m.protocol_version),
    "welcome": lambda m: Welcome(
        tuple(m.capabilities),
        m.max_frame_bytes,
        m.protocol_version,
        m.token_expires_ms,
        m.principal,
        m.max_presence_bytes,
        m.presence_timeout_ms,
        m.max_push_ops,
    ),
    "subscribe": lambda m: Subscribe(m.doc_id, m.version),
    "subscribed": lambda m: Subscribed(m.doc_id, m.changes, m.server_version),
    "push": lambda m: Push(m.doc_id, m.batch_id, m.changes),
    "ack": lambda m: Ack(m.doc_id, m.batch_id, m.server_version),
    "broadcast": lambda m: Broadcast(m.doc_id, m.changes, m.server_version),
    "unsubscribe": lambda m: Unsubscribe(m.doc_id),
    "presence_set": lambda m: PresenceSet(m.doc_id, m.state),
    "presence": lambda m: Presence(
        m.doc_id,
        tuple(
            PresenceEntry(e.key, e.principal, e.client_id, e.state, e.removed) for e in m.entries
        ),
    ),
    "delete_doc": lambda m: DeleteDoc(m.doc_id, m.request_id),
    "doc_deleted": lambda m: DocDeleted(m.doc_id, m.request_id),
    "ping": lambda m: Ping(m.nonce),
    "pong": lambda m: Pong(m.nonce),
    "error": _error,
}
