"""End to end: real uvicorn on loopback, real WebSocket clients, SQLite on disk."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import ServerProcess, ServerThread, eventually, free_port

from synckit import ChangeEvent, Document
from synckit.client import Client, connect
from synckit.errors import SyncTimeoutError


def fast(url: str, **options: Any) -> Client:
    """A client that retries quickly (tests restart servers)."""
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


def doc_view(url: str, doc_id: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/docs/{doc_id}", timeout=5)


async def test_several_clients_converge(server: ServerThread) -> None:
    clients = [fast(server.url, client_id=f"c{i}") for i in range(4)]
    for c in clients:
        await c.__aenter__()
    try:
        docs = [await c.open("shared") for c in clients]
        for i, doc in enumerate(docs):
            doc.get_counter("hits").increment(i + 1)
            doc.get_text("body").insert(0, f"<{i}>")
            doc.get_list("items").append(i)
            doc.get_set("tags").add(f"t{i}")
            doc.set(f"field{i}", {"by": i})
        for c in clients:
            await c.wait_synced(timeout=10)

        def same() -> bool:
            views = [d.to_json() for d in docs]
            return all(v == views[0] for v in views)

        await eventually(same, what="all replicas equal")
        view = docs[0].to_json()
        assert view["hits"] == 1 + 2 + 3 + 4
        assert sorted(view["items"]) == [0, 1, 2, 3]  # type: ignore[arg-type, type-var]
        assert sorted(view["tags"]) == ["t0", "t1", "t2", "t3"]  # type: ignore[arg-type, type-var]
        assert all(f"<{i}>" in view["body"] for i in range(4))  # type: ignore[operator]
        assert doc_view(server.url, "shared").json() == view
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)


async def test_live_edits_arrive_as_remote_events(server: ServerThread) -> None:
    async with fast(server.url) as a, fast(server.url) as b:
        doc_a = await a.open("live")
        doc_b = await b.open("live")
        await eventually(lambda: a.online and b.online, what="both online")
        seen: list[ChangeEvent] = []
        arrived = asyncio.Event()

        def on_change(event: ChangeEvent) -> None:
            seen.append(event)
            if doc_b.get_text("t").__str__() == "hello":
                arrived.set()

        doc_b.subscribe(on_change)
        doc_a.get_text("t").insert(0, "hello")
        await asyncio.wait_for(arrived.wait(), 5)
        assert seen and not seen[-1].local
        assert "t" in seen[-1].names


async def test_both_sides_offline_then_converge(tmp_path: Path) -> None:
    port = free_port()
    server = ServerThread(tmp_path / "srv", port=port).start()
    async with (
        fast(server.url, client_id="a") as a,
        fast(server.url, client_id="b") as b,
    ):
        doc_a, doc_b = await a.open("notes"), await b.open("notes")
        doc_a.get_text("t").insert(0, "base ")
        await a.wait_synced(timeout=5)
        await eventually(lambda: str(doc_b.get_text("t")) == "base ", what="base arrives")
        server.stop()
        await eventually(lambda: not a.online and not b.online, what="both offline")
        doc_a.get_text("t").insert(5, "from-a ")
        doc_a.get_counter("n").increment(2)
        doc_b.get_text("t").insert(0, "from-b ")
        doc_b.get_counter("n").increment(3)
        with pytest.raises(SyncTimeoutError):
            await a.wait_synced(timeout=0.2)
        server = ServerThread(tmp_path / "srv", port=port).start()
        try:
            await a.wait_synced(timeout=10)
            await b.wait_synced(timeout=10)
            await eventually(lambda: doc_a.to_json() == doc_b.to_json(), what="converged")
            text = str(doc_a.get_text("t"))
            assert "from-a" in text and "from-b" in text and "base" in text
            assert doc_a.get_counter("n").value == 5
        finally:
            server.stop()


async def test_server_sigkill_after_ack_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    proc = ServerProcess(tmp_path / "data", port).start()
    assert "listening on http://127.0.0.1:" in proc.banner
    try:
        async with fast(proc.url) as client:
            doc = await client.open("ledger")
            for i in range(200):
                doc.get_list("entries").append(i)
                if i % 20 == 0:
                    await asyncio.sleep(0)  # let some batches go out on their own
            doc.get_counter("total").increment(200)
            await client.wait_synced(timeout=10)
            expected = doc.to_json()
            proc.kill()  # SIGKILL right after the acknowledgement
            await eventually(lambda: not client.online, what="client sees the server gone")
        proc = ServerProcess(tmp_path / "data", port).start()
        assert doc_view(proc.url, "ledger").json() == expected
        # A brand-new client (empty memory store) gets everything from the restarted server.
        async with fast(proc.url) as fresh:
            copy = await fresh.open("ledger")
            await eventually(lambda: copy.to_json() == expected, what="fresh copy complete")
    finally:
        proc.terminate()


async def test_client_closed_offline_reopens_store_and_delivers(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "phone.db"
    url = f"http://127.0.0.1:{port}"  # nothing listens yet: the client works offline
    async with fast(url, store=store, client_id="phone") as client:
        doc = await client.open("todo")
        doc.get_list("items").append("milk")
        doc.get_text("note").insert(0, "written offline")
        assert not client.online
        actor = client.actor_id
    server = ServerThread(tmp_path / "srv", port=port).start()
    try:
        async with fast(url, store=store, client_id="phone") as client:
            assert client.actor_id == actor  # same store, same actor: seqs continue
            doc = await client.open("todo")
            assert doc.get_list("items")[0] == "milk"  # from the store, before any network
            await client.wait_synced(timeout=10)
        view = doc_view(url, "todo").json()
        assert view == {"items": ["milk"], "note": "written offline"}
    finally:
        server.stop()


KILLED_CLIENT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from synckit.client import connect

    async def main():
        each = sys.argv[3] == "each"
        async with connect(
            sys.argv[1], store=sys.argv[2], client_id="laptop", store_each_edit=each
        ) as client:
            doc = await client.open("draft")
            doc.get_text("body").insert(0, "survives SIGKILL")
            doc.get_counter("edits").increment(7)
            if not each:
                await asyncio.sleep(0)  # the loop turns: the turn's edits are stored
            print(client.actor_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush, no goodbye

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("when", ["turn", "each"])
async def test_offline_queue_survives_process_kill(tmp_path: Path, when: str) -> None:
    """Edits survive a SIGKILL once the event loop has turned (by default, edits made in one
    turn are stored together at its end), or at once with ``store_each_edit``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = tmp_path / "laptop.db"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_CLIENT, url, str(store), when],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    server = ServerThread(tmp_path / "srv", port=port).start()
    try:
        async with fast(url, store=store, client_id="laptop") as client:
            assert client.actor_id == done.stdout.strip()
            doc = await client.open("draft")
            await client.wait_synced(timeout=10)
            assert doc.get_counter("edits").value == 7
        assert doc_view(url, "draft").json() == {"body": "survives SIGKILL", "edits": 7}
    finally:
        server.stop()


