"""The one exception tree of SyncKit.

Every error SyncKit raises on purpose derives from :class:`SyncKitError`::

    SyncKitError
    ├── DecodeError            bytes given to apply/load/decode are corrupt, truncated or hostile
    │   └── UnsupportedFormatError   well-formed, but of a format version this release does not know
    ├── ProtocolError          a sync session saw something illegal
    │   ├── LocalProtocolError     we misused the session (our bug)
    │   └── RemoteProtocolError    the peer sent something illegal (their bug or bad bytes)
    ├── LimitExceededError     a frame, document or queue grew past its configured limit
    │   ├── WorkLimitExceededError   a merge took more work than its limit; the document may
    │   │                            hold part of the changes: discard it
    │   └── TooManyClientsError      changes name more client ids new to the document than
    │                                the limit given (nothing changed)
    ├── AuthError              a token was missing, malformed, expired or refused
    │   └── TokenExpiredError      the token expired: get a fresh one
    ├── PermissionDeniedError  the principal may not do this (read, write, write under that id)
    ├── DocumentDeletedError   the document was deleted for everyone; its id is never usable again
    ├── EquivocationError      two different operations were sent under one client id and seq
    ├── StorageError           a storage backend failed or holds inconsistent data
    ├── SyncTimeoutError       a wait (such as ``wait_synced``) ran out of time (also TimeoutError)
    ├── InvalidValueError      an argument has the right type but a bad value (also ValueError):
    │                          a bad URL, document id, limit or grant
    ├── InvalidTypeError       an argument has the wrong type (also TypeError): a value that is
    │                          not JSON, a version that is not a VersionVector
    ├── PositionError          a position outside a text or list (also IndexError)
    └── NotFoundError          removing what is not there, as ``set.remove`` (also KeyError)

Misuse of the Python API raises the last four, which are also Python's own ``ValueError``,
``TypeError``, ``IndexError`` and ``KeyError``: code that catches those keeps working, and
``except SyncKitError`` catches everything SyncKit raises on purpose.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthUnavailableError",
    "DecodeError",
    "DocumentDeletedError",
    "EquivocationError",
    "InvalidTypeError",
    "InvalidValueError",
    "LimitExceededError",
    "LocalProtocolError",
    "NotFoundError",
    "PermissionDeniedError",
    "PositionError",
    "ProtocolError",
    "RemoteProtocolError",
    "StorageError",
    "SyncKitError",
    "SyncTimeoutError",
    "TokenExpiredError",
    "TooManyClientsError",
    "UnsupportedFormatError",
    "WorkLimitExceededError",
]


class SyncKitError(Exception):
    """Base class of every error SyncKit raises on purpose."""


class DecodeError(SyncKitError):
    """Bytes could not be decoded; the message says what was wrong. Nothing was changed."""


class UnsupportedFormatError(DecodeError):
    """The bytes declare a format version this release cannot read."""


class ProtocolError(SyncKitError):
    """A sync session received or was asked to send something illegal in its state."""


class LocalProtocolError(ProtocolError):
    """This side misused the session: calling code did something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something malformed or illegal for the session's state."""


class LimitExceededError(SyncKitError):
    """A frame, a document or a send queue exceeded its configured limit."""


class WorkLimitExceededError(LimitExceededError):
    """Merging changes took more work than the limit the caller gave
    (``Document.apply(max_work=...)``). The merge stopped part way: the document may hold
    some of the changes and is to be discarded (a server loads it again from storage)."""


class TooManyClientsError(LimitExceededError):
    """Changes name more client ids the document has not heard of than the limit the caller
    gave (``Document.apply(max_new_clients=...)``); nothing was changed. Every id a change
    set's table names is kept with the document for good, used or not."""


class AuthError(SyncKitError):
    """Authentication failed: the token was missing, malformed, expired or refused."""


class AuthUnavailableError(AuthError):
    """The token cannot be checked right now (the server is fetching its keys): try again
    shortly; the token may well be good."""


class TokenExpiredError(AuthError):
    """The token expired (or is not valid yet): get a fresh one and connect again."""


class PermissionDeniedError(SyncKitError):
    """The client is known, but may not read or write this document."""


class DocumentDeletedError(SyncKitError):
    """The document was deleted for everyone (by a principal with admin access to it).

    A deleted id is never usable again: the server keeps a tombstone and refuses every later
    subscription or push under it, and a client drops its local copy and its unsent edits.
    ``doc_id`` names the document (empty when unknown).
    """

    def __init__(self, message: str, doc_id: str = "") -> None:
        super().__init__(message)
        self.doc_id = doc_id


class EquivocationError(SyncKitError):
    """Two different operations arrived under one client id and sequence number.

    The id was reused: a replica restored from an old copy of its store, or two devices
    sharing one store file. The message names the id; open the document with a fresh store.
    """


class StorageError(SyncKitError):
    """A storage backend failed, or what it holds is inconsistent."""


class SyncTimeoutError(SyncKitError, TimeoutError):
    """A wait for a sync condition did not complete in time."""


class InvalidValueError(SyncKitError, ValueError):
    """An argument has an acceptable type but a bad value; the message names it and the rule."""


class InvalidTypeError(SyncKitError, TypeError):
    """An argument has the wrong type; the message names the argument and the type expected."""


class PositionError(SyncKitError, IndexError):
    """A position lies outside the text or list; the message gives the position and the length."""


class NotFoundError(SyncKitError, KeyError):
    """What was to be removed is not there (as ``set.remove`` raises ``KeyError``)."""
