"""The messages of the sync protocol as Python values.

One frozen dataclass per protocol message (see ``proto/synckit/v1/protocol.proto``). Each checks
its fields when built, so a value that exists is well formed; :mod:`._frames` turns them into
bytes and back. Change payloads and version vectors stay opaque ``bytes`` here: the session
layer never decodes documents.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from synckit.errors import (
    AuthError,
    DocumentDeletedError,
    EquivocationError,
    InvalidTypeError,
    InvalidValueError,
    LimitExceededError,
    PermissionDeniedError,
    ProtocolError,
    SyncKitError,
    TokenExpiredError,
)

__all__ = [
    "DELETE",
    "MAX_DOC_ID_LENGTH",
    "PRESENCE",
    "PRESENCE_CODES",
    "PROTOCOL_VERSION",
    "VERSION_DELTAS",
    "Ack",
    "Broadcast",
    "DeleteDoc",
    "DocDeleted",
    "Error",
    "ErrorCode",
    "Event",
    "Hello",
    "Ping",
    "Pong",
    "Presence",
    "PresenceEntry",
    "PresenceSet",
    "Push",
    "Subscribe",
    "Subscribed",
    "Unsubscribe",
    "Welcome",
    "check_doc_id",
]

#: The protocol revision this release speaks; a Hello with another one is refused.
PROTOCOL_VERSION = 1

MAX_DOC_ID_LENGTH = 128
_MAX_U64 = 2**64 - 1
# Letters, digits and ``._:-``, starting with a letter or digit: safe in URLs, file names and
# log lines without escaping.
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")


class ErrorCode(enum.IntEnum):
    """Why an :class:`Error` was sent; values match ``synckit.v1.ErrorCode``."""

    UNSPECIFIED = 0
    BAD_FRAME = 1
    UNKNOWN_MESSAGE = 2
    PROTOCOL_VERSION = 3
    ILLEGAL_STATE = 4
    AUTH_FAILED = 5
    FRAME_TOO_LARGE = 6
    DOC_TOO_LARGE = 7
    INVALID_DOC_ID = 8
    BAD_CHANGES = 9
    SLOW_CONSUMER = 10
    SHUTTING_DOWN = 11
    INTERNAL = 12
    PERMISSION_DENIED = 13
    PERMISSION_CHANGED = 14
    TOKEN_EXPIRED = 15
    NOT_AUTHOR = 16
    EQUIVOCATION = 17
    CLOCK_SKEW = 18
    RATE_LIMITED = 19
    TOO_MANY = 20
    HANDSHAKE_TIMEOUT = 21
    PRESENCE_TOO_LARGE = 22
    BAD_PRESENCE = 23
    DOC_DELETED = 24


#: The capability (in ``Hello`` and ``Welcome``) of a peer that speaks presence: each side sends
#: :class:`PresenceSet` / :class:`Presence` only to a peer that advertised it.
PRESENCE = "presence"

#: The capability (in ``Welcome``) of a server that takes :class:`DeleteDoc`: a client sends it
#: only to such a server.
DELETE = "delete"

#: The capability (in ``Hello`` and ``Welcome``) of peers that send and take the server's
#: version in ``Ack`` and ``Broadcast`` as what changed: when both advertised it, each of those
#: ``server_version`` fields holds only the entries that grew since the last server version
#: this connection was sent for the document (``Subscribed`` always holds the whole of it), and
#: the client merges them into what it knows. Without it a document's every Ack and Broadcast
#: carries its whole version vector, which grows with every writer it has ever had.
VERSION_DELTAS = "version-deltas"

#: Errors about one document's presence state: they name the document but, unlike every other
#: document error outside a push, do not end its subscription.
PRESENCE_CODES = frozenset({ErrorCode.PRESENCE_TOO_LARGE, ErrorCode.BAD_PRESENCE})


def check_doc_id(doc_id: object) -> str | None:
    """Return why ``doc_id`` is not a valid document id, or None when it is.

    A document id is 1 to 128 characters of ASCII letters, digits and ``._:-``, starting with
    a letter or a digit.
    """
    if type(doc_id) is str and doc_id in _VALID_DOC_IDS:
        return None
    if not isinstance(doc_id, str):
        return f"document id must be a str, got {type(doc_id).__name__}"
    if not doc_id:
        return "document id must not be empty"
    if len(doc_id) > MAX_DOC_ID_LENGTH:
        return f"document id is {len(doc_id)} characters long (at most {MAX_DOC_ID_LENGTH})"
    if not _DOC_ID.fullmatch(doc_id):
        return (
            f"document id {doc_id[:40]!r} may only hold ASCII letters, digits and '._:-' "
            "and must start with a letter or digit"
        )
    if type(doc_id) is str:
        if len(_VALID_DOC_IDS) >= _MAX_VALID_DOC_IDS:
            _VALID_DOC_IDS.clear()
        _VALID_DOC_IDS.add(doc_id)
    return None


# Document ids found valid lately. Every document message names one, checked as it is
# decoded and again as its event is built, and a connection names the same few over and
# over: a set lookup costs a fraction of the pattern match. Bounded (emptied when full).
_VALID_DOC_IDS: set[str] = set()
_MAX_VALID_DOC_IDS = 4096


def _doc(doc_id: str) -> None:
    problem = check_doc_id(doc_id)
    if problem is not None:
        raise InvalidValueError(problem)


def _u64(name: str, value: int) -> None:
    if type(value) is not int or not 0 <= value <= _MAX_U64:
        raise InvalidValueError(f"{name} must be an int in [0, 2**64), got {value!r}")


def _bytes(name: str, value: bytes) -> None:
    if not isinstance(value, bytes):
        raise InvalidTypeError(f"{name} must be bytes, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Hello:
    """Client -> server, the first frame: who is connecting and with which protocol."""

    client_id: str
    token: str = ""
    capabilities: tuple[str, ...] = ()
    protocol_version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise InvalidValueError("Hello.client_id must be a non-empty str")
        if len(self.client_id) > 256:
            raise InvalidValueError("Hello.client_id is longer than 256 characters")
        if not isinstance(self.token, str):
            raise InvalidTypeError("Hello.token must be a str")
        _u64("Hello.protocol_version", self.protocol_version)


@dataclass(frozen=True, slots=True)
class Welcome:
    """Server -> client, accepts a Hello (the first one, or a later one that re-authenticates).

    ``token_expires_ms``: when the accepted token expires, in Unix milliseconds (0: never);
    the client should send a new :class:`Hello` with a fresh token before then.
    ``principal``: who the server took the client to be (empty on an open server).
    ``max_presence_bytes`` / ``presence_timeout_ms``: with the :data:`PRESENCE` capability, the
    largest presence state the server keeps and how long it keeps one not renewed (0: not
    said).
    ``max_push_ops``: the most operations one :class:`Push` may hold (0: not said); a client
    sends a larger backlog in parts of at most this many.
    """

    capabilities: tuple[str, ...] = ()
    max_frame_bytes: int = 0
    protocol_version: int = PROTOCOL_VERSION
    token_expires_ms: int = 0
    principal: str = ""
    max_presence_bytes: int = 0
    presence_timeout_ms: int = 0
    max_push_ops: int = 0

    def __post_init__(self) -> None:
        _u64("Welcome.max_frame_bytes", self.max_frame_bytes)
        _u64("Welcome.max_push_ops", self.max_push_ops)
        _u64("Welcome.protocol_version", self.protocol_version)
        _u64("Welcome.token_expires_ms", self.token_expires_ms)
        _u64("Welcome.max_presence_bytes", self.max_presence_bytes)
        _u64("Welcome.presence_timeout_ms", self.presence_timeout_ms)
        if not isinstance(self.principal, str):
            raise InvalidTypeError("Welcome.principal must be a str")


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Client -> server: sync ``doc_id``; ``version`` is the client's encoded version vector."""

    doc_id: str
    version: bytes = b""

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _bytes("Subscribe.version", self.version)