async def test_reused_client_id_with_fresh_store_is_not_dropped(server: ServerThread) -> None:
    async with fast(server.url, client_id="tablet") as first:
        doc = await first.open("pad")
        doc.get_list("lines").append("first life")
        await first.wait_synced(timeout=5)
        first_actor = first.actor_id
    # Same client id, new memory store: a plain Document("tablet") would reuse seq 1.
    async with fast(server.url, client_id="tablet") as second:
        assert second.actor_id != first_actor
        assert second.actor_id.startswith("tablet")
        doc = await second.open("pad")
        await eventually(lambda: len(doc.get_list("lines")) == 1, what="first life arrives")
        doc.get_list("lines").append("second life")
        await second.wait_synced(timeout=5)
    assert doc_view(server.url, "pad").json() == {"lines": ["first life", "second life"]}


async def test_status_callback_and_online(tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "srv").start()
    changes: list[bool] = []
    client: Client
    async with fast(server.url) as client:
        client.on_status(changes.append)
        await eventually(lambda: client.online, what="online")
        server.stop()
        await eventually(lambda: not client.online, what="offline after shutdown")
    assert changes == [True, False]


async def test_graceful_shutdown_keeps_everything(tmp_path: Path) -> None:
    port = free_port()
    server = ServerThread(tmp_path / "srv", port=port).start()
    async with fast(server.url) as client:
        doc = await client.open("g")
        for i in range(50):
            doc.get_text("t").insert(0, str(i % 10))
        await client.wait_synced(timeout=5)
        expected = doc.to_json()
        server.stop()  # lifespan shutdown: snapshot open rooms, close the store
    server = ServerThread(tmp_path / "srv", port=port).start()
    try:
        assert doc_view(server.url, "g").json() == expected
    finally:
        server.stop()


