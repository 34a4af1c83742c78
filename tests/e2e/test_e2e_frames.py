"""Frames the server writes straight to the socket (its ``send_now`` path, not the ASGI
``send``) reach a real WebSocket client intact at every length encoding of RFC 6455: 7-bit,
16-bit and 64-bit payload lengths."""

from __future__ import annotations

from pathlib import Path

from live import ServerThread
from websockets.asyncio.client import connect as ws_connect

from synckit import Document
from synckit.client import connect, sync_url
from synckit.protocol import Broadcast, Hello, Subscribe, decode_frame, encode_frame


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
