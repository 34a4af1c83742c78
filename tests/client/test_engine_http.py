"""The engine's HTTP fallback against a real Hub, with no network: the test moves the bytes.

``http_sync(hub, doc_id, body)`` plays the request on the hub exactly as the server's
``POST /v1/docs/{id}/sync`` does (a short session, the same status codes), so these tests run
the whole exchange in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synckit.client import (
    HttpOutcome,
    MemoryStore,
    SQLiteStore,
    Store,
    SyncEngine,
    connect,
    http_sync_url,
)
from synckit.core import ChangeEvent, VersionVector
from synckit.errors import AuthError, LocalProtocolError, SyncTimeoutError
from synckit.protocol import (
    PROTOCOL_VERSION,
    Error,
    ErrorCode,
    ServerHttpExchange,
    encode_http_answer,
    encode_http_error,
)
from synckit.server import Hub, Limits, http_status
from synckit.server import MemoryStore as ServerMemoryStore
from synckit.server import SQLiteStore as ServerSQLiteStore
from synckit.v1 import protocol_pb2 as pb

PROTOBUF = "application/x-protobuf"


def http_sync(hub: Hub, doc_id: str, body: bytes) -> tuple[int, bytes]:
    """The status and body the server's HTTP endpoint answers ``body`` with."""
    exchange = ServerHttpExchange(doc_id, body, max_body_bytes=hub.limits.max_frame_bytes)
    result = hub.exchange(exchange)
    if isinstance(result, Error):
        return http_status(result), encode_http_error(result)
    return 200, encode_http_answer(result)


def post(hub: Hub, engine: SyncEngine, doc_id: str) -> HttpOutcome:
    """One request and its answer, as the asyncio client moves them."""
    status, answer = http_sync(hub, doc_id, engine.http_request(doc_id))
    return engine.receive_http(doc_id, status == 200, answer, content_type=PROTOBUF)


def sync(hub: Hub, engine: SyncEngine, doc_id: str) -> list[HttpOutcome]:
    """Requests until the engine has nothing more to send now; the outcomes in order."""
    outcomes = [post(hub, engine, doc_id)]
    while outcomes[-1] is HttpOutcome.AGAIN:
        assert len(outcomes) < 5, outcomes
        outcomes.append(post(hub, engine, doc_id))
    return outcomes


def request(body: bytes) -> pb.HttpSyncRequest:
    return pb.HttpSyncRequest.FromString(body)


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Hub, Store]]:
    """A hub and a client store, both in memory or both on SQLite."""
    client_store: Store
    if request.param == "memory":
        hub, client_store = Hub(ServerMemoryStore()), MemoryStore()
    else:
        hub = Hub(ServerSQLiteStore(tmp_path / "server.db"))
        client_store = SQLiteStore(tmp_path / "client.db")
    yield hub, client_store
    hub.close()
    client_store.close()


def test_first_request_asks_then_pushes_only_what_the_server_lacks(
    stores: tuple[Hub, Store],
) -> None:
    hub, store = stores
    other = SyncEngine(MemoryStore(), "other~1")
    theirs = other.open("notes")
    theirs.get_text("t").insert(0, "theirs ")
    assert sync(hub, other, "notes") == [HttpOutcome.AGAIN, HttpOutcome.DONE]

    engine = SyncEngine(store, store.actor_id("me"), token="tok")
    doc = engine.open("notes")
    doc.get_counter("n").increment(5)
    assert engine.unsynced() == ["notes"]

    first = request(engine.http_request("notes"))
    assert first.protocol_version == PROTOCOL_VERSION
    assert (first.client_id, first.token) == (engine.actor_id, "tok")
    assert first.changes == b""  # the server's version is not known yet: ask first
    assert VersionVector.decode(first.version) == doc.version()
    status, answer = http_sync(hub, "notes", first.SerializeToString())
    assert engine.receive_http("notes", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.AGAIN
    )
    assert doc.to_json() == {"t": "theirs ", "n": 5}  # the server's changes arrived
    assert engine.unsynced() == ["notes"]  # ours are not there yet

    server_before = VersionVector.decode(pb.HttpSyncResponse.FromString(answer).server_version)
    second = request(engine.http_request("notes"))
    assert second.changes == doc.changes(server_before)  # exactly what the server lacks
    # ``version`` is the client's version without those changes.
    assert VersionVector.decode(second.version) == server_before
    status, answer = http_sync(hub, "notes", second.SerializeToString())
    assert engine.receive_http("notes", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.DONE
    )
    assert engine.unsynced() == []
    assert hub.doc_json("notes") == {"t": "theirs ", "n": 5}
    assert engine.sync_error() is None

    # What came from the server is in the store: a new engine on it has everything.
    version = doc.version()
    engine.close()
    again = SyncEngine(store, store.actor_id("me")).open("notes")
    assert again.to_json() == {"t": "theirs ", "n": 5}
    assert again.version() == version


