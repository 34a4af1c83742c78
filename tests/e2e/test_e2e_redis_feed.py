"""Live permission changes across servers over a real Redis: access revoked on one server
reaches a connection on another within a second, and the rules travel with the change."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from live import ServerProcess, eventually, free_port
from redistest import REDIS_URL, fresh_channel, require_redis

from synckit.client import connect
from synckit.protocol import Error, ErrorCode
from synckit.server import AccessChange, JwtVerifier, RedisAccessFeed, create_app, running

SECRET = "r" * 64


def mint(sub: str, docs: dict[str, str], *, admin: bool = False) -> str:
    section: dict[str, object] = {"docs": docs}
    if admin:
        section["admin"] = True
    return jwt.encode({"sub": sub, "exp": int(time.time() + 600), "synckit": section}, SECRET)


@pytest.fixture
async def channel() -> str:
    """A channel of this test's own on the shared Redis (see :mod:`redistest`)."""
    await require_redis()
    return fresh_channel()


async def test_revoking_on_one_server_reaches_a_connection_on_another(
    tmp_path: Path, channel: str
) -> None:
    verify = JwtVerifier.from_secret(SECRET)
    apps = [
        create_app(
            tmp_path / name, authenticate=verify, access_feed=RedisAccessFeed(REDIS_URL, channel)
        )
        for name in ("a", "b")
    ]
    seen: list[tuple[Error, float]] = []
    bob_token = mint("bob", {"d": "write"})
    async with (
        running(apps[0]) as url_a,
        running(apps[1]) as url_b,
        connect(url_b, token=bob_token, client_id="bob") as bob,
    ):
        bob.on_rejected(lambda doc_id, error: seen.append((error, time.monotonic())))
        doc = await bob.open("d", wait=True)
        doc.set("before", 1)
        await bob.wait_synced(timeout=10)
        started = time.monotonic()
        async with httpx.AsyncClient() as http:
            answer = await http.put(
                f"{url_a}/v1/admin/access/bob",
                json={"docs": {"d": "read"}},
                headers={"authorization": f"Bearer {mint('root', {}, admin=True)}"},
            )
        assert answer.status_code == 200, answer.text
        await eventually(lambda: bool(seen), timeout=5, what="PERMISSION_CHANGED on server b")
        changed, when = seen[0]
        assert changed.code is ErrorCode.PERMISSION_CHANGED
        assert "from write to read" in changed.message
        assert when - started < 1.0  # across servers, within a second, no reconnect
        assert bob.connections == 1
        # Server b holds the new rules: bob's next write there is refused.
        doc.set("after", 2)
        await eventually(
            lambda: (e := bob.rejected("d")) is not None and e.code is ErrorCode.PERMISSION_DENIED,
            timeout=5,
            what="the write refused on server b",
        )


async def test_a_feed_ignores_its_own_messages_and_bad_ones(
    channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = RedisAccessFeed(REDIS_URL, channel), RedisAccessFeed(REDIS_URL, channel)
    heard_one: list[AccessChange] = []
    heard_two: list[AccessChange] = []
    one.subscribe(heard_one.append)
    two.subscribe(heard_two.append)
    await one.start()
    await two.start()
    try:
        raw = aioredis.from_url(REDIS_URL)
        await raw.publish(channel, b"someone\nnot json")  # another sender's bad messages
        await raw.publish(channel, b"someone\n[1, 2]")
        await raw.publish(channel, b"no sender")
        await raw.aclose()
        one.publish(AccessChange("alice", rules_set=True, rules='{"d": "read"}'))
        await eventually(lambda: len(heard_two) == 1, timeout=5, what="the change on two")
        await asyncio.sleep(0.2)
        assert heard_one == [AccessChange("alice", rules_set=True, rules='{"d": "read"}')]
        assert heard_two == heard_one  # once each: its own message is not heard again
        bad = [r for r in caplog.records if "access_feed_bad_message" in r.getMessage()]
        assert len(bad) == 4  # two bad messages, heard by each feed
    finally:
        await one.aclose()
        await two.aclose()


async def test_two_serve_processes_share_access_changes_through_redis(
    tmp_path: Path, channel: str
) -> None:
    env = {"SYNCKIT_JWT_SECRET": SECRET, "REDIS_URL": REDIS_URL}
    servers = [ServerProcess(tmp_path / n, free_port(), env=env).start() for n in ("a", "b")]
    try:
        seen: list[Error] = []
        async with connect(
            servers[1].url, token=mint("carol", {"d": "write"}), client_id="carol"
        ) as carol:
            carol.on_rejected(lambda doc_id, error: seen.append(error))
            (await carol.open("d", wait=True)).set("x", 1)
            await carol.wait_synced(timeout=10)
            async with httpx.AsyncClient() as http:
                answer = await http.put(
                    f"{servers[0].url}/v1/admin/access/carol",
                    json={"docs": {}},
                    headers={"authorization": f"Bearer {mint('root', {}, admin=True)}"},
                )
            assert answer.status_code == 200, answer.text
            await eventually(lambda: bool(seen), timeout=5, what="PERMISSION_CHANGED")
            assert seen[0].code is ErrorCode.PERMISSION_CHANGED
            assert "from write to none" in seen[0].message
    finally:
        for server in servers:
            server.terminate()
