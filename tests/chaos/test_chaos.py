"""Chaos on two real ``synckit serve`` processes sharing a private PostgreSQL and a private
redis-server (see :mod:`chaos`): Redis killed, Redis down for a while, a server SIGKILLed, the
database crashed and recovered, a client back within a second on the other server, a
document written on one server and read on the other, and no endless loop between them.

Each scenario edits one document at random from clients on both servers (fields, a counter,
a set, a list with moves, a text), injects its fault mid-stream, heals, and then checks that
every edit was acknowledged, that the clients, both servers' memory and the stored view
converge, that nothing is missing and nothing counted twice, and that the Redis channel falls
silent. The default run keeps each one short; ``slow`` runs them longer, with more clients and
repeated faults.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from chaos import Cluster, cluster, during, in_thread
from live import eventually
from private_services import PrivatePostgres

# Scenarios whose fault loses messages read storage every second; the others keep the
# default 30 s, so that they must converge without the periodic catch-up.
FAST_CATCH_UP = 1.0


async def editors(c: Cluster, count: int, seed: int) -> None:
    """``count`` editors, alternately preferring server A and server B."""
    for i in range(count):
        await c.add_editor(i % 2, seed=seed)


def report(name: str, c: Cluster) -> None:
    print("\n" + c.figures.line(name))


@pytest.mark.parametrize(
    ("rounds", "seconds", "count"),
    [(1, 2.0, 4), pytest.param(4, 6.0, 6, marks=pytest.mark.slow)],
)
async def test_redis_killed_and_restarted_mid_stream(
    private_pg: PrivatePostgres, tmp_path: Path, rounds: int, seconds: float, count: int
) -> None:
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        await editors(c, count, seed=1)
        for _ in range(rounds):
            await during(c.run_load(seconds), seconds / 2, lambda: in_thread(c.redis.restart))
        # No periodic catch-up within the test: what Redis dropped comes back through the
        # catch-up each server runs when its subscription returns.
        await c.heal_and_check(timeout=20)
        report("redis killed and restarted", c)


@pytest.mark.parametrize(
    ("down", "count"), [(3.0, 4), pytest.param(15.0, 6, marks=pytest.mark.slow)]
)
async def test_redis_down_for_a_while(
    private_pg: PrivatePostgres, tmp_path: Path, down: float, count: int
) -> None:
    async with cluster(private_pg, tmp_path, catch_up_seconds=FAST_CATCH_UP) as c:
        await editors(c, count, seed=2)
        await c.run_load(1.0)
        await in_thread(c.redis.kill)
        await c.run_load(down)
        # Still without Redis: a change made on server A reaches a client of server B
        # through the periodic catch-up from PostgreSQL.
        a, b = c.editors[0], c.editors[1]
        assert a.doc is not None and b.doc is not None
        a.set("while-redis-is-down", 1)
        started = time.monotonic()
        await eventually(
            lambda: b.doc is not None and b.doc.get("while-redis-is-down") == 1,
            10,
            "an edit on A at a client of B with Redis down",
        )
        c.figures.notes.append(f"A -> B without Redis in {time.monotonic() - started:.2f} s")
        await in_thread(c.redis.start)
        await c.heal_and_check(timeout=30)
        report("redis down for a while", c)


@pytest.mark.parametrize(("rounds", "count"), [(1, 4), pytest.param(3, 6, marks=pytest.mark.slow)])
async def test_a_server_killed_mid_stream(
    private_pg: PrivatePostgres, tmp_path: Path, rounds: int, count: int
) -> None:
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        await editors(c, count, seed=3)
        for r in range(rounds):
            victim = c.servers[r % 2]
            # SIGKILL one server mid-stream: its clients reconnect to the other one.
            await during(c.run_load(3.0), 1.5, lambda v=victim: in_thread(v.kill))  # type: ignore[misc]
            await eventually(
                lambda r=r: all(e.balancer.routed[-1] != r % 2 for e in c.editors),  # type: ignore[misc]
                10,
                "every client on the surviving server",
            )
            await asyncio.to_thread(victim.start)
        await c.heal_and_check(timeout=30)
        report("server killed with kill -9", c)


@pytest.mark.parametrize(("rounds", "count"), [(1, 4), pytest.param(3, 6, marks=pytest.mark.slow)])
async def test_postgres_restarted_mid_stream(
    private_pg: PrivatePostgres, tmp_path: Path, rounds: int, count: int
) -> None:
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        await editors(c, count, seed=4)
        for _ in range(rounds):
            await during(c.run_load(3.0), 1.5, lambda: in_thread(c.pg.restart))
        await c.heal_and_check(timeout=30)
        report("postgres restarted -m immediate", c)


async def test_a_client_back_within_a_second_on_the_other_server(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        await editors(c, 4, seed=5)
        mover = c.editors[0]
        assert mover.doc is not None
        c.start_load()
        for i in range(6):
            await asyncio.sleep(0.4)
            # Cut its connection; it edits offline and is back, on the other server, at once.
            before = mover.client.connections
            mover.balancer.prefer((i + 1) % 2)
            mover.balancer.drop()
            mover.set(f"offline-{i}", i)
            started = time.monotonic()
            await eventually(lambda b=before: mover.client.connections > b, 5, "reconnected")  # type: ignore[misc]
            assert time.monotonic() - started < 1.0
        await c.stop_load()
        # Without a periodic catch-up in the test: everything must already flow live.
        await c.heal_and_check(timeout=10)
        assert c.figures.converge_seconds < 10
        report("client back within a second", c)


async def test_written_on_one_server_read_on_the_other(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    # One user edits only through server A, another only reads through server B; nobody is
    # connected to both. Every edit must reach the reader live.
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        writer = await c.add_editor(0, seed=6)
        reader = await c.add_editor(1, writes=False, seed=6)
        assert writer.doc is not None and reader.doc is not None
        worst = 0.0
        seen = reader.doc
        for i in range(40):
            writer.edit()
            writer.set("step", i)
            started = time.monotonic()
            await eventually(lambda i=i: seen.get("step") == i, 5, f"edit {i} on B")  # type: ignore[misc]
            worst = max(worst, time.monotonic() - started)
        assert worst < 2.0
        c.figures.notes.append(f"slowest edit A -> B {worst * 1000:.0f} ms")
        # A document only A had open, opened on B afterwards by the reader's user.
        other = await writer.client.open("only-on-a", wait=True)
        other.get_list("l").append("from A")
        await writer.client.wait_synced(timeout=10)
        late = await reader.client.open("only-on-a", wait=True, timeout=10)
        assert late.to_json() == {"l": ["from A"]}
        await c.heal_and_check(timeout=10)
        report("written on A, read on B", c)


async def test_a_server_killed_while_redis_is_down(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    # Redis is down, so what server A commits reaches no one else; then A dies. Its clients
    # move to B carrying A's last changes, which B never heard of: B learns from their
    # Subscribe that it is behind and reads them from PostgreSQL at once, without Redis and
    # long before its periodic catch-up (30 s).
    async with cluster(private_pg, tmp_path, catch_up_seconds=30.0) as c:
        await editors(c, 4, seed=7)
        await c.run_load(1.0)
        await in_thread(c.redis.kill)
        await c.run_load(1.5)
        await during(c.run_load(2.0), 0.5, lambda: in_thread(c.servers[0].kill))
        await eventually(
            lambda: all(e.balancer.routed[-1] == 1 for e in c.editors), 10, "all clients on B"
        )
        await asyncio.to_thread(c.servers[0].start)
        await c.heal_and_check(timeout=10)
        assert c.figures.converge_seconds < 10
        report("server killed while redis is down", c)