@dataclass(frozen=True, slots=True)
class Subscribed:
    """Server -> client, answers Subscribe: what the client lacks and the server's version."""

    doc_id: str
    changes: bytes
    server_version: bytes

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _bytes("Subscribed.changes", self.changes)
        _bytes("Subscribed.server_version", self.server_version)


@dataclass(frozen=True, slots=True)
class Push:
    """Client -> server: changes for ``doc_id``, acknowledged by an :class:`Ack` of ``batch_id``."""

    doc_id: str
    batch_id: int
    changes: bytes

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _u64("Push.batch_id", self.batch_id)
        if self.batch_id == 0:
            raise InvalidValueError("Push.batch_id must be at least 1")
        _bytes("Push.changes", self.changes)


@dataclass(frozen=True, slots=True)
class Ack:
    """Server -> client: push ``batch_id`` is committed; the server now holds ``server_version``."""

    doc_id: str
    batch_id: int
    server_version: bytes

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _u64("Ack.batch_id", self.batch_id)
        _bytes("Ack.server_version", self.server_version)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Server -> client: changes others committed to ``doc_id``."""

    doc_id: str
    changes: bytes
    server_version: bytes

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _bytes("Broadcast.changes", self.changes)
        _bytes("Broadcast.server_version", self.server_version)


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Client -> server: stop syncing ``doc_id``."""

    doc_id: str

    def __post_init__(self) -> None:
        _doc(self.doc_id)


@dataclass(frozen=True, slots=True)
class DeleteDoc:
    """Client -> server, only to a server that advertised :data:`DELETE`: delete ``doc_id``
    for everyone, for good (admin access needed; it need not be subscribed). Answered by
    :class:`DocDeleted` or by an :class:`Error` carrying ``request_id``."""

    doc_id: str
    request_id: int

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _u64("DeleteDoc.request_id", self.request_id)
        if self.request_id == 0:
            raise InvalidValueError("DeleteDoc.request_id must be at least 1")


