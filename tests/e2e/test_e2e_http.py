"""End to end over the HTTP fallback: real uvicorn on loopback, real httpx and WebSocket
clients, SQLite on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import ServerThread, eventually, free_port

from synckit.client import Client, connect
from synckit.errors import AuthError, LimitExceededError, SyncTimeoutError
from synckit.server import Limits


def fast(url: str, **options: Any) -> Client:
    """A client that retries and polls quickly (tests restart servers), and gives up on a
    request after 2 s (a server stopping may hold one for its 5 s graceful timeout)."""
    options.setdefault("poll_interval", 0.05)
    options.setdefault("response_timeout", 2.0)
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


def transport_of(client: Client) -> str:
    return client.active_transport  # (mypy would keep an earlier assert's narrowing)


def doc_view(url: str, doc_id: str, token: str = "") -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{url}/v1/docs/{doc_id}", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


async def test_http_and_websocket_clients_converge_both_ways(server: ServerThread) -> None:
    doc_id = "team:notes"  # a ':' travels percent-encoded in the HTTP path
    async with (
        fast(server.url, client_id="poller", transport="http") as http,
        fast(server.url, client_id="socket") as ws,
    ):
        assert http.active_transport == "http" and ws.active_transport == "websocket"
        http_doc, ws_doc = await http.open(doc_id), await ws.open(doc_id)
        http_doc.get_text("t").insert(0, "from http. ")
        http_doc.get_list("items").append("h")
        await http.wait_synced(timeout=5)
        assert http.online
        await eventually(lambda: "from http" in str(ws_doc.get_text("t")), what="http -> ws")

        ws_doc.get_text("t").insert(0, "from ws. ")
        ws_doc.get_counter("n").increment(3)
        await ws.wait_synced(timeout=5)
        await eventually(lambda: http_doc.get_counter("n").value == 3, what="ws -> http")

        # Concurrent edits on both sides converge.
        for i in range(5):
            http_doc.get_list("items").append(f"h{i}")
            ws_doc.get_list("items").append(f"w{i}")
        await http.wait_synced(timeout=5)
        await ws.wait_synced(timeout=5)
        await eventually(lambda: http_doc.to_json() == ws_doc.to_json(), what="converged")
        view = http_doc.to_json()
        items = view["items"]
        assert isinstance(items, list)
        assert sorted(map(str, items)) == sorted(
            ["h", *(f"h{i}" for i in range(5)), *(f"w{i}" for i in range(5))]
        )
        assert doc_view(server.url, doc_id) == view


async def test_http_client_edits_offline_then_syncs(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # nothing listens yet
    changes: list[bool] = []
    async with fast(url, store=tmp_path / "phone.db", transport="http") as client:
        client.on_status(changes.append)
        doc = await client.open("todo")
        doc.get_list("items").append("milk")
        with pytest.raises(SyncTimeoutError, match="offline"):
            await client.wait_synced(timeout=0.2)
        assert not client.online

        server = ServerThread(tmp_path / "srv", port=port).start()
        try:
            await client.wait_synced(timeout=5)
            await eventually(lambda: client.online, what="online")
            assert doc_view(url, "todo") == {"items": ["milk"]}
        finally:
            server.stop()

        # Stopped: the next round does not reach it, and the client says so.
        await eventually(lambda: not client.online, what="offline after the server stopped")
        doc.get_list("items").append("eggs")
        with pytest.raises(SyncTimeoutError):
            await client.wait_synced(timeout=0.2)
        server = ServerThread(tmp_path / "srv", port=port).start()
        try:
            await client.wait_synced(timeout=5)
            await eventually(lambda: client.online, what="online again")
            assert doc_view(url, "todo") == {"items": ["milk", "eggs"]}
        finally:
            server.stop()
    assert changes == [True, False, True, False]
    assert client.connections == 2


@pytest.mark.parametrize("transport", ["http", "websocket"])
async def test_refused_token_raises_auth_error_on_either_transport(
    tmp_path: Path, transport: str
) -> None:
    server = ServerThread(
        tmp_path / "srv", authenticate=lambda client_id, token: token == "secret"
    ).start()
    try:
        async with fast(server.url, token="wrong", transport=transport) as client:
            doc = await client.open("d")
            doc.set("x", 1)
            with pytest.raises(AuthError, match="AUTH_FAILED"):
                await client.wait_synced(timeout=5)
            assert not client.online
        async with fast(server.url, token="secret", transport=transport) as client:
            doc = await client.open("d")
            doc.set("x", 2)
            await client.wait_synced(timeout=5)
        assert doc_view(server.url, "d", token="secret") == {"x": 2}
        # The JSON view passes the same check: no token, no document.
        anonymous = httpx.get(f"{server.url}/v1/docs/d", timeout=5)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "AUTH_FAILED"
    finally:
        server.stop()


async def test_http_push_over_the_frame_limit_raises(tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "srv", limits=Limits(max_frame_bytes=10_000)).start()
    try:
        async with fast(server.url, transport="http") as client:
            big, small = await client.open("big"), await client.open("small")
            long = await client.open("long")
            big.set("blob", "z" * 20_000)  # one edit larger than a frame
            long.get_text("t").insert(0, "y" * 20_000)  # a run: it goes in parts
            small.set("fits", True)
            with pytest.raises(LimitExceededError, match=r"FRAME_TOO_LARGE.*'big'"):
                await client.wait_synced(timeout=5)
            await eventually(lambda: client.engine.unsynced() == ["big"], what="others synced")
            assert client.online  # the server answered; it refused one document
        assert doc_view(server.url, "small") == {"fits": True}
        assert doc_view(server.url, "long") == {"t": "y" * 20_000}
    finally:
        server.stop()


async def test_auto_falls_back_to_http_when_the_upgrade_is_refused(tmp_path: Path) -> None:
    port = free_port()
    server = ServerThread(tmp_path / "srv", port=port, http_only=True).start()
    try:
        async with (
            fast(server.url, transport="auto", upgrade_retry=0.3) as auto,
            fast(server.url, transport="http") as other,
        ):
            doc, other_doc = await auto.open("d"), await other.open("d")
            doc.get_text("t").insert(0, "fell back")
            await auto.wait_synced(timeout=5)
            assert auto.active_transport == "http" and auto.online
            assert auto.engine.last_error is not None
            assert "403" in auto.engine.last_error.message  # why: the upgrade was refused
            await eventually(lambda: str(other_doc.get_text("t")) == "fell back", what="arrives")
            other_doc.set("k", 1)
            await eventually(lambda: doc.get("k") == 1, what="polled in")

            # The full server comes back on the same port: auto tries the WebSocket again.
            server.stop()
            server = ServerThread(tmp_path / "srv", port=port).start()
            # A WebSocket session (the engine's), not polling.
            await eventually(lambda: auto.engine.online, what="back on the WebSocket")
            assert transport_of(auto) == "websocket" and auto.online
            doc.set("k", 2)
            await auto.wait_synced(timeout=5)
            await eventually(lambda: other_doc.get("k") == 2, what="ws -> http")
    finally:
        server.stop()


async def test_auto_stays_on_the_websocket_when_the_server_is_only_down(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fast(url, transport="auto") as client:
        doc = await client.open("d")
        doc.set("x", 1)
        await asyncio.sleep(0.2)  # several refused connections: offline, not a fallback
        assert client.active_transport == "websocket" and not client.online
        server = ServerThread(tmp_path / "srv", port=port).start()
        try:
            await client.wait_synced(timeout=5)
            assert client.active_transport == "websocket" and client.engine.online
        finally:
            server.stop()
