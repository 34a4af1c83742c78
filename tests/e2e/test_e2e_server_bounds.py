"""What one participant can make a real server hold or wait for: a reader that stops reading
is dropped with SLOW_CONSUMER while others keep receiving; a large JSON view does not stop the
server from answering others while it is built."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from synckit.core import Document, VersionVector
from synckit.protocol import (
    Ack,
    Broadcast,
    ErrorCode,
    Push,
)
from synckit.server import InlineStore, Limits, SQLiteStore, StoredDoc, create_app, running
from synckit.testing import RawConnection, never_reading_socket


async def open_raw(
    url: str, name: str, doc_id: str, sock: socket.socket | None = None
) -> RawConnection:
    raw = await RawConnection.open(url, name, sock=sock)
    await raw.subscribe(doc_id)
    return raw


def reading_nothing(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return never_reading_socket(host, int(port))


async def test_stalled_reader_is_dropped_while_an_honest_reader_keeps_receiving(
    tmp_path: Path,
) -> None:
    limits = Limits(max_queue_bytes=256 * 1024)
    app = create_app(tmp_path / "srv", limits=limits, send_timeout=1.0)
    hub = app.state.synckit.hub
    pushes, size = 200, 64 * 1024  # 12.5 MiB: more than kernel buffers and the queue hold
    async with running(app) as url:
        honest = await open_raw(url, "honest", "busy")
        stalled = await open_raw(url, "stalled", "busy", sock=reading_nothing(url))
        [stalled_conn] = [c for c in hub.connections if c.session.client_id == "stalled"]
        stalled.ws.transport.pause_reading()  # from now on it reads nothing
        writer = await open_raw(url, "writer", "busy")

        async def read_all() -> int:
            got = 0
            while got < pushes:
                if isinstance(await honest.recv(), Broadcast):
                    got += 1
            return got

        reading = asyncio.create_task(read_all())
        doc = Document("writer")
        for i in range(pushes):
            held = doc.version()
            doc.set(f"k{i % 4}", f"{i:08d}" * (size // 8))
            await writer.send(Push("busy", i + 1, doc.changes(held)))
            while not isinstance(event := await writer.recv(), Ack):
                assert isinstance(event, Broadcast), event
        assert await asyncio.wait_for(reading, 30) == pushes  # the honest reader got it all
        # The stalled reader was told SLOW_CONSUMER (in place of what it did not read): the
        # hub let go of it and of what was queued for it ...
        assert stalled_conn.id not in {c.id for c in hub.connections}
        error = stalled_conn.session.error
        assert error is not None and error.code is ErrorCode.SLOW_CONSUMER
        assert len(hub.connections) == 2
        # ... and once the error could not be written within send_timeout, the transport was
        # aborted, with what its buffer held: reading again, the client finds its connection
        # cut short, not the rest of the stream.
        await asyncio.sleep(3 * 1.0)
        assert stalled_conn.outbox == []
        stalled.ws.transport.resume_reading()
        got = 0
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(stalled.ws.recv(), 10)
                got += 1
        assert got < pushes
        assert stalled.ws.close_code is None or stalled.ws.close_code == 1006
        # The honest reader and the writer still work.
        held = doc.version()
        doc.set("after", "still here")
        await writer.send(Push("busy", pushes + 1, doc.changes(held)))
        while not isinstance(event := await honest.recv(), Broadcast):
            pass
        await honest.ws.close()
        await writer.ws.close()


class _LoadSignal(InlineStore):
    """A SQLite store that says when it has read a document (what the view builds from)."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self.loaded = asyncio.Event()

    async def read(self, doc_id: str) -> StoredDoc | None:
        found = await super().read(doc_id)  # off the loop, on a connection of its own
        self.loaded.set()
        return found


async def test_large_view_is_correct_and_health_answers_while_it_is_built(
    tmp_path: Path,
) -> None:
    fields = 20_000
    doc = Document("maker")
    doc.update(
        {f"f{i:06d}": {"title": f"item {i} " + "lorem ipsum " * 8, "n": i} for i in range(fields)}
    )
    expected = doc.to_json()
    sqlite = SQLiteStore(tmp_path / "synckit.db")
    sqlite.append_many([("big", doc.changes(VersionVector()))])
    store = _LoadSignal(sqlite)
    async with running(create_app(store)) as url, httpx.AsyncClient(timeout=60) as http:
        order: list[str] = []

        async def view() -> httpx.Response:
            response = await http.get(f"{url}/v1/docs/big")
            order.append("view")
            return response

        viewing = asyncio.create_task(view())
        await asyncio.wait_for(store.loaded.wait(), 30)
        # The document is read: the server now builds its JSON view. Others get answers.
        health = await http.get(f"{url}/health")
        order.append("health")
        response = await viewing
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert order == ["health", "view"]
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == expected


async def test_a_response_nobody_reads_is_dropped_with_its_buffer(tmp_path: Path) -> None:
    """Nothing dropped a client that stops reading an HTTP response: the whole response sat
    in the server's buffer until read (forty requests for a 5 MB JSON view, never read, took
    a server from 86 to 476 MiB, for good). Now one whose unsent bytes do not go down for
    ``send_timeout`` seconds is aborted, buffer and all; a reader that reads on gets it all."""
    doc = Document("maker")
    doc.get_text("t").insert(0, "x" * 12_000_000)
    sqlite = SQLiteStore(tmp_path / "synckit.db")
    sqlite.compact("big", doc.save(), 0)
    async with running(create_app(sqlite, send_timeout=1.0)) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        stuck = never_reading_socket(host, int(port))
        stuck.sendall(b"GET /v1/docs/big HTTP/1.1\r\nHost: x\r\n\r\n")
        # An honest reader of the same view meanwhile gets all of it.
        async with httpx.AsyncClient(timeout=60) as http:
            whole = await http.get(f"{url}/v1/docs/big")
        assert whole.status_code == 200 and len(whole.json()["t"]) == 12_000_000
        await asyncio.sleep(4.0)  # the view is built, written, stuck: send_timeout passes
        # Reading now, the stuck client gets what the kernel's buffers held, then the end.
        got, ended = 0, False
        loop = asyncio.get_running_loop()
        stuck.setblocking(False)
        try:
            while got < 20_000_000:
                chunk = await asyncio.wait_for(loop.sock_recv(stuck, 1 << 20), 10)
                if not chunk:
                    ended = True
                    break
                got += len(chunk)
        except ConnectionResetError:
            ended = True
        finally:
            stuck.close()
        assert ended and got < len(whole.content), (got, len(whole.content))
