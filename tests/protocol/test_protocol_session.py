"""Client and server sessions back to back in memory: the state machine and its errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from session_pair import SessionPair

from synckit.errors import LocalProtocolError, RemoteProtocolError
from synckit.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Broadcast,
    ClientSession,
    DocState,
    Error,
    ErrorCode,
    Hello,
    Ping,
    Pong,
    Push,
    ServerSession,
    State,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    decode_frame,
    encode_frame,
)


def test_handshake_opens_both_sides() -> None:
    pair = SessionPair()
    assert [pair.client.state, pair.server.state] == [State.AWAITING_HELLO] * 2
    assert pair.send(pair.client, Hello("alice", token="t", capabilities=("x",))) == [
        Hello("alice", "t", ("x",))
    ]
    assert [pair.client.state, pair.server.state] == [State.HANDSHAKE] * 2
    assert pair.server.client_id == "alice"
    assert pair.send(pair.server, Welcome(max_frame_bytes=99)) == [Welcome(max_frame_bytes=99)]
    assert pair.client.state is State.OPEN
    assert pair.server.state is State.OPEN


def test_full_document_exchange() -> None:
    pair = SessionPair()
    pair.handshake()
    assert pair.send(pair.client, Subscribe("doc-1", b"v")) == [Subscribe("doc-1", b"v")]
    assert isinstance(pair.client, ClientSession)
    assert pair.client.doc_state("doc-1") is DocState.SUBSCRIBING
    # A push may follow the subscribe at once, before the answer.
    assert pair.send(pair.client, Push("doc-1", 1, b"c1")) == [Push("doc-1", 1, b"c1")]
    assert pair.send(pair.server, Subscribed("doc-1", b"lack", b"sv")) == [
        Subscribed("doc-1", b"lack", b"sv")
    ]
    assert pair.client.doc_state("doc-1") is DocState.SUBSCRIBED
    assert pair.client.pending_batches == {1: "doc-1"}
    assert pair.send(pair.server, Ack("doc-1", 1, b"sv2")) == [Ack("doc-1", 1, b"sv2")]
    assert pair.client.pending_batches == {}
    assert pair.server.pending_batches == {}
    assert pair.send(pair.server, Broadcast("doc-1", b"other", b"sv3")) == [
        Broadcast("doc-1", b"other", b"sv3")
    ]
    assert pair.send(pair.client, Unsubscribe("doc-1")) == [Unsubscribe("doc-1")]
    assert pair.client.doc_state("doc-1") is None


def test_many_documents_share_a_connection() -> None:
    pair = SessionPair()
    pair.handshake()
    for i in range(5):
        pair.send(pair.client, Subscribe(f"d{i}"))
    for i in range(5):
        pair.send(pair.client, Push(f"d{i}", i + 1, b"x"))
    assert pair.server.pending_batches == {i + 1: f"d{i}" for i in range(5)}
    for i in reversed(range(5)):  # acks may come in any order
        pair.send(pair.server, Subscribed(f"d{i}", b"", b""))
        pair.send(pair.server, Ack(f"d{i}", i + 1, b""))
    assert pair.client.pending_batches == {}


def test_ping_is_answered_automatically() -> None:
    pair = SessionPair()
    pair.handshake()
    assert pair.send(pair.server, Ping(7)) == [Ping(7)]
    assert pair.flush(pair.client) == [Pong(7)]
    assert pair.send(pair.client, Ping(8)) == [Ping(8)]
    assert pair.flush(pair.server) == [Pong(8)]


def test_fatal_error_closes_both_sides() -> None:
    pair = SessionPair()
    pair.send(pair.client, Hello("a"))
    err = Error(ErrorCode.AUTH_FAILED, "bad token", fatal=True)
    assert pair.send(pair.server, err) == [err]
    assert pair.server.state is State.CLOSED
    assert pair.client.state is State.CLOSED
    assert pair.client.error == err


@pytest.mark.parametrize(
    ("event", "state_name"),
    [
        (Push("doc", 1, b"x"), "AWAITING_HELLO"),
        (Subscribe("doc"), "AWAITING_HELLO"),
        (Ping(1), "AWAITING_HELLO"),
    ],
)
def test_server_refuses_message_before_hello(
    event: Push | Subscribe | Ping, state_name: str
) -> None:
    server = ServerSession()
    with pytest.raises(RemoteProtocolError) as info:
        server.receive(encode_frame(event))
    name = type(event).__name__
    assert name in str(info.value)
    assert state_name in str(info.value)
    assert server.state is State.CLOSED
    [frame] = server.data_to_send()
    err = decode_frame(frame)
    assert isinstance(err, Error)
    assert err.code is ErrorCode.ILLEGAL_STATE
    assert err.fatal
    assert name in err.message and state_name in err.message


def test_second_hello_reauthenticates_under_the_same_client_id() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.client.send(Hello(pair.server.client_id, "fresh-token"))
    [frame] = pair.client.data_to_send()
    [hello] = pair.server.receive(frame)
    assert isinstance(hello, Hello) and hello.token == "fresh-token"
    pair.server.send(Welcome(token_expires_ms=123, principal="alice"))
    [answer] = pair.client.receive(pair.server.data_to_send()[0])
    assert answer == Welcome(token_expires_ms=123, principal="alice")
    assert pair.server.state is State.OPEN and pair.client.state is State.OPEN


def test_second_hello_under_another_client_id_is_illegal() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.client.close()
    with pytest.raises(RemoteProtocolError, match=r"must keep the client id"):
        pair.server.receive(encode_frame(Hello("someone-else")))


def test_client_refuses_server_message_in_wrong_state() -> None:
    client = ClientSession()
    client.send(Hello("a"))
    client.data_to_send()
    with pytest.raises(RemoteProtocolError, match=r"Ack is not allowed .* state HANDSHAKE"):
        client.receive(encode_frame(Ack("d", 1, b"")))
    err = decode_frame(client.data_to_send()[0])
    assert isinstance(err, Error) and err.code is ErrorCode.ILLEGAL_STATE


def test_local_misuse_raises_and_queues_nothing() -> None:
    client = ClientSession()
    with pytest.raises(LocalProtocolError, match="may not send Subscribe in state AWAITING_HELLO"):
        client.send(Subscribe("d"))
    assert client.data_to_send() == []
    assert client.state is State.AWAITING_HELLO
    pair = SessionPair()
    pair.handshake()
    with pytest.raises(LocalProtocolError, match="not subscribed"):
        pair.client.send(Push("d", 1, b""))
    pair.send(pair.client, Subscribe("d"))
    pair.send(pair.client, Push("d", 5, b""))
    with pytest.raises(LocalProtocolError, match="not above"):
        pair.client.send(Push("d", 5, b""))
    with pytest.raises(LocalProtocolError, match="no such push"):
        pair.server.send(Ack("d", 4, b""))
    with pytest.raises(LocalProtocolError, match="no Subscribe awaits"):
        pair.server.send(Subscribed("other", b"", b""))
    with pytest.raises(LocalProtocolError, match="not subscribed"):
        pair.server.send(Broadcast("other", b"", b""))
    with pytest.raises(LocalProtocolError, match="may not send Hello"):
        pair.server.send(Hello("x"))


def test_push_for_unsubscribed_doc_is_a_document_error() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.server.receive(encode_frame(Subscribe("a")))
    assert pair.server.receive(encode_frame(Push("b", 3, b"x"))) == []
    assert pair.server.state is State.OPEN  # only that push failed
    [frame] = pair.server.data_to_send()
    err = decode_frame(frame)
    assert isinstance(err, Error)
    assert (err.code, err.fatal, err.doc_id, err.batch_id) == (
        ErrorCode.ILLEGAL_STATE,
        False,
        "b",
        3,
    )
    assert "Push" in err.message and "OPEN" in err.message


def test_ack_for_unknown_batch_is_fatal_for_client() -> None:
    pair = SessionPair()
    pair.handshake()
    with pytest.raises(RemoteProtocolError, match="not a pending push"):
        pair.client.receive(encode_frame(Ack("d", 9, b"")))


def test_error_for_a_push_clears_it() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.send(pair.client, Subscribe("d"))
    pair.send(pair.client, Push("d", 1, b"junk"))
    err = Error(ErrorCode.BAD_CHANGES, "nope", doc_id="d", batch_id=1)
    assert pair.send(pair.server, err) == [err]
    assert pair.client.pending_batches == {} == pair.server.pending_batches
    assert pair.client.state is State.OPEN


def test_late_frames_for_a_left_document_are_dropped() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.send(pair.client, Subscribe("d"))
    pair.server.send(Subscribed("d", b"", b""))
    pair.server.send(Broadcast("d", b"x", b""))
    pair.client.send(Unsubscribe("d"))
    assert pair.flush(pair.server) == []  # both arrive after the client left
    assert pair.flush(pair.client) == [Unsubscribe("d")]
    assert pair.client.state is State.OPEN


def test_wrong_protocol_version() -> None:
    server = ServerSession()
    with pytest.raises(RemoteProtocolError, match="protocol version 2"):
        server.receive(encode_frame(Hello("a", protocol_version=PROTOCOL_VERSION + 1)))
    err = decode_frame(server.data_to_send()[0])
    assert isinstance(err, Error)
    assert err.code is ErrorCode.PROTOCOL_VERSION and err.fatal and not err.retryable


def test_closed_session_ignores_input_and_refuses_sends() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.client.close()
    assert pair.client.receive(encode_frame(Ping(1))) == []
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        pair.client.send(Ping(2))


def test_abort_replaces_unwritten_frames_in_the_numbering() -> None:
    pair = SessionPair()
    pair.handshake()
    pair.send(pair.client, Subscribe("d"))
    pair.server.send(Subscribed("d", b"", b""))
    for _ in range(3):
        pair.server.send(Broadcast("d", b"x", b""))
    taken = pair.server.data_to_send()
    assert len(taken) == 4
    pair.client.receive(taken[0])  # only the first was written; three were dropped
    err = Error(ErrorCode.SLOW_CONSUMER, "too slow", retryable=True, fatal=True)
    pair.server.abort(err, unsent=3)
    assert pair.server.state is State.CLOSED
    assert pair.flush(pair.server) == [err]  # read as the next frame, not as a gap
    assert pair.client.state is State.CLOSED
    with pytest.raises(ValueError, match="fatal"):
        SessionPair().server.abort(Error(ErrorCode.INTERNAL, "x"))


def test_lost_duplicated_or_reordered_frames_end_the_session() -> None:
    manglers: list[Callable[[list[bytes]], list[bytes]]] = [
        lambda f: [f[1]],  # lost
        lambda f: [f[0], f[0]],  # duplicated
        lambda f: [f[1], f[0]],  # reordered
    ]
    for mangle in manglers:
        pair = SessionPair()
        pair.handshake()
        pair.send(pair.client, Subscribe("d"))
        pair.server.send(Subscribed("d", b"", b""))
        pair.server.send(Broadcast("d", b"x", b""))
        frames = mangle(pair.server.data_to_send())
        with pytest.raises(RemoteProtocolError, match="frame number"):
            for frame in frames:
                pair.client.receive(frame)
        assert pair.client.state is State.CLOSED


def test_send_broadcast_queues_only_what_send_would_allow_and_numbers_it_in_turn() -> None:
    from synckit.protocol import encode_frame_body

    pair = SessionPair()
    pair.handshake()
    out = Broadcast("d", b"changes", b"")
    body = encode_frame_body(out)
    assert not pair.server.send_broadcast("d", body)  # not subscribed
    pair.send(pair.client, Subscribe("d"))
    assert not pair.server.send_broadcast("d", body)  # its Subscribed not sent yet
    assert pair.server.data_to_send() == []
    pair.server.send(Subscribed("d", b"", b""))
    assert pair.server.send_broadcast("d", body)
    pair.server.send(out, body=body)  # the general path, numbered next
    assert pair.server.send_broadcast("d", body)
    assert pair.flush(pair.server) == [Subscribed("d", b"", b""), out, out, out]
    pair.server.close()
    assert not pair.server.send_broadcast("d", body)  # closed


def test_send_ack_queues_the_frame_send_would_and_checks_the_same() -> None:
    def opened() -> ServerSession:
        server = ServerSession()
        server.receive(encode_frame(Hello("a"), 1))
        server.send(Welcome())
        server.receive(encode_frame(Subscribe("d", b""), 2))
        server.receive(encode_frame(Push("d", 5, b"x"), 3))
        server.data_to_send()
        return server

    one, other = opened(), opened()
    one.send(Ack("d", 5, b"\x0a\x01a\x12\x01\x07"))
    other.send_ack("d", 5, b"\x0a\x01a\x12\x01\x07")
    assert one.data_to_send() == other.data_to_send()
    assert one.pending_batches == other.pending_batches == {}
    with pytest.raises(LocalProtocolError):
        other.send_ack("d", 5, b"")  # acknowledged already
    fresh = opened()
    with pytest.raises(LocalProtocolError):
        fresh.send_ack("e", 5, b"")  # batch 5 is of "d"
    assert fresh.pending_batches == {5: "d"} and fresh.data_to_send() == []
