"""End to end, real server on loopback: ``GET /metrics`` scraped over HTTP and parsed as
Prometheus's text format, while real clients push, are refused, and present bad tokens."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import jwt
import pytest
from live import ServerProcess, eventually, free_port
from prometheus_client.parser import text_string_to_metric_families

from synckit.client import connect
from synckit.errors import AuthError, PermissionDeniedError, TokenExpiredError
from synckit.server import JwtVerifier, Principal, SyncServer, create_app, running

SECRET = "m" * 64

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


async def scrape(url: str, token: str | None = None) -> Samples:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def mint(sub: str, *, admin: bool = False, ttl: float = 600) -> str:
    section: dict[str, object] = {"docs": {"*": "write"}}
    if admin:
        section["admin"] = True
    return jwt.encode(
        {"sub": sub, "exp": int(time.time() + ttl), "synckit": section}, SECRET, "HS256"
    )


def server_of(app: object) -> SyncServer:
    server = app.state.synckit  # type: ignore[attr-defined]
    assert isinstance(server, SyncServer)
    return server


async def test_counters_and_histograms_follow_real_traffic(tmp_path: Path) -> None:
    pushes = 7
    app = create_app(tmp_path / "srv")  # open, on loopback: anyone may read /metrics
    async with running(app) as url:
        before = await scrape(url)
        assert value(before, "synckit_pushes_total") == 0
        assert value(before, "synckit_ack_seconds_count") == 0
        async with (
            connect(url, client_id="writer") as writer,
            connect(url, client_id="reader") as reader,
        ):
            doc = await writer.open("d", wait=True)
            seen = await reader.open("d", wait=True)
            during = await scrape(url)
            assert value(during, "synckit_connections", transport="websocket") == 2
            assert value(during, "synckit_open_documents") == 1
            for i in range(pushes):
                doc.set(f"k{i}", "x" * 100)
                await writer.wait_synced(timeout=10)  # one push, acknowledged, at a time
            await eventually(lambda: len(seen.to_json()) == pushes, timeout=10, what="reader")
            after = await scrape(url)
        assert value(after, "synckit_pushes_total") == pushes
        assert value(after, "synckit_push_bytes_total") > pushes * 100  # the values are in it
        assert value(after, "synckit_committed_batches_total") == pushes
        # One ack per push, each observed once; commits group batches, so at most as many.
        assert value(after, "synckit_ack_seconds_count") == pushes
        assert value(after, "synckit_ack_seconds_bucket", le="+Inf") == pushes
        assert value(after, "synckit_ack_seconds_sum") > 0
        assert 1 <= value(after, "synckit_commit_seconds_count") <= pushes
        assert value(after, "synckit_commit_seconds_sum") > 0
        # Buckets are cumulative.
        buckets = [v for (name, _), v in after.items() if name == "synckit_ack_seconds_bucket"]
        assert buckets == sorted(buckets)
        # Each change went to the one other subscriber.
        assert value(after, "synckit_broadcast_frames_total") == pushes
        assert value(after, "synckit_broadcast_bytes_total") > pushes * 100
        assert value(after, "synckit_errors_total", code="PERMISSION_DENIED") == 0
        assert sum(v for (name, _), v in after.items() if name == "synckit_errors_total") == 0
        assert value(after, "synckit_send_queue_bytes") == 0  # nothing left unsent
        await eventually(lambda: not server_of(app).hub.connections, timeout=5, what="clients gone")
        closed = await scrape(url)
        assert value(closed, "synckit_connections", transport="websocket") == 0


async def test_a_refused_push_is_counted_by_its_error_code(tmp_path: Path) -> None:
    def authorize(principal: Principal, doc_id: str, action: str) -> bool:
        return action != "write" or doc_id != "locked"

    app = create_app(tmp_path / "srv", authorize=authorize)
    async with running(app) as url, connect(url, client_id="w") as client:
        (await client.open("open", wait=True)).set("k", 1)
        await client.wait_synced(timeout=10)
        (await client.open("locked", wait=True)).set("k", 1)
        with pytest.raises(PermissionDeniedError):
            await client.wait_synced(timeout=10)
        samples = await scrape(url)
        assert value(samples, "synckit_errors_total", code="PERMISSION_DENIED") == 1
        assert value(samples, "synckit_errors_total", code="AUTH_FAILED") == 0
        assert value(samples, "synckit_pushes_total") == 2  # the refused one was received
        assert value(samples, "synckit_ack_seconds_count") == 1  # and not acknowledged


async def test_metrics_need_an_admin_token_and_refused_tokens_are_counted(
    tmp_path: Path,
) -> None:
    app = create_app(tmp_path / "srv", authenticate=JwtVerifier.from_secret(SECRET))
    admin = mint("root", admin=True)
    async with running(app) as url:
        async with httpx.AsyncClient() as http:
            anonymous = await http.get(f"{url}/metrics")
            assert anonymous.status_code == 401
            assert anonymous.json()["error"] == "AUTH_FAILED"
            user = await http.get(
                f"{url}/metrics", headers={"authorization": f"Bearer {mint('alice')}"}
            )
            assert user.status_code == 403
            assert user.json()["error"] == "PERMISSION_DENIED"
            assert "synckit_pushes_total" not in user.text
        async with connect(url, token="not-a-jwt", client_id="m") as mallory:
            (await mallory.open("d")).set("k", 1)
            with pytest.raises(AuthError):
                await mallory.wait_synced(timeout=10)
        async with connect(url, token=mint("late", ttl=-120), client_id="l") as late:
            (await late.open("d")).set("k", 1)
            with pytest.raises(TokenExpiredError):
                await late.wait_synced(timeout=10)
        samples = await scrape(url, admin)
        # The anonymous scrape and the bad token; the expired one on its own.
        assert value(samples, "synckit_auth_failures_total", reason="refused") == 2
        assert value(samples, "synckit_auth_failures_total", reason="expired") == 1
        assert value(samples, "synckit_auth_failures_total", reason="unavailable") == 0
        assert value(samples, "synckit_errors_total", code="AUTH_FAILED") == 2
        assert value(samples, "synckit_errors_total", code="TOKEN_EXPIRED") == 1
        assert value(samples, "synckit_errors_total", code="PERMISSION_DENIED") == 1
        assert value(samples, "synckit_pushes_total") == 0  # no refused client got that far


async def test_a_metrics_address_serves_them_without_a_token_and_servers_do_not_share(
    tmp_path: Path,
) -> None:
    verifier = JwtVerifier.from_secret(SECRET)
    first = create_app(tmp_path / "a", authenticate=verifier, metrics_address=("127.0.0.1", 0))
    second = create_app(tmp_path / "b", authenticate=verifier, metrics_address=("127.0.0.1", 0))
    async with running(first) as url, running(second) as other_url:
        metrics_url = server_of(first).metrics_url
        other_metrics = server_of(second).metrics_url
        assert metrics_url is not None and other_metrics is not None
        assert len({url, other_url, metrics_url, other_metrics}) == 4
        async with connect(url, token=mint("alice"), client_id="a") as client:
            (await client.open("d", wait=True)).set("k", 1)
            await client.wait_synced(timeout=10)
            mine, theirs = await scrape(metrics_url), await scrape(other_metrics)
        assert value(mine, "synckit_pushes_total") == 1
        assert value(theirs, "synckit_pushes_total") == 0  # a registry per server
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/metrics")).status_code == 401  # still guarded
            assert (await http.get(f"{metrics_url}/v1/docs/d")).status_code == 404
    async with httpx.AsyncClient() as http:  # the listener stopped with its server
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{metrics_url}/metrics")


def test_synckit_serve_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(
        tmp_path / "d",
        0,
        ["--metrics-port", str(port)],
        env={"SYNCKIT_JWT_SECRET": SECRET},
    ).start()
    try:
        assert server.proc is not None and server.proc.stdout is not None
        assert "JWT required" in server.proc.stdout.readline()
        line = server.proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/metrics" in line and "without authentication" in line
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert answer.status_code == 200
        samples = parse(answer.text)
        assert value(samples, "synckit_connections", transport="websocket") == 0
        assert httpx.get(f"{server.url}/metrics", timeout=5).status_code == 401
        admin = {"authorization": f"Bearer {mint('root', admin=True)}"}
        guarded = httpx.get(f"{server.url}/metrics", headers=admin, timeout=5)
        assert guarded.status_code == 200
        # The listener's earlier refusal shows in both: one registry, two ways in.
        assert value(parse(guarded.text), "synckit_auth_failures_total", reason="refused") == 1
    finally:
        server.terminate()


def _names(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]) -> set[str]:
    return {name for name, _ in samples}


async def test_every_documented_metric_is_served(tmp_path: Path) -> None:
    documented = {
        line.split("`")[1].removesuffix("_total")
        for line in Path(__file__).parents[2].joinpath("docs/server.md").read_text().splitlines()
        if line.startswith("| `synckit_")
    }
    async with running(create_app(tmp_path / "srv")) as url:
        served = {name.removesuffix("_total") for name in _names(await scrape(url))}
    served = {
        name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for name in served
    }
    assert documented == served


async def test_asyncio_tasks_gauge_follows_connections_of_a_server_process(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data", free_port()).start()
    try:
        idle = value(await scrape(server.url), "synckit_asyncio_tasks")
        assert idle >= 1  # the scrape's own task at least
        async with contextlib.AsyncExitStack() as stack:
            for i in range(20):
                client = await stack.enter_async_context(connect(server.url, client_id=f"c{i}"))
                await client.open("d", wait=True)
            busy = value(await scrape(server.url), "synckit_asyncio_tasks")
            assert busy >= idle + 20  # each WebSocket holds at least one task
        await eventually(
            lambda: _tasks_back(server.url, idle), timeout=10, what="tasks back to idle"
        )
    finally:
        server.terminate()


async def _tasks_back(url: str, idle: float) -> bool:
    # A few stay: the document lingers (room_linger) with its storage task.
    return value(await scrape(url), "synckit_asyncio_tasks") <= idle + 5