def test_a_poll_carries_no_changes_and_brings_remote_ones() -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    doc = engine.open("d")
    doc.set("mine", 1)
    sync(hub, engine, "d")
    seen: list[ChangeEvent] = []
    doc.subscribe(seen.append)

    other = SyncEngine(MemoryStore(), "other~1")
    other.open("d").set("theirs", 2)
    sync(hub, other, "d")

    poll = request(engine.http_request("d"))
    assert poll.changes == b"" and VersionVector.decode(poll.version) == doc.version()
    status, answer = http_sync(hub, "d", poll.SerializeToString())
    assert (
        engine.receive_http("d", status == 200, answer, content_type=PROTOBUF) is HttpOutcome.DONE
    )
    assert doc.to_json() == {"mine": 1, "theirs": 2}
    assert len(seen) == 1 and not seen[0].local
    assert engine.unsynced() == []


def test_edits_made_while_a_request_is_out_call_for_another() -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    doc = engine.open("d")
    doc.get_list("l").append(1)
    sync(hub, engine, "d")
    doc.get_list("l").append(2)
    body = engine.http_request("d")
    doc.get_list("l").append(3)  # after the request was built
    status, answer = http_sync(hub, "d", body)
    assert (
        engine.receive_http("d", status == 200, answer, content_type=PROTOBUF) is HttpOutcome.AGAIN
    )
    assert engine.unsynced() == ["d"]
    assert sync(hub, engine, "d") == [HttpOutcome.DONE]
    assert hub.doc_json("d") == {"l": [1, 2, 3]}


def test_http_and_websocket_replicas_converge_through_one_hub() -> None:
    hub = Hub(ServerMemoryStore())
    ws = SyncEngine(MemoryStore(), "ws~1")
    ws_doc = ws.open("d")
    conn = hub.connect()
    ws.connection_made(0.0)

    def pump() -> None:
        for _ in range(5):
            ws.flush()
            for frame in ws.data_to_send():
                hub.receive(conn, frame)
            for frame in conn.take_frames():
                ws.receive(frame, 0.0)

    pump()
    assert ws.online
    http = SyncEngine(MemoryStore(), "http~1")
    http_doc = http.open("d")
    http_doc.get_text("t").insert(0, "over http")
    sync(hub, http, "d")
    pump()  # the hub broadcast the HTTP client's commit to the WebSocket subscriber
    assert str(ws_doc.get_text("t")) == "over http"
    ws_doc.get_counter("n").increment(2)
    pump()
    assert ws.unsynced() == []
    sync(hub, http, "d")
    assert http_doc.to_json() == ws_doc.to_json() == {"t": "over http", "n": 2}


def test_refused_token_is_terminal() -> None:
    hub = Hub(ServerMemoryStore(), authenticate=lambda client, token: token == "good")
    engine = SyncEngine(MemoryStore(), "me~1", token="bad")
    engine.open("d").set("x", 1)
    assert post(hub, engine, "d") is HttpOutcome.REFUSED
    error = engine.sync_error()
    assert error is not None and error.code is ErrorCode.AUTH_FAILED
    assert engine.terminal_error is error
    assert hub.doc_json("d", token="good") is None
    with pytest.raises(AuthError):  # the view passes the same check
        hub.doc_json("d", token="bad")

    good = SyncEngine(MemoryStore(), "me~2", token="good")
    good.open("d").set("x", 1)
    assert sync(hub, good, "d")[-1] is HttpOutcome.DONE
    assert good.sync_error() is None


def test_another_protocol_version_is_terminal() -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.open("d")
    engine.http_request("d")
    # What a server of another protocol version answers (here: ours, to a version 99 request).
    status, answer = http_sync(
        hub, "d", pb.HttpSyncRequest(protocol_version=99).SerializeToString()
    )
    assert status == 400
    assert engine.receive_http("d", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.REFUSED
    )
    assert engine.terminal_error is not None
    assert engine.terminal_error.code is ErrorCode.PROTOCOL_VERSION


