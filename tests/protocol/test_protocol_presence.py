"""Presence in the sans-IO sessions: only between peers that both advertised the capability,
only for subscribed documents, and its refusals never end a subscription."""

from __future__ import annotations

import pytest
from session_pair import SessionPair

from synckit.errors import LimitExceededError, LocalProtocolError, RemoteProtocolError
from synckit.protocol import (
    PRESENCE,
    Error,
    ErrorCode,
    Hello,
    Presence,
    PresenceEntry,
    PresenceSet,
    Subscribe,
    Subscribed,
    Welcome,
    decode_frame,
    encode_frame,
)


def open_pair(client_caps: tuple[str, ...], server_caps: tuple[str, ...]) -> SessionPair:
    pair = SessionPair()
    pair.send(pair.client, Hello("alice", "", client_caps))
    pair.send(pair.server, Welcome(server_caps))
    return pair


def subscribed(pair: SessionPair, doc_id: str = "d") -> None:
    pair.send(pair.client, Subscribe(doc_id))
    pair.send(pair.server, Subscribed(doc_id, b"", b""))


def test_presence_flows_when_both_sides_advertise_it() -> None:
    pair = open_pair((PRESENCE,), (PRESENCE,))
    assert pair.client.presence and pair.server.presence
    subscribed(pair)
    assert pair.send(pair.client, PresenceSet("d", b'{"x":1}')) == [PresenceSet("d", b'{"x":1}')]
    entry = PresenceEntry("s:1", "bob", "b", b'{"y":2}')
    assert pair.send(pair.server, Presence("d", (entry,))) == [Presence("d", (entry,))]


@pytest.mark.parametrize(
    ("client_caps", "server_caps"), [((), (PRESENCE,)), ((PRESENCE,), ()), ((), ())]
)
def test_no_presence_unless_both_advertise_it(
    client_caps: tuple[str, ...], server_caps: tuple[str, ...]
) -> None:
    pair = open_pair(client_caps, server_caps)
    subscribed(pair)
    with pytest.raises(LocalProtocolError, match="capability"):
        pair.client.send(PresenceSet("d", b"{}"))
    with pytest.raises(LocalProtocolError, match="capability"):
        pair.server.send(Presence("d"))
    # From a peer that ignores the rule: fatal.
    with pytest.raises(RemoteProtocolError, match="capability"):
        pair.server.receive(encode_frame(PresenceSet("d", b"{}")))
    assert pair.server.error is not None and pair.server.error.code is ErrorCode.ILLEGAL_STATE


def test_presence_only_for_subscribed_documents() -> None:
    pair = open_pair((PRESENCE,), (PRESENCE,))
    with pytest.raises(LocalProtocolError, match="not subscribed"):
        pair.client.send(PresenceSet("d", b"{}"))
    pair.send(pair.client, Subscribe("d"))
    with pytest.raises(LocalProtocolError, match="not subscribed"):
        pair.server.send(Presence("d"))  # not before the Subscribed
    # The server drops a PresenceSet for another document with a non-fatal error that names
    # no document (so that it ends nothing on the client).
    assert pair.server.receive(encode_frame(PresenceSet("other", b"{}"))) == []
    [frame] = pair.server.data_to_send()
    error = decode_frame(frame)
    assert isinstance(error, Error) and error.code is ErrorCode.ILLEGAL_STATE
    assert not error.fatal and not error.doc_id
    # A Presence for a document the client never subscribed to is fatal for the client.
    with pytest.raises(RemoteProtocolError, match="never subscribed"):
        pair.client.receive(encode_frame(Presence("nope")))


@pytest.mark.parametrize("code", [ErrorCode.PRESENCE_TOO_LARGE, ErrorCode.BAD_PRESENCE])
def test_presence_refusals_keep_the_subscription(code: ErrorCode) -> None:
    pair = open_pair((PRESENCE,), (PRESENCE,))
    subscribed(pair)
    [received] = pair.send(pair.server, Error(code, "refused", doc_id="d"))
    assert isinstance(received, Error)
    assert pair.client.doc_state("d") is not None
    assert pair.server.may_broadcast("d")
    pair.send(pair.client, PresenceSet("d", b"{}"))  # still allowed
    exc = Error(ErrorCode.PRESENCE_TOO_LARGE, "big").to_exception()
    assert isinstance(exc, LimitExceededError)


def test_welcome_carries_the_presence_limits() -> None:
    welcome = Welcome((PRESENCE,), max_presence_bytes=4096, presence_timeout_ms=30_000)
    assert decode_frame(encode_frame(welcome)) == welcome
