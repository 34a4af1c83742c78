"""Frames: every event round-trips; hostile bytes come back as errors, never exceptions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synckit.errors import RemoteProtocolError
from synckit.protocol import (
    Ack,
    Broadcast,
    Error,
    ErrorCode,
    Event,
    FrameError,
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
    check_doc_id,
    decode_frame,
    decode_numbered,
    encode_frame,
    encode_frame_body,
    number_frame,
)
from synckit.protocol._frames import encode_ack_body
from synckit.v1 import protocol_pb2 as pb

EVENTS: list[Event] = [
    Hello("alice", "tok", ("a", "b")),
    Welcome(("http",), 1234),
    Subscribe("doc-1", b"\x01\x02"),
    Subscribed("doc-1", b"changes", b"ver"),
    Push("doc.2", 7, b"\x00" * 10),
    Ack("doc:3", 7, b"v"),
    Broadcast("d", b"c", b"v"),
    Unsubscribe("d"),
    Ping(2**64 - 1),
    Pong(0),
    Error(ErrorCode.DOC_TOO_LARGE, "too big", True, True, "d", 3),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: Event) -> None:
    assert decode_frame(encode_frame(event)) == event


def test_doc_id_rules() -> None:
    assert check_doc_id("a") is None
    assert check_doc_id("A-b_c.d:9") is None
    assert check_doc_id("x" * 128) is None
    for bad in ["", "x" * 129, "-a", ".hidden", "a/b", "a b", "é", "a\x00"]:
        assert check_doc_id(bad) is not None, bad
    with pytest.raises(ValueError, match="document id"):
        Subscribe("a/b")


def test_events_check_themselves() -> None:
    with pytest.raises(ValueError, match="batch_id"):
        Push("d", 0, b"")
    with pytest.raises(ValueError, match="client_id"):
        Hello("")
    with pytest.raises(TypeError):
        Push("d", 1, "text")  # type: ignore[arg-type]


def test_unknown_message_type() -> None:
    # Field 99 of the Envelope: a message from a future protocol revision.
    frame = b"\x9a\x06\x00"  # tag (99 << 3 | 2), length 0
    result = decode_frame(frame)
    assert isinstance(result, FrameError)
    assert result.code is ErrorCode.UNKNOWN_MESSAGE
    assert decode_frame(b"") == FrameError(ErrorCode.UNKNOWN_MESSAGE, "empty frame")


def test_truncated_frames_are_bad_frames() -> None:
    frame = encode_frame(Push("doc", 1, b"x" * 100))
    for cut in range(1, len(frame)):
        result = decode_frame(frame[:cut])
        # A cut on a field boundary may still parse, as a different (shorter) push.
        assert isinstance(result, FrameError | Push), cut
        if isinstance(result, FrameError):
            assert result.code in (ErrorCode.BAD_FRAME, ErrorCode.INVALID_DOC_ID)


def test_invalid_doc_id_in_frame() -> None:
    env = pb.Envelope()
    env.push.doc_id = "../etc/passwd"
    env.push.batch_id = 4
    result = decode_frame(env.SerializeToString())
    assert isinstance(result, FrameError)
    assert result.code is ErrorCode.INVALID_DOC_ID
    assert result.batch_id == 4
    assert "Push" in result.message


def test_bad_field_values() -> None:
    env = pb.Envelope()
    env.push.doc_id = "d"
    env.push.batch_id = 0
    result = decode_frame(env.SerializeToString())
    assert isinstance(result, FrameError) and result.code is ErrorCode.BAD_FRAME


def test_server_session_oversized_frame() -> None:
    server = ServerSession(max_frame_bytes=100)
    with pytest.raises(RemoteProtocolError, match="exceeds the limit of 100"):
        server.receive(encode_frame(Hello("a" * 200)))
    err = decode_frame(server.data_to_send()[0])
    assert isinstance(err, Error) and err.code is ErrorCode.FRAME_TOO_LARGE
    assert server.state is State.CLOSED


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_crashes_a_session(data: bytes) -> None:
    server = ServerSession()
    try:
        events = server.receive(data)
    except RemoteProtocolError:
        assert server.state is State.CLOSED
        frames = server.data_to_send()
        assert len(frames) == 1
        err = decode_frame(frames[0])
        assert isinstance(err, Error) and err.fatal and err.code is not ErrorCode.UNSPECIFIED
    else:
        # The only legal first message is a Hello (random bytes can spell one).
        assert all(isinstance(e, Hello | Error) for e in events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_in_open_session(data: bytes) -> None:
    server = ServerSession()
    server.receive(encode_frame(Hello("a")))
    server.send(Welcome())
    server.data_to_send()
    try:
        server.receive(data)
    except RemoteProtocolError:
        assert server.state is State.CLOSED
    for frame in server.data_to_send():
        assert not isinstance(decode_frame(frame), FrameError)


@pytest.mark.parametrize("seq", [0, 1, 127, 128, 300, 2**40, 2**64 - 1])
def test_a_body_encoded_once_can_be_numbered_per_connection(seq: int) -> None:
    event = Broadcast("doc", b"changes" * 20, b"version")
    framed = number_frame(encode_frame_body(event), seq)
    assert decode_numbered(framed) == (event, seq)
    assert decode_numbered(encode_frame(event, seq)) == (event, seq)


_DOC_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}", fullmatch=True)


@settings(max_examples=300)
@given(_DOC_IDS, st.integers(1, 2**64 - 1), st.binary(max_size=300), st.binary(max_size=300))
def test_hot_events_written_by_hand_are_the_bytes_protobuf_writes(
    doc_id: str, batch: int, data: bytes, version: bytes
) -> None:
    # Push, Ack and Broadcast are written without protobuf (one per push, each way).
    env = pb.Envelope()
    env.push.doc_id, env.push.batch_id, env.push.changes = doc_id, batch, data
    assert encode_frame_body(Push(doc_id, batch, data)) == env.SerializeToString()
    env = pb.Envelope()
    env.ack.doc_id, env.ack.batch_id, env.ack.server_version = doc_id, batch, version
    assert encode_frame_body(Ack(doc_id, batch, version)) == env.SerializeToString()
    assert encode_ack_body(doc_id, batch, version) == env.SerializeToString()
    env = pb.Envelope()
    env.broadcast.doc_id, env.broadcast.changes = doc_id, data
    env.broadcast.server_version = version
    assert encode_frame_body(Broadcast(doc_id, data, version)) == env.SerializeToString()
    for seq in (1, 127, 128, 2**63):
        framed = number_frame(encode_frame_body(Push(doc_id, batch, data)), seq)
        assert decode_numbered(framed) == (Push(doc_id, batch, data), seq)


def test_a_doc_id_found_valid_stays_valid_and_an_invalid_one_invalid() -> None:
    # (Valid ids are remembered: asking again must give the same answers.)
    for _ in range(2):
        assert check_doc_id("doc-1") is None
        assert check_doc_id("-doc") is not None
        assert check_doc_id(b"doc-1") is not None