def big_edit(engine: SyncEngine, doc_id: str, size: int) -> None:
    engine.open(doc_id).get_text("t").insert(0, "x" * size)


def test_a_push_over_the_servers_frame_limit_is_a_clear_document_error() -> None:
    hub = Hub(ServerMemoryStore(), limits=Limits(max_frame_bytes=2_000))
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.open("big").set("v", "x" * 5_000)  # one edit larger than a frame
    engine.open("small").set("ok", True)
    # Refused by the server, then (the limit found by halving) known too large by the client.
    assert HttpOutcome.AGAIN in sync(hub, engine, "big")
    error = engine.doc_error("big")
    assert error is not None and error.code is ErrorCode.FRAME_TOO_LARGE
    assert not error.retryable
    assert "'big'" in error.message and "frame limit" in error.message
    assert engine.sync_error() is error
    assert engine.unsynced() == ["big", "small"]
    assert sync(hub, engine, "small")[-1] is HttpOutcome.DONE  # other documents go on
    assert engine.unsynced() == ["big"]

    # Refused: later requests only ask (and still bring others' changes).
    other = SyncEngine(MemoryStore(), "other~1")
    other.open("big").set("from", "other")
    sync(hub, other, "big")
    poll = engine.http_request("big")
    assert request(poll).changes == b""
    status, answer = http_sync(hub, "big", poll)
    assert engine.receive_http("big", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.DONE
    )
    assert engine.open("big").get("from") == "other"
    assert engine.doc_error("big") is error  # still refused

    # After a network failure the push is tried again, as after a reconnect.
    engine.http_request("big")
    engine.http_failed("big", "connection reset")
    assert engine.doc_error("big") is None
    assert engine.last_error is not None and engine.last_error.message == "connection reset"
    sync(hub, engine, "big")
    again = engine.doc_error("big")
    assert again is not None and again.code is ErrorCode.FRAME_TOO_LARGE


def test_a_known_frame_limit_keeps_the_push_from_being_sent() -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.max_frame_bytes = 2_000  # as a WebSocket Welcome announced it
    engine.open("big").set("v", "x" * 5_000)  # one edit larger than a frame
    assert post(hub, engine, "big") is HttpOutcome.AGAIN  # learns the server's version
    body = engine.http_request("big")
    assert request(body).changes == b"" and len(body) < 2_000
    error = engine.doc_error("big")
    assert error is not None and error.code is ErrorCode.FRAME_TOO_LARGE
    assert "frame limit of 2000" in error.message
    status, answer = http_sync(hub, "big", body)
    assert engine.receive_http("big", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.DONE
    )
    assert hub.doc_json("big") is None


def test_a_backlog_larger_than_a_frame_is_sent_in_parts() -> None:
    hub = Hub(ServerMemoryStore(), limits=Limits(max_frame_bytes=2_000))
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.max_frame_bytes = 2_000
    doc = engine.open("big")
    big_edit(engine, "big", 5_000)  # one run of 5,000 characters
    for i in range(40):
        doc.set(f"k{i}", "y" * 40)
    outcomes = []
    for _ in range(12):
        outcomes += sync(hub, engine, "big")
        if not engine.unsynced():
            break
    assert engine.unsynced() == [] and engine.doc_error("big") is None
    assert len(outcomes) > 4  # it took several requests, each under the frame limit
    assert hub.doc_json("big") == doc.to_json()


def test_over_http_alone_the_frame_limit_is_found_by_halving() -> None:
    # No WebSocket Welcome told the limit: a refused backlog is halved until it fits.
    hub = Hub(ServerMemoryStore(), limits=Limits(max_frame_bytes=20_000))
    engine = SyncEngine(MemoryStore(), "me~1")
    doc = engine.open("big")
    for i in range(60):
        doc.set(f"k{i}", "y" * 1_000)
    for _ in range(40):
        post(hub, engine, "big")
        if not engine.unsynced():
            break
    assert engine.unsynced() == [] and engine.doc_error("big") is None
    assert engine.max_frame_bytes <= 20_000
    assert hub.doc_json("big") == doc.to_json()


def test_a_push_over_the_document_limit_is_refused() -> None:
    hub = Hub(ServerMemoryStore(), limits=Limits(max_doc_bytes=3_000))
    engine = SyncEngine(MemoryStore(), "me~1")
    big_edit(engine, "d", 5_000)
    assert sync(hub, engine, "d")[-1] is HttpOutcome.REFUSED
    error = engine.sync_error()
    assert error is not None and error.code is ErrorCode.DOC_TOO_LARGE
    assert error.doc_id == "d"


