"""Deleting a document on the wire: DeleteDoc / DocDeleted frames, the "delete" capability,
errors that answer a request (and end no subscription), DOC_DELETED."""

from __future__ import annotations

import pytest
from session_pair import SessionPair

from synckit.errors import (
    DocumentDeletedError,
    InvalidValueError,
    LocalProtocolError,
    RemoteProtocolError,
)
from synckit.protocol import (
    DELETE,
    DeleteDoc,
    DocDeleted,
    DocState,
    Error,
    ErrorCode,
    Hello,
    HttpSyncRequest,
    ServerHttpExchange,
    State,
    Subscribe,
    Subscribed,
    Welcome,
    decode_frame,
    encode_frame,
    encode_http_request,
)
from synckit.v1 import protocol_pb2 as pb


def _open(capabilities: tuple[str, ...] = (DELETE,)) -> SessionPair:
    pair = SessionPair()
    pair.send(pair.client, Hello("alice"))
    pair.send(pair.server, Welcome(capabilities))
    return pair


def test_frames_round_trip() -> None:
    for event in (
        DeleteDoc("notes", 7),
        DocDeleted("notes", 7),
        Error(ErrorCode.DOC_DELETED, "gone", doc_id="notes", request_id=3),
    ):
        assert decode_frame(encode_frame(event, 4)) == event
    env = pb.Envelope()
    env.ParseFromString(encode_frame(DeleteDoc("notes", 1)))
    assert env.WhichOneof("body") == "delete_doc"
    assert int(ErrorCode.DOC_DELETED) == int(pb.ERROR_CODE_DOC_DELETED) == 24


def test_bad_values_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="request_id must be at least 1"):
        DeleteDoc("notes", 0)
    with pytest.raises(InvalidValueError):
        DeleteDoc("no spaces", 1)
    env = pb.Envelope()
    env.delete_doc.doc_id = "../etc"
    env.delete_doc.request_id = 1
    bad = decode_frame(env.SerializeToString())
    assert getattr(bad, "code", None) is ErrorCode.INVALID_DOC_ID


def test_doc_deleted_is_an_exception_naming_the_document() -> None:
    exc = Error(ErrorCode.DOC_DELETED, "gone for good", doc_id="notes").to_exception()
    assert isinstance(exc, DocumentDeletedError) and exc.doc_id == "notes"
    assert "DOC_DELETED" in str(exc)


def test_a_client_asks_only_a_server_that_advertised_delete() -> None:
    pair = _open(capabilities=())
    assert not pair.client.may_delete
    with pytest.raises(LocalProtocolError, match="'delete' capability"):
        pair.client.send(DeleteDoc("notes", 1))
    assert pair.client.pending_deletes == {}


def test_a_server_that_did_not_advertise_it_refuses_the_request() -> None:
    pair = _open(capabilities=())
    frame = encode_frame(DeleteDoc("notes", 1), 2)  # a client that ignores the rule
    with pytest.raises(RemoteProtocolError, match="did not advertise"):
        pair.server.receive(frame)
    assert pair.server.state is State.CLOSED


def test_deleted_answers_the_request_and_ends_the_subscription() -> None:
    pair = _open()
    pair.send(pair.client, Subscribe("notes"))
    pair.send(pair.server, Subscribed("notes", b"", b""))
    assert pair.client.doc_state("notes") is DocState.SUBSCRIBED
    request = pair.client.next_request_id()
    assert pair.send(pair.client, DeleteDoc("notes", request)) == [DeleteDoc("notes", request)]
    assert pair.server.pending_deletes == {request: "notes"}
    assert pair.send(pair.server, DocDeleted("notes", request)) == [DocDeleted("notes", request)]
    assert pair.client.pending_deletes == pair.server.pending_deletes == {}
    assert pair.client.doc_state("notes") is None
    assert "notes" not in pair.server.subscriptions
    with pytest.raises(LocalProtocolError):  # answered once
        pair.server.send(DocDeleted("notes", request))
    with pytest.raises(LocalProtocolError, match="not above"):
        pair.client.send(DeleteDoc("other", request))


def test_an_error_answering_a_request_ends_no_subscription() -> None:
    pair = _open()
    pair.send(pair.client, Subscribe("notes"))
    pair.send(pair.server, Subscribed("notes", b"", b""))
    pair.send(pair.client, DeleteDoc("notes", 1))
    refusal = Error(ErrorCode.PERMISSION_DENIED, "no", doc_id="notes", request_id=1)
    assert pair.send(pair.server, refusal) == [refusal]
    assert pair.client.pending_deletes == {}
    assert pair.client.doc_state("notes") is DocState.SUBSCRIBED
    assert "notes" in pair.server.subscriptions
    # Whereas DOC_DELETED naming the document ends it, as any document error does.
    pair.send(pair.server, Error(ErrorCode.DOC_DELETED, "gone", doc_id="notes"))
    assert pair.client.doc_state("notes") is None


def test_an_unasked_doc_deleted_is_fatal() -> None:
    pair = _open()
    frame = encode_frame(DocDeleted("notes", 5), 2)
    with pytest.raises(RemoteProtocolError, match="not a pending DeleteDoc"):
        pair.client.receive(frame)
    assert pair.client.state is State.CLOSED


def test_an_http_delete_is_played_as_hello_and_delete_doc() -> None:
    body = encode_http_request(HttpSyncRequest("alice", "t"))
    exchange = ServerHttpExchange("notes", body, max_body_bytes=1024, delete=True)
    frames = [decode_frame(f) for f in exchange.frames()]
    assert frames == [Hello("alice", "t", (DELETE,)), DeleteDoc("notes", 1)]
    assert not exchange.pushes
    assert not exchange.receive(encode_frame(Welcome((DELETE,)), 1))
    assert exchange.receive(encode_frame(DocDeleted("notes", 1), 2))
    assert exchange.result is not None and not isinstance(exchange.result, Error)
