"""The connection state machine of the sync protocol, as a table.

Theory of operation
-------------------
Both ends of a connection track the same state, because both see the same frames in the same
order. A connection starts in ``AWAITING_HELLO``. The client sends ``Hello`` (-> ``HANDSHAKE``);
the server answers ``Welcome`` (-> ``OPEN``) or a fatal ``Error``. In ``OPEN`` each side may
send the messages listed for its role below, any number of times, for any number of documents.
A ``Hello`` in ``OPEN`` re-authenticates: same client id, a fresh token; the server answers with
another ``Welcome`` (or a fatal ``Error``), and subscriptions and pending pushes carry on.

Whoever is about to send or has just received a frame looks up ``(sender's role, state)`` in
:data:`TRANSITIONS`; a message missing from that row is illegal. When we are the sender that is
our bug (:class:`~synckit.errors.LocalProtocolError`); when the peer is, it is theirs
(:class:`~synckit.errors.RemoteProtocolError`, and the peer is told with an ``ILLEGAL_STATE``
error that names the state and the message).

One rule sits outside the table: an ``Error`` marked ``fatal`` may be sent by either side in
any state but ``CLOSED``, and moves the connection to ``CLOSED``. A closed session ignores
whatever still arrives.

Per-document rules (a push only for a subscribed document, an ack only for a pending push) and
capabilities (presence only between peers that both advertised it) are checked by the sessions
in :mod:`._session`, on top of this table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from synckit.protocol._events import (
    Ack,
    Broadcast,
    DeleteDoc,
    DocDeleted,
    Error,
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

__all__ = ["TRANSITIONS", "Role", "State"]


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    AWAITING_HELLO = "AWAITING_HELLO"
    HANDSHAKE = "HANDSHAKE"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


_C, _S = Role.CLIENT, Role.SERVER
_OPEN = State.OPEN

#: (sender's role, state) -> {message type: next state}.
TRANSITIONS: Mapping[tuple[Role, State], Mapping[type, State]] = {
    (_C, State.AWAITING_HELLO): {Hello: State.HANDSHAKE},
    (_S, State.HANDSHAKE): {Welcome: _OPEN},
    (_C, _OPEN): {
        Hello: _OPEN,  # re-authentication with a fresh token, same client id
        Subscribe: _OPEN,
        Push: _OPEN,
        Unsubscribe: _OPEN,
        PresenceSet: _OPEN,
        DeleteDoc: _OPEN,
        Ping: _OPEN,
        Pong: _OPEN,
        Error: _OPEN,
    },
    (_S, _OPEN): {
        Welcome: _OPEN,  # answers a re-authenticating Hello
        Subscribed: _OPEN,
        Ack: _OPEN,
        Broadcast: _OPEN,
        Presence: _OPEN,
        DocDeleted: _OPEN,
        Ping: _OPEN,
        Pong: _OPEN,
        Error: _OPEN,
    },
}
