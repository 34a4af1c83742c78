"""Presence end to end: real uvicorn servers on loopback, real WebSocket clients, and across
two servers the real Redis (``REDIS_URL``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from live import eventually, free_port, server_environment
from redistest import REDIS_URL, fresh_channel, require_redis
from websockets.asyncio.client import connect as ws_connect

from synckit.client import Client, PresenceChange, connect
from synckit.errors import LimitExceededError, LocalProtocolError
from synckit.protocol import (
    PRESENCE,
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    PresenceSet,
    Subscribe,
)
from synckit.server import (
    Grant,
    Limits,
    Principal,
    RedisPresenceBus,
    SyncServer,
    create_app,
    running,
)


def by_token(client_id: str, token: str) -> Principal:
    """Each client is the principal its token names (so that entries show who is here)."""
    return Principal(token, (Grant("*", "write"),))


def states(client: Client, doc_id: str = "d") -> dict[str, object]:
    """principal -> state of the others, as ``client`` sees them."""
    return {p.principal: dict(p.state) for p in client.presence(doc_id).others.values()}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, SyncServer]]:
    app = create_app(tmp_path / "data", authenticate=by_token, limits=Limits(presence_timeout=1.5))
    async with running(app) as url:
        yield url, app.state.synckit


async def test_others_see_a_state_with_its_principal_and_never_their_own(
    server: tuple[str, SyncServer],
) -> None:
    url, _ = server
    async with (
        connect(url, token="alice", client_id="a") as alice,
        connect(url, token="bob", client_id="b") as bob,
    ):
        await alice.open("d", wait=True)
        await bob.open("d", wait=True)
        seen: list[PresenceChange] = []
        bob.presence("d").observe(seen.append)
        mine = alice.presence("d")
        for x in range(50):  # many sets in a row: the others get the last one
            mine.set({"cursor": x})
        await eventually(lambda: states(bob) == {"alice": {"cursor": 49}}, what="bob sees alice")
        assert mine.state == {"cursor": 49}
        await asyncio.sleep(0.2)
        assert states(alice) == {}  # never its own
        assert len(seen) < 10  # coalesced per tick, not one change per set
        # A state naming someone else changes nothing about who it is shown as.
        mine.set({"name": "bob"})
        await eventually(lambda: states(bob) == {"alice": {"name": "bob"}})
        [peer] = bob.presence("d").others.values()
        assert peer.principal == "alice" and peer.client_id == alice.actor_id
        # Both ways.
        bob.presence("d").set({"cursor": 7})
        await eventually(lambda: states(alice) == {"bob": {"cursor": 7}}, what="alice sees bob")
        # Closing the client takes its presence away.
    await asyncio.sleep(0)


async def test_gone_on_close_and_clear_and_back_after_a_reconnect(
    server: tuple[str, SyncServer],
) -> None:
    url, sync_server = server
    async with connect(url, token="bob", client_id="b") as bob:
        await bob.open("d", wait=True)
        async with connect(url, token="alice", client_id="a") as alice:
            await alice.open("d", wait=True)
            alice.presence("d").set({"x": 1})
            await eventually(lambda: states(bob) == {"alice": {"x": 1}})
            alice.presence("d").clear()
            await eventually(lambda: states(bob) == {}, what="the cleared state gone")
            alice.presence("d").set({"x": 2})
            await eventually(lambda: states(bob) == {"alice": {"x": 2}})
            [old_key] = bob.presence("d").others
            # The server drops alice's connection: the client reconnects and sends its
            # state again, under a new key; the old one is gone.
            hub = sync_server.hub
            [conn] = [c for c in hub.connections if c.principal and c.principal.id == "alice"]
            hub.refuse(conn, Error(ErrorCode.INTERNAL, "test drop", retryable=True, fatal=True))
            await eventually(lambda: alice.connections == 2, what="alice reconnected")
            await eventually(
                lambda: (
                    states(bob) == {"alice": {"x": 2}} and old_key not in bob.presence("d").others
                ),
                what="alice's state again under a new key",
            )
        await eventually(lambda: states(bob) == {}, what="alice's state gone once she closed")


async def test_a_joiner_sees_everyone_and_a_silent_connection_times_out(
    server: tuple[str, SyncServer],
) -> None:
    url, _ = server
    ws_url = url.replace("http", "ws") + "/v1/sync"
    async with ws_connect(ws_url, compression=None) as raw:
        # A raw client: sets its state once, then never renews it (its socket stays open).
        session = ClientSession()
        session.send(Hello("r", "raw", (PRESENCE,)))
        for frame in session.data_to_send():
            await raw.send(frame)
        welcome = await raw.recv()
        assert isinstance(welcome, bytes)
        session.receive(welcome)
        session.send(Subscribe("d"))
        session.send(PresenceSet("d", b'{"here":true}'))
        for frame in session.data_to_send():
            await raw.send(frame)
        async with connect(url, token="bob", client_id="b") as bob:
            await bob.open("d", wait=True)
            presence = bob.presence("d")
            await eventually(lambda: states(bob) == {"raw": {"here": True}}, what="snapshot")
            gone: list[float] = []
            started = asyncio.get_running_loop().time()
            presence.observe(lambda change: gone.append(asyncio.get_running_loop().time()))
            # presence_timeout is 1.5 s; the hub looks twice a second.
            await eventually(lambda: states(bob) == {}, timeout=5, what="the silent one gone")
            assert 0.5 < gone[-1] - started < 3.0
            # bob renews his own by himself: his state outlives the timeout.
            presence.set({"me": 1})
            async with connect(url, token="carol", client_id="c") as carol:
                await carol.open("d", wait=True)
                await asyncio.sleep(2.5)
                assert states(carol) == {"bob": {"me": 1}}


async def test_limits_and_transports(server: tuple[str, SyncServer], tmp_path: Path) -> None:
    url, _ = server
    async with connect(url, token="alice", client_id="a") as alice:
        with pytest.raises(LocalProtocolError, match="open document"):
            alice.presence("not-open")
        await alice.open("d", wait=True)
        with pytest.raises(LimitExceededError, match="max_presence_bytes"):
            alice.presence("d").set({"big": "x" * 5000})
        assert alice.presence("d").available
    async with connect(url, token="alice", transport="http") as polling:
        await polling.open("d")
        with pytest.raises(LocalProtocolError, match="WebSocket"):
            polling.presence("d")


# -- across two servers ----------------------------------------------------------------------


@pytest.fixture
async def channel() -> str:
    await require_redis()
    return fresh_channel()


_SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from synckit.server import Grant, Limits, Principal, RedisPresenceBus, create_app, running

    async def main():
        data, port, redis_url, channel = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        app = create_app(
            data,
            authenticate=lambda c, t: Principal(t, (Grant("*", "write"),)),
            limits=Limits(presence_timeout=1.5),
            presence_bus=RedisPresenceBus(redis_url, channel),
        )
        async with running(app, port=port):
            print("ready", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_presence_across_two_servers_and_a_dead_server_times_out(
    tmp_path: Path, channel: str
) -> None:
    port = free_port()
    # Server A in a process of its own, to be SIGKILLed (no goodbye on Redis).
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT, str(tmp_path / "a"), str(port), REDIS_URL, channel],
        stdout=subprocess.PIPE,
        text=True,
        env=server_environment(),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "ready", line
        url_a = f"http://127.0.0.1:{port}"
        app_b = create_app(
            tmp_path / "b",
            authenticate=by_token,
            limits=Limits(presence_timeout=1.5),
            presence_bus=RedisPresenceBus(REDIS_URL, channel),
        )
        async with (
            running(app_b) as url_b,
            connect(url_b, token="bob", client_id="b") as bob,
            connect(url_b, token="carol", client_id="c") as carol,
        ):
            await bob.open("d", wait=True)
            await carol.open("d", wait=True)
            async with connect(url_a, token="alice", client_id="a") as alice:
                await alice.open("d", wait=True)
                alice.presence("d").set({"x": 1})
                await eventually(lambda: states(bob).get("alice") == {"x": 1}, what="a -> b")
                bob.presence("d").set({"y": 2})
                await eventually(lambda: states(alice) == {"bob": {"y": 2}}, what="b -> a")
                alice.presence("d").set({"x": 3})
                await eventually(lambda: states(carol).get("alice") == {"x": 3})
                assert states(bob) == {"alice": {"x": 3}}  # bob still never sees his own
                # Leaving on server A reaches server B's clients.
                alice.presence("d").clear()
                await eventually(lambda: "alice" not in states(bob), what="cleared across")
                alice.presence("d").set({"x": 4})
                await eventually(lambda: states(bob).get("alice") == {"x": 4})
                proc.kill()  # server A dies with alice's entry on it
                proc.wait(10)
                killed = asyncio.get_running_loop().time()
                await eventually(
                    lambda: "alice" not in states(bob), timeout=6, what="dead server's entry gone"
                )
                waited = asyncio.get_running_loop().time() - killed
                assert 0.5 < waited < 4.0, waited  # the timeout (1.5 s), not at once
                assert states(carol) == {"bob": {"y": 2}}  # bob is on server B, alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_relay_payload_is_plain_json() -> None:
    """What travels on Redis: states as JSON text, no storage format (a quick check)."""
    from synckit.server import PresenceTable

    table = PresenceTable(Limits(), server_id="s")
    relay = json.loads(table.full_relay())
    assert relay == {"o": "s", "full": True, "rooms": {}}