async def test_http_endpoints_and_fallback(server: ServerThread) -> None:
    from synckit.core import VersionVector
    from synckit.protocol import PROTOCOL_VERSION
    from synckit.v1 import protocol_pb2 as pb

    async with httpx.AsyncClient(base_url=server.url) as http:
        health = await http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        missing = await http.get("/v1/docs/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
        bad = await http.get("/v1/docs/..bad")
        assert bad.status_code == 400 and bad.json()["error"] == "INVALID_DOC_ID"

        async with fast(server.url) as ws_client:
            ws_doc = await ws_client.open("fallback")
            ws_doc.get_text("t").insert(0, "ws ")
            await ws_client.wait_synced(timeout=5)

            # An HTTP-only replica sends its edit and its version, gets back what it lacks.
            local = Document("http-only")
            local.get_counter("n").increment(4)
            req = pb.HttpSyncRequest(
                protocol_version=PROTOCOL_VERSION,
                client_id="http-only",
                version=VersionVector().encode(),
                changes=local.changes(),
            )
            resp = await http.post("/v1/docs/fallback/sync", content=req.SerializeToString())
            assert resp.status_code == 200
            body = pb.HttpSyncResponse.FromString(resp.content)
            local.apply(body.changes)
            assert local.to_json() == {"t": "ws ", "n": 4}
            assert VersionVector.decode(body.server_version) == local.version()
            # The WebSocket subscriber got the HTTP client's edit as a broadcast.
            await eventually(lambda: ws_doc.get_counter("n").value == 4, what="broadcast")

        wrong = pb.HttpSyncRequest(protocol_version=99).SerializeToString()
        resp = await http.post("/v1/docs/fallback/sync", content=wrong)
        assert resp.status_code == 400
        assert pb.Error.FromString(resp.content).code == pb.ERROR_CODE_PROTOCOL_VERSION
        resp = await http.post("/v1/docs/fallback/sync", content=b"\xff\xff\xff")
        assert resp.status_code == 400
        assert pb.Error.FromString(resp.content).code == pb.ERROR_CODE_BAD_FRAME


async def test_refused_edits_raise_instead_of_waiting_forever(tmp_path: Path) -> None:
    from synckit.errors import LimitExceededError
    from synckit.server import Limits

    server = ServerThread(tmp_path / "srv", limits=Limits(max_doc_bytes=20_000)).start()
    try:
        async with fast(server.url) as client:
            doc = await client.open("big")
            for _ in range(10):
                doc.get_text("t").insert(0, "z" * 4_000)
                await asyncio.sleep(0.01)
            with pytest.raises(LimitExceededError, match="DOC_TOO_LARGE"):
                await client.wait_synced(timeout=10)
    finally:
        server.stop()


@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_reconnect_now_ends_the_back_off_wait(tmp_path: Path, transport: str) -> None:
    srv = ServerProcess(tmp_path / "data", free_port()).start()
    # Every wait between attempts about two minutes: only reconnect_now() is back in time.
    slow = connect(
        srv.url,
        transport=transport,  # type: ignore[arg-type]
        backoff_base=120.0,
        backoff_max=120.0,
        poll_interval=0.1,
        rng=_AlmostOne(),
    )
    try:
        async with slow as client:
            doc = await client.open("wake")
            doc.set("k", 1)
            await client.wait_synced(timeout=10)
            client.reconnect_now()  # while connected: nothing happens
            await asyncio.sleep(0.3)
            assert client.online and client.connections == 1
            srv.kill()
            doc.set("k", 2)  # made while the server is down
            await eventually(lambda: not client.online, 10, "the client to notice")
            srv.start()
            await asyncio.sleep(1.0)
            assert not client.online, "still waiting out its back-off"
            client.reconnect_now()
            await client.wait_synced(timeout=10)
            assert client.online and client.connections == 2
        assert doc_view(srv.url, "wake").json() == {"k": 2}
    finally:
        srv.terminate()


class _AlmostOne(random.Random):
    """Back-off jitter at the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * 0.99
