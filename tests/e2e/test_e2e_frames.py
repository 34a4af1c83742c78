"""Frames the server writes straight to the socket (its ``send_now`` path, not the ASGI
``send``) reach a real WebSocket client intact at every length encoding of RFC 6455: 7-bit,
16-bit and 64-bit payload lengths; frames it reads together are taken straight from the
parser (its ``receive_now`` path), in order, and a text frame among them ends the session
there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from live import ServerThread
from websockets.asyncio.client import connect as ws_connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from synckit import Document
from synckit.client import connect, sync_url
from synckit.protocol import (
    Ack,
    Broadcast,
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


async def test_broadcasts_of_every_length_encoding_arrive_whole(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "srv").start()
    try:
        async with (
            ws_connect(sync_url(srv.url), compression=None, max_size=None) as raw,
            connect(srv.url) as writer,
        ):
            await raw.send(encode_frame(Hello("raw-reader"), 1))
            await raw.recv()
            await raw.send(encode_frame(Subscribe("frames"), 2))
            await raw.recv()
            doc = await writer.open("frames")
            await writer.wait_synced(timeout=10)
            mirror = Document()
            lengths = []
            for size in (0, 1_000, 200_000):
                value = "".join(chr(0x41 + i % 26) for i in range(size))
                doc.set("payload", value)
                await writer.wait_synced(timeout=10)
                frame = await raw.recv()
                assert isinstance(frame, bytes)
                event = decode_frame(frame)
                assert isinstance(event, Broadcast), event
                mirror.apply(event.changes)
                assert mirror.get("payload") == value
                lengths.append(len(frame))
            assert lengths[0] < 126 <= lengths[1] < 65_536 <= lengths[2], lengths
    finally:
        srv.stop()


async def _raw_session(
    url: str,
) -> tuple[ClientProtocol, asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand (websockets' sans-I/O client over a plain socket), so that
    a test decides which frames share one TCP write."""
    protocol = ClientProtocol(parse_uri(sync_url(url)))
    protocol.send_request(protocol.connect())
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(b"".join(protocol.data_to_send()))
    while protocol.handshake_exc is None and not any(
        isinstance(e, Response) for e in protocol.events_received()
    ):
        protocol.receive_data(await asyncio.wait_for(reader.read(65536), 10))
    assert protocol.handshake_exc is None
    return protocol, reader, writer


async def _frames_until_close(
    protocol: ClientProtocol, reader: asyncio.StreamReader, want: int
) -> list[Frame]:
    """The data frames the server sends: ``want`` of them, or all until it closes."""
    frames: list[Frame] = []
    while len(frames) < want:
        data = await asyncio.wait_for(reader.read(65536), 10)
        if not data:
            break
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.BINARY:
                frames.append(event)
            elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                return frames
    return frames


async def test_frames_read_in_one_go_are_taken_in_order(tmp_path: Path) -> None:
    """Binary frames the server parses together are handed to the hub as they are parsed
    (its receive-now path), in the order sent: every push acknowledged, in order."""
    srv = ServerThread(tmp_path / "srv").start()
    try:
        protocol, reader, writer = await _raw_session(srv.url)
        doc = Document("one-write")
        frames = [encode_frame(Hello("one-write"), 1), encode_frame(Subscribe("d"), 2)]
        for n in range(20):
            held = doc.version()
            doc.set("n", n)
            frames.append(encode_frame(Push("d", n + 1, doc.changes(held)), n + 3))
        for frame in frames:
            protocol.send_binary(frame)
        writer.write(b"".join(protocol.data_to_send()))  # one write: parsed together
        got = [decode_frame(bytes(f.data)) for f in await _frames_until_close(protocol, reader, 22)]
        assert isinstance(got[0], Welcome) and isinstance(got[1], Subscribed), got[:2]
        acks = [e for e in got[2:] if isinstance(e, Ack)]
        assert [a.batch_id for a in acks] == list(range(1, 21)), got
        writer.close()
        assert httpx.get(f"{srv.url}/v1/docs/d", timeout=5).json() == {"n": 19}
    finally:
        srv.stop()


async def test_a_text_frame_ends_the_session_before_what_follows_it(tmp_path: Path) -> None:
    """A text frame among binary ones read together: the frames before it are taken, it is
    refused (BAD_FRAME, the connection closed), and nothing after it is taken. (The document
    is open already, so that the Subscribe is answered at once: a load from storage would
    answer it after the refusal has closed the session.)"""
    srv = ServerThread(tmp_path / "srv").start()
    try:
        async with connect(srv.url, client_id="opener") as opener:
            (await opener.open("d")).set("opened", True)
            await opener.wait_synced(timeout=10)
        protocol, reader, writer = await _raw_session(srv.url)
        doc = Document("texter")
        doc.set("k", 1)
        protocol.send_binary(encode_frame(Hello("texter"), 1))
        protocol.send_binary(encode_frame(Subscribe("d"), 2))
        protocol.send_text(b"hello?")
        protocol.send_binary(encode_frame(Push("d", 1, doc.changes()), 3))
        writer.write(b"".join(protocol.data_to_send()))
        got = [decode_frame(bytes(f.data)) for f in await _frames_until_close(protocol, reader, 10)]
        assert isinstance(got[0], Welcome) and isinstance(got[1], Subscribed), got
        assert len(got) == 3 and isinstance(got[2], Error), got
        assert got[2].code is ErrorCode.BAD_FRAME and "binary" in got[2].message
        writer.close()
        view = httpx.get(f"{srv.url}/v1/docs/d", timeout=5).json()
        assert view == {"opened": True}  # the push after the text frame was not taken
    finally:
        srv.stop()
