"""Hostile and broken input against a real server: each gets an error with a code, the server
keeps serving everyone else, and nothing stored changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from live import ServerThread, eventually
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from synckit import Document
from synckit.client import Client, connect, sync_url
from synckit.protocol import (
    PROTOCOL_VERSION,
    Error,
    ErrorCode,
    Hello,
    Push,
    Subscribe,
    Subscribed,
    Welcome,
    decode_frame,
    encode_frame,
)
from synckit.server import Limits
from synckit.v1 import protocol_pb2 as pb

LIMITS = Limits(max_frame_bytes=64 * 1024, max_doc_bytes=256 * 1024, max_queue_bytes=256 * 1024)


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "srv", limits=LIMITS).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def bystander(small_server: ServerThread) -> AsyncIterator[Client]:
    """A well-behaved client that keeps a document 'victim' with known contents."""
    async with connect(small_server.url, backoff_base=0.02, backoff_max=0.2) as client:
        doc = await client.open("victim")
        doc.get_text("t").insert(0, "precious")
        await client.wait_synced(timeout=5)
        yield client


def stored(url: str) -> object:
    return httpx.get(f"{url}/v1/docs/victim", timeout=5).json()


def raw(url: str) -> ws_connect:
    """A bare WebSocket to the sync endpoint (``async with raw(url) as ws``)."""
    return ws_connect(sync_url(url), compression=None, max_size=None)


async def handshake(ws: ClientConnection) -> int:
    """Send Hello, read Welcome; return the next frame number to use."""
    await ws.send(encode_frame(Hello("raw"), 1))
    assert isinstance(decode_frame(await recv(ws)), Welcome)
    return 2


async def recv(ws: ClientConnection) -> bytes:
    frame = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(frame, bytes)
    return frame


async def expect_error(ws: ClientConnection, code: ErrorCode, *, fatal: bool = True) -> Error:
    event = decode_frame(await recv(ws))
    assert isinstance(event, Error), event
    assert event.code is code, event
    assert event.fatal is fatal
    assert event.message
    if fatal:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    return event


async def still_serving(url: str, bystander: Client, mark: str) -> None:
    """The bystander can still edit and sync, and a new client sees the result."""
    doc = await bystander.open("victim")
    doc.get_list("marks").append(mark)
    await bystander.wait_synced(timeout=5)
    async with connect(url) as other:
        copy = await other.open("victim")
        await eventually(lambda: copy.to_json() == doc.to_json(), what="new client in sync")


FATAL_CASES = [
    ("garbage", b"\xff\xfe\xfd garbage \x00\x01", ErrorCode.BAD_FRAME),
    ("truncated", encode_frame(Hello("someone-with-a-long-name"), 1)[:-5], ErrorCode.BAD_FRAME),
    ("unknown type", b"\x78\x01\x9a\x06\x02\x08\x01", ErrorCode.UNKNOWN_MESSAGE),
    ("empty", b"", ErrorCode.UNKNOWN_MESSAGE),
    (
        "wrong version",
        encode_frame(Hello("x", protocol_version=PROTOCOL_VERSION + 1), 1),
        ErrorCode.PROTOCOL_VERSION,
    ),
    ("push before hello", encode_frame(Push("victim", 1, b"x"), 1), ErrorCode.ILLEGAL_STATE),
    ("oversized", encode_frame(Hello("x" * 200, token="t" * 70_000), 1), ErrorCode.FRAME_TOO_LARGE),
]


@pytest.mark.parametrize(("name", "frame", "code"), FATAL_CASES, ids=[c[0] for c in FATAL_CASES])
async def test_fatal_bad_frames(
    small_server: ServerThread, bystander: Client, name: str, frame: bytes, code: ErrorCode
) -> None:
    before = stored(small_server.url)
    async with raw(small_server.url) as ws:
        await ws.send(frame)
        error = await expect_error(ws, code)
        if code is ErrorCode.ILLEGAL_STATE:
            assert "Push" in error.message and "AWAITING_HELLO" in error.message
        if code is ErrorCode.FRAME_TOO_LARGE:
            assert ws.close_code == 1009
        assert stored(small_server.url) == before
        await still_serving(small_server.url, bystander, name)


async def test_text_frame_is_refused(small_server: ServerThread, bystander: Client) -> None:
    async with raw(small_server.url) as ws:
        await ws.send("hello?")
        error = await expect_error(ws, ErrorCode.BAD_FRAME)
        assert "binary" in error.message
        await still_serving(small_server.url, bystander, "text")


async def test_invalid_doc_ids_are_refused_but_connection_lives(
    small_server: ServerThread, bystander: Client
) -> None:
    async with raw(small_server.url) as ws:
        seq = await handshake(ws)
        for bad in ["../etc/passwd", "", "x" * 129, "a b", "-x", "é"]:
            env = pb.Envelope(seq=seq)
            env.subscribe.doc_id = bad
            await ws.send(env.SerializeToString())
            seq += 1
            error = await expect_error(ws, ErrorCode.INVALID_DOC_ID, fatal=False)
            assert "document id" in error.message
        # The same connection still works for a valid document.
        await ws.send(encode_frame(Subscribe("victim"), seq))
        answer = decode_frame(await recv(ws))
        assert isinstance(answer, Subscribed)
        copy = Document("reader")
        copy.apply(answer.changes)
        assert copy.get_text("t").__str__() == "precious"
        async with httpx.AsyncClient(base_url=small_server.url) as http:
            assert (await http.get("/v1/docs/a%20b")).status_code == 400
            assert (await http.post("/v1/docs/a%20b/sync", content=b"")).status_code == 400


async def test_corrupt_changes_refused_and_nothing_stored(
    small_server: ServerThread, bystander: Client
) -> None:
    before = stored(small_server.url)
    async with raw(small_server.url) as ws:
        seq = await handshake(ws)
        await ws.send(encode_frame(Subscribe("victim"), seq))
        assert isinstance(decode_frame(await recv(ws)), Subscribed)
        good = Document("attacker")
        good.get_text("t").insert(0, "evil")
        payload = good.changes()
        for batch, junk in enumerate(
            # garbage; cut in half; a format version from the future
            [b"\x00\xff" * 10, payload[: len(payload) // 2], payload + b"\x08\x63"],
            start=1,
        ):
            await ws.send(encode_frame(Push("victim", batch, junk), seq + batch))
            error = await expect_error(ws, ErrorCode.BAD_CHANGES, fatal=False)
            assert (error.doc_id, error.batch_id) == ("victim", batch)
        assert stored(small_server.url) == before
        await still_serving(small_server.url, bystander, "corrupt")


async def test_document_size_limit(small_server: ServerThread, bystander: Client) -> None:
    before = stored(small_server.url)
    async with raw(small_server.url) as ws:
        seq = await handshake(ws)
        await ws.send(encode_frame(Subscribe("victim"), seq))
        assert isinstance(decode_frame(await recv(ws)), Subscribed)
        sent = 0
        big = Document("raw")  # the handshake's client id
        for batch in range(1, 20):
            held = big.version()
            big.get_text("t").insert(0, "x" * 40_000)
            changes = big.changes(held)
            await ws.send(encode_frame(Push("victim", batch, changes), seq + batch))
            event = decode_frame(await recv(ws))
            if isinstance(event, Error):
                assert event.code is ErrorCode.DOC_TOO_LARGE
                assert "limit" in event.message and event.batch_id == batch
                break
            sent += 1
        else:
            pytest.fail("no DOC_TOO_LARGE")
        assert 0 < sent < 19
        view = stored(small_server.url)
        assert isinstance(view, dict) and isinstance(before, dict)
        assert len(view["t"]) == len(before["t"]) + sent * 40_000  # the refused push left no trace


async def test_slow_consumer_is_told_and_dropped(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "srv", limits=Limits(max_queue_bytes=128 * 1024)).start()
    try:
        async with connect(srv.url, backoff_base=0.02) as bystander:
            (await bystander.open("victim")).get_text("t").insert(0, "precious")
            # A raw client subscribes to a busy document and then never reads.
            async with raw(srv.url) as lazy:
                seq = await handshake(lazy)
                await lazy.send(encode_frame(Subscribe("busy"), seq))
                async with connect(srv.url) as writer:
                    doc = await writer.open("busy")
                    # ~20 MB of broadcasts: more than the kernel's socket buffers hold.
                    for i in range(300):
                        doc.get_text("t").insert(0, f"{i:04d}" * 16_000)
                        await writer.wait_synced(timeout=10)
                # What was queued for the lazy client ends with SLOW_CONSUMER, then the close.
                last: object = None
                with pytest.raises(ConnectionClosed):
                    while True:
                        frame = await asyncio.wait_for(lazy.recv(), 5)
                        assert isinstance(frame, bytes)
                        last = decode_frame(frame)
                assert isinstance(last, Error) and last.code is ErrorCode.SLOW_CONSUMER
                assert last.retryable and "reconnect" in last.message
                assert lazy.close_code == 1013
                await still_serving(srv.url, bystander, "slow")
    finally:
        srv.stop()
