"""Bounds against a real ``synckit serve`` process: a handshake that never completes, a
subscription flood, too many connections and too many push bytes from one principal; each
refused with its own code and logged (JSON lines, no tokens), while an honest client of the
same server keeps syncing and nothing stored changes."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
import websockets
from live import ServerProcess, eventually

from synckit.client import connect
from synckit.core import Document
from synckit.protocol import (
    Error,
    ErrorCode,
    Event,
    Hello,
    Push,
    Subscribe,
    Welcome,
)
from synckit.testing import RawConnection

SECRET = "b" * 64
CONFIG = """
jwt_secret = "{secret}"
log_format = "json"
log_level = "info"

[limits]
handshake_timeout = 1.0
max_subscriptions = 4
max_connections_per_principal = 3
max_frame_bytes = 262144
push_bytes_per_second = 20000
push_burst_bytes = 262144
"""


def token(sub: str, **docs: str) -> str:
    grants = docs or {"*": "write"}
    claims = {"sub": sub, "exp": int(time.time() + 600), "synckit": {"docs": grants}}
    return jwt.encode(claims, SECRET, "HS256")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("bounds")
    proc = ServerProcess.with_config(root, CONFIG.format(secret=SECRET))
    yield proc
    proc.terminate()


@pytest.fixture
async def honest(server: ServerProcess) -> AsyncIterator[tuple[object, object]]:
    """Two honest clients editing one document, checked to sync after each attack."""
    async with (
        connect(server.url, token=token("honest-a"), client_id=f"ha-{os.getpid()}") as a,
        connect(server.url, token=token("honest-b"), client_id=f"hb-{os.getpid()}") as b,
    ):
        yield a, b


async def still_syncs(clients: tuple[object, object], value: str) -> None:
    a, b = clients
    doc_a = await a.open("shared")  # type: ignore[attr-defined]
    doc_b = await b.open("shared")  # type: ignore[attr-defined]
    doc_a.set("last", value)
    await eventually(lambda: doc_b.get("last") == value, 10, "the honest edit to arrive")


def view(server: ServerProcess, doc_id: str) -> object:
    answer = httpx.get(
        f"{server.url}/v1/docs/{doc_id}",
        headers={"authorization": f"Bearer {token('viewer', **{'*': 'read'})}"},
        timeout=10,
    )
    return answer.json() if answer.status_code == 200 else answer.status_code


async def test_a_handshake_that_never_completes_is_closed(
    server: ServerProcess, honest: tuple[object, object]
) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/v1/sync"
    started = time.monotonic()
    async with websockets.connect(ws_url) as ws:
        raw = RawConnection(ws, "hostile")
        # Never send a Hello: the server ends the connection after handshake_timeout (1 s).
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(frame, bytes)
        [error] = raw.session.receive(frame)
        assert isinstance(error, Error) and error.code is ErrorCode.HANDSHAKE_TIMEOUT
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert time.monotonic() - started < 5
    await still_syncs(honest, "after a silent socket")


async def test_a_subscription_flood_is_refused_per_document(
    server: ServerProcess, honest: tuple[object, object]
) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/v1/sync"
    async with websockets.connect(ws_url) as ws:
        raw = RawConnection(ws, "hostile")
        await raw.send(Hello("flooder-1", token("flooder")))
        assert isinstance(await raw.recv(), Welcome)
        for i in range(50):
            await raw.send(Subscribe(f"flood-{i}"))
        answers = [await raw.recv() for _ in range(50)]
        refused = [e for e in answers if isinstance(e, Error)]
        assert len(refused) == 46
        assert {e.code for e in refused} == {ErrorCode.TOO_MANY}
        assert all("max_subscriptions" in e.message for e in refused)
    await still_syncs(honest, "after a subscription flood")


async def test_connections_per_principal_are_bounded(
    server: ServerProcess, honest: tuple[object, object]
) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/v1/sync"
    mallory = token("mallory")
    open_ones = []
    try:
        for i in range(3):
            ws = await websockets.connect(ws_url)
            open_ones.append(ws)
            raw = RawConnection(ws, "hostile")
            await raw.send(Hello(f"m-{i}", mallory))
            assert isinstance(await raw.recv(), Welcome)
        async with websockets.connect(ws_url) as ws:
            raw = RawConnection(ws, "hostile")
            await raw.send(Hello("m-3", mallory))
            refused = await raw.recv()
            assert isinstance(refused, Error) and refused.code is ErrorCode.TOO_MANY
            assert refused.retryable and refused.retry_after_ms > 0
        await still_syncs(honest, "while mallory holds her connections")
    finally:
        for ws in open_ones:
            await ws.close()


async def test_push_bytes_per_principal_are_limited_and_nothing_refused_is_stored(
    server: ServerProcess, honest: tuple[object, object]
) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/v1/sync"
    async with websockets.connect(ws_url) as ws:
        raw = RawConnection(ws, "hostile")
        await raw.send(Hello("pusher-1", token("pusher")))
        assert isinstance(await raw.recv(), Welcome)
        await raw.send(Subscribe("pushed"))
        await raw.recv()
        doc = Document("pusher-1")
        answers: list[Event] = []
        for i in range(4):  # 4 x ~100 KB against a 256 KiB burst
            before = doc.version()
            doc.set(f"k{i}", os.urandom(50_000).hex())
            await raw.send(Push("pushed", i + 1, doc.changes(before)))
            answers.append(await raw.recv())
        kinds = [type(e).__name__ for e in answers]
        assert kinds[:2] == ["Ack", "Ack"] and "Error" in kinds
        refused = [e for e in answers if isinstance(e, Error)]
        assert all(e.code is ErrorCode.RATE_LIMITED and e.retry_after_ms > 0 for e in refused)
    stored = view(server, "pushed")
    assert isinstance(stored, dict) and "k0" in stored and "k3" not in stored
    await still_syncs(honest, "after a push flood")


async def test_a_rate_limited_client_delivers_its_edits_later(server: ServerProcess) -> None:
    async with connect(server.url, token=token("bulk"), client_id="bulk-1") as client:
        seen: list[Error] = []
        client.on_rejected(lambda doc_id, error: seen.append(error))
        doc = await client.open("bulk")
        for i in range(6):  # 6 x 60 KB at 20 KB/s over a 256 KiB burst: refused, then retried
            doc.set(f"k{i}", os.urandom(30_000).hex())
            await asyncio.sleep(0.05)
        await client.wait_synced(timeout=60)
        assert seen and {e.code for e in seen} == {ErrorCode.RATE_LIMITED}
        assert client.rejections() == {}
    stored = view(server, "bulk")
    assert isinstance(stored, dict) and sorted(stored) == [f"k{i}" for i in range(6)]


async def test_a_backlog_larger_than_a_frame_is_sent_in_parts(server: ServerProcess) -> None:
    # Frames are at most 256 KiB on this server; 300 KB of edits made at once go in parts.
    async with connect(server.url, token=token("writer"), client_id="writer-1") as client:
        doc = await client.open("long", wait=True)
        text = doc.get_text("t")
        for i in range(300):
            text.insert(len(text), f"{i:04d}" + "x" * 996)
        await client.wait_synced(timeout=60)
        assert client.rejections() == {}
    stored = view(server, "long")
    assert isinstance(stored, dict) and stored["t"] == str(text)


def test_the_log_names_each_refusal_and_never_a_token(server: ServerProcess) -> None:
    async def attack() -> None:
        ws_url = server.url.replace("http://", "ws://") + "/v1/sync"
        async with websockets.connect(ws_url) as ws:
            raw = RawConnection(ws, "hostile")
            await raw.send(Hello("forger-1", token("forger")[:-4] + "AAAA"))
            error = await raw.recv()
            assert isinstance(error, Error) and error.code is ErrorCode.AUTH_FAILED

    asyncio.run(attack())
    forged = token("forger")
    server.terminate()
    assert server.proc is not None
    # Pipes are closed by terminate; the log went to stderr, read before closing.
    lines = [json.loads(line) for line in server.stderr_text.splitlines() if line.startswith("{")]
    events = {(e["event"], e.get("code")) for e in lines if "event" in e}
    assert ("auth_failed", "AUTH_FAILED") in events
    assert ("limit", "HANDSHAKE_TIMEOUT") in events
    assert ("limit", "TOO_MANY") in events
    assert ("limit", "RATE_LIMITED") in events
    assert all("conn" in e for e in lines if e.get("event") in ("limit", "auth_failed"))
    too_many = [e for e in lines if e.get("code") == "TOO_MANY"]
    assert {e.get("principal") for e in too_many} >= {"flooder", "mallory"}
    text = server.stderr_text
    assert forged.split(".")[1] not in text and SECRET not in text
