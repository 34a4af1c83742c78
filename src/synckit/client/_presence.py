"""Presence on the client: this replica's state in a document, and the others'.

:class:`DocPresence` is the engine's record of one document's presence (no I/O);
:class:`Presence` is what ``client.presence(doc_id)`` hands the application. A state is a JSON
object: who is here, a cursor, a selection. It is never stored; the server passes it on to the
other clients in the document at most once per tick, and forgets it when this client leaves,
disconnects or stops renewing it (the engine renews it by itself while connected).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synckit.errors import InvalidTypeError, InvalidValueError, LimitExceededError
from synckit.protocol import Error, PresenceEntry

if TYPE_CHECKING:
    from synckit.client._client import Client

__all__ = ["DocPresence", "PeerPresence", "Presence", "PresenceCallback", "PresenceChange"]


@dataclass(frozen=True, slots=True)
class PeerPresence:
    """Another connection's presence in a document.

    ``key`` identifies the connection (the server made it; stable while it stays connected);
    ``principal`` and ``client_id`` are who the server authenticated it as, whatever its
    state claims; ``state`` is the JSON object it set.
    """

    key: str
    principal: str
    client_id: str
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """What changed in a document's presence: entries set or changed, and keys gone (left,
    timed out, cleared, or all of them when the connection was lost or the document closed)."""

    doc_id: str
    updated: tuple[PeerPresence, ...] = ()
    removed: tuple[str, ...] = ()


#: ``callback(change)``: called after the others' presence in a document changed.
PresenceCallback = Callable[[PresenceChange], object]


def encode_state(state: Mapping[str, Any]) -> bytes:
    """A presence state as the UTF-8 JSON bytes the protocol carries.

    Raises:
        InvalidTypeError: not a mapping.
        InvalidValueError: not JSON-able (non-str keys, NaN, objects of other types).
    """
    if not isinstance(state, Mapping):
        raise InvalidTypeError(f"a presence state is a JSON object (dict), got {type(state)}")
    try:
        text = json.dumps(dict(state), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"presence state is not JSON: {exc}") from None
    return text.encode()


@dataclass(slots=True)
class DocPresence:
    """The engine's record of one document's presence."""

    doc_id: str
    #: This replica's state (encoded) and as given (None: none set).
    local: bytes | None = None
    value: Mapping[str, Any] | None = None
    #: The others, by key.
    others: dict[str, PeerPresence] = field(default_factory=dict)
    observers: list[PresenceCallback] = field(default_factory=list)
    #: When the state was last sent on this connection (None: not sent on it).
    sent_at: float | None = None
    #: The server's last refusal of this state (PRESENCE_TOO_LARGE, BAD_PRESENCE).
    error: Error | None = None

    def apply(self, entries: tuple[PresenceEntry, ...]) -> None:
        """Take a ``Presence`` frame's entries; tell the observers."""
        updated: list[PeerPresence] = []
        removed: list[str] = []
        for entry in entries:
            if entry.removed:
                if self.others.pop(entry.key, None) is not None:
                    removed.append(entry.key)
                continue
            try:
                state = json.loads(entry.state)
            except (ValueError, RecursionError):
                continue  # not from a SyncKit server: skip it
            if not isinstance(state, dict):
                continue
            peer = PeerPresence(entry.key, entry.principal, entry.client_id, state)
            self.others[entry.key] = peer
            updated.append(peer)
        if updated or removed:
            self.notify(PresenceChange(self.doc_id, tuple(updated), tuple(removed)))

    def reset(self) -> None:
        """The others are unknown from now (connection lost, resubscribing, closed)."""
        gone = tuple(self.others)
        self.others.clear()
        self.sent_at = None
        if gone:
            self.notify(PresenceChange(self.doc_id, (), gone))

    def notify(self, change: PresenceChange) -> None:
        for callback in tuple(self.observers):
            callback(change)


class Presence:
    """Presence in one document: set this client's state, read and observe the others'.

    Get it with ``client.presence(doc_id)`` (the document open, over a WebSocket). The state
    is sent while connected, again after every reconnect, and renewed by itself; the server
    drops it when the client leaves the document, disconnects, or closes.
    """

    __slots__ = ("_client", "doc_id")

    def __init__(self, client: Client, doc_id: str) -> None:
        self._client = client
        self.doc_id = doc_id

    @property
    def _record(self) -> DocPresence:
        return self._client.engine.doc_presence(self.doc_id)

    def set(self, state: Mapping[str, Any]) -> None:
        """Set this client's state (a JSON object); sent at once when connected. Setting it
        many times in a row is cheap: the server passes on only the latest per tick.

        Raises:
            InvalidTypeError, InvalidValueError: not a JSON object.
            LimitExceededError: larger than the server's ``max_presence_bytes`` (known once
                connected).
            LocalProtocolError: the document is no longer open, or the client is closed.
        """
        data = encode_state(state)
        engine = self._client.engine
        limit = engine.max_presence_bytes
        if limit and len(data) > limit:
            raise LimitExceededError(
                f"presence state of {len(data)} bytes exceeds the server's limit of {limit} "
                "(max_presence_bytes)"
            )
        engine.set_presence(self.doc_id, data, dict(state))
        self._client.kick()

    def clear(self) -> None:
        """Remove this client's state (the others see it gone)."""
        self._client.engine.set_presence(self.doc_id, None, None)
        self._client.kick()

    @property
    def state(self) -> Mapping[str, Any] | None:
        """This client's state as last set (None: none)."""
        return self._record.value

    @property
    def others(self) -> dict[str, PeerPresence]:
        """The other connections' presence now, by key (a copy; empty while offline)."""
        return dict(self._record.others)

    @property
    def error(self) -> Error | None:
        """The server's last refusal of this client's state (None: none)."""
        return self._record.error

    @property
    def available(self) -> bool:
        """Connected to a server that speaks presence (otherwise states wait)."""
        return self._client.engine.presence_available

    def observe(self, callback: PresenceCallback) -> Callable[[], None]:
        """Call ``callback(change)`` whenever the others' presence changes; returns an
        unsubscribe."""
        observers = self._record.observers
        observers.append(callback)

        def unsubscribe() -> None:
            if callback in observers:
                observers.remove(callback)

        return unsubscribe