@dataclass(frozen=True, slots=True)
class DocDeleted:
    """Server -> client, answers :class:`DeleteDoc` ``request_id``: ``doc_id`` is deleted (its
    tombstone committed, its data removed), now or before."""

    doc_id: str
    request_id: int

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _u64("DocDeleted.request_id", self.request_id)


@dataclass(frozen=True, slots=True)
class PresenceSet:
    """Client -> server: the client's presence state in subscribed ``doc_id``: a JSON object as
    UTF-8 bytes (``b""`` clears it). The same state sent again only renews it."""

    doc_id: str
    state: bytes = b""

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        _bytes("PresenceSet.state", self.state)


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One connection's presence, as the server passes it on.

    ``key``: the server-assigned identity of the connection (never chosen by a client);
    ``principal`` / ``client_id``: who it authenticated as; ``state``: a JSON object as UTF-8
    bytes, empty when ``removed`` (it left, timed out or cleared its state).
    """

    key: str
    principal: str = ""
    client_id: str = ""
    state: bytes = b""
    removed: bool = False

    def __post_init__(self) -> None:
        for name in ("key", "principal", "client_id"):
            if not isinstance(getattr(self, name), str):
                raise InvalidTypeError(f"PresenceEntry.{name} must be a str")
        if not self.key:
            raise InvalidValueError("PresenceEntry.key must not be empty")
        _bytes("PresenceEntry.state", self.state)


@dataclass(frozen=True, slots=True)
class Presence:
    """Server -> client: presence entries of other connections in ``doc_id`` (all of them right
    after ``Subscribed``, then those changed since the server's last tick)."""

    doc_id: str
    entries: tuple[PresenceEntry, ...] = ()

    def __post_init__(self) -> None:
        _doc(self.doc_id)
        if not isinstance(self.entries, tuple):
            raise InvalidTypeError("Presence.entries must be a tuple")


@dataclass(frozen=True, slots=True)
class Ping:
    """Either side; the session answers it with a :class:`Pong` of the same nonce by itself."""

    nonce: int = 0

    def __post_init__(self) -> None:
        _u64("Ping.nonce", self.nonce)


@dataclass(frozen=True, slots=True)
class Pong:
    nonce: int = 0

    def __post_init__(self) -> None:
        _u64("Pong.nonce", self.nonce)


@dataclass(frozen=True, slots=True)
class Error:
    """Either side: something went wrong.

    ``fatal``: the sender closes the connection after this frame. ``retryable``: the same
    request may succeed later (for instance after a reconnect). ``doc_id``/``batch_id`` are set
    (non-empty / non-zero) when the error concerns one document or one push.
    ``retry_after_ms``: when retrying makes sense, in milliseconds from now (0: no advice).
    ``request_id``: set when the error answers the :class:`DeleteDoc` of that request id (it
    then ends no subscription).
    """

    code: ErrorCode
    message: str
    retryable: bool = False
    fatal: bool = False
    doc_id: str = ""
    batch_id: int = 0
    retry_after_ms: int = 0
    request_id: int = 0

    def to_exception(self) -> SyncKitError:
        """The exception that reports this error to an application: :class:`AuthError`,
        :class:`PermissionDeniedError`, :class:`LimitExceededError`,
        :class:`DocumentDeletedError`, or :class:`ProtocolError` for the rest; the message
        names the code."""
        text = f"{self.code.name}: {self.message}"
        match self.code:
            case ErrorCode.AUTH_FAILED:
                return AuthError(text)
            case ErrorCode.TOKEN_EXPIRED:
                return TokenExpiredError(text)
            case ErrorCode.PERMISSION_DENIED | ErrorCode.PERMISSION_CHANGED | ErrorCode.NOT_AUTHOR:
                return PermissionDeniedError(text)
            case (
                ErrorCode.DOC_TOO_LARGE
                | ErrorCode.FRAME_TOO_LARGE
                | ErrorCode.RATE_LIMITED
                | ErrorCode.TOO_MANY
                | ErrorCode.CLOCK_SKEW
                | ErrorCode.PRESENCE_TOO_LARGE
            ):
                return LimitExceededError(text)
            case ErrorCode.EQUIVOCATION:
                return EquivocationError(text)
            case ErrorCode.DOC_DELETED:
                return DocumentDeletedError(text, self.doc_id)
            case _:
                return ProtocolError(text)

    def __post_init__(self) -> None:
        if not isinstance(self.code, ErrorCode):
            raise InvalidTypeError("Error.code must be an ErrorCode")
        if not isinstance(self.message, str):
            raise InvalidTypeError("Error.message must be a str")
        _u64("Error.batch_id", self.batch_id)
        _u64("Error.retry_after_ms", self.retry_after_ms)
        _u64("Error.request_id", self.request_id)


#: Every protocol message.
Event = (
    Hello
    | Welcome
    | Subscribe
    | Subscribed
    | Push
    | Ack
    | Broadcast
    | Unsubscribe
    | PresenceSet
    | Presence
    | DeleteDoc
    | DocDeleted
    | Ping
    | Pong
    | Error
)