def test_a_rolled_back_store_is_detected_over_http() -> None:
    hub = Hub(ServerMemoryStore())
    first = SyncEngine(MemoryStore(), "phone~1")
    first.open("d").get_list("l").append("a")
    first.open("d").get_list("l").append("b")
    sync(hub, first, "d")
    restored = SyncEngine(MemoryStore(), "phone~1")  # an older (empty) copy of its store
    restored.open("d").get_list("l").append("lost?")  # reuses seq 1
    sync(hub, restored, "d")
    error = restored.sync_error()
    assert error is not None and error.code is ErrorCode.EQUIVOCATION
    assert "restored" in error.message
    assert hub.doc_json("d") == {"l": ["a", "b"]}


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (502, b"<html>Bad Gateway</html>", "text/html; charset=utf-8"),
        (404, b"Not Found", "text/plain"),
        (200, b"<html>captive portal</html>", "text/html"),
        (200, b"\xff\xff\xff", PROTOBUF),  # says protobuf, is not
        (502, b"", PROTOBUF),  # no SyncKit error in it
    ],
)
def test_answers_not_from_synckit_count_as_network_failures(
    status: int, body: bytes, content_type: str
) -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.open("d").set("x", 1)
    sync(hub, engine, "d")
    assert engine.unsynced() == []
    engine.http_request("d")
    assert engine.receive_http("d", status == 200, body, content_type=content_type) is (
        HttpOutcome.UNREACHABLE
    )
    assert not HttpOutcome.UNREACHABLE.reached
    assert engine.sync_error() is None  # not a reason to stop waiting
    assert engine.last_error is not None
    # The server's version is forgotten: the next request asks for it again.
    assert request(engine.http_request("d")).changes == b""


def test_a_server_shutting_down_counts_as_a_network_failure() -> None:
    hub = Hub(ServerMemoryStore())
    engine = SyncEngine(MemoryStore(), "me~1")
    engine.open("d").set("x", 1)
    hub.close()
    status, answer = http_sync(hub, "d", engine.http_request("d"))
    assert status == 503
    assert engine.receive_http("d", status == 200, answer, content_type=PROTOBUF) is (
        HttpOutcome.UNREACHABLE
    )
    assert engine.sync_error() is None
    assert engine.last_error is not None and "shutting down" in engine.last_error.message


def test_misuse_is_a_local_protocol_error() -> None:
    engine = SyncEngine(MemoryStore(), "me~1")
    with pytest.raises(LocalProtocolError, match="not open"):
        engine.http_request("d")
    engine.open("d")
    with pytest.raises(LocalProtocolError, match="no HTTP sync request"):
        engine.receive_http("d", True, b"")
    engine.http_request("d")
    with pytest.raises(LocalProtocolError, match="already out"):
        engine.http_request("d")
    engine.close_doc("d")  # an answer for a document closed meanwhile is dropped
    assert engine.receive_http("d", True, b"") is HttpOutcome.DONE
    engine.open("e")
    engine.connection_made(0.0)
    with pytest.raises(LocalProtocolError, match="WebSocket"):
        engine.http_request("e")


def test_http_sync_url() -> None:
    assert http_sync_url("http://h:8080", "notes") == "http://h:8080/v1/docs/notes/sync"
    assert http_sync_url("wss://h/base/", "a:b") == "https://h/base/v1/docs/a%3Ab/sync"
    assert http_sync_url("ws://h/v1/sync", "d") == "http://h/v1/docs/d/sync"
    assert (
        http_sync_url("https://h/p?tenant=7", "d-1.x") == "https://h/p/v1/docs/d-1.x/sync?tenant=7"
    )
    with pytest.raises(ValueError, match="document id"):
        http_sync_url("http://h", "../etc")
    with pytest.raises(ValueError, match="URL"):
        http_sync_url("ftp://h", "d")


async def test_http_client_offline_never_waits_on_the_network() -> None:
    with pytest.raises(ValueError, match="transport"):
        connect("http://127.0.0.1:9", transport="carrier-pigeon")  # type: ignore[arg-type]
    async with connect("http://127.0.0.1:9", transport="http", poll_interval=0.05) as client:
        assert client.active_transport == "http"
        doc = await client.open("d")
        doc.set("x", 1)
        with pytest.raises(SyncTimeoutError, match="offline"):
            await client.wait_synced(timeout=0.2)
        assert not client.online
