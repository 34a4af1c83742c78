"""Chaos on a real network: every client a process of its own (:mod:`netclient`) in a Linux
network namespace of its own (:mod:`netns`), two real ``synckit serve`` processes, a private
PostgreSQL and a private redis-server (:func:`chaos.cluster`).

Each client reaches the servers through a fault proxy (:class:`chaos.Balancer`) listening on
the host's end of its veth: the proxy adds latency and cuts connections, and moves to the
other server when its own refuses; nftables rules inside the namespace drop packets (loss)
or all of them (a partition). :data:`SCENARIOS` names the faults; :func:`run_scenario`
makes N clients edit M times at random while the fault comes and goes, then heals
everything and checks that every replica and both servers converge, that every
acknowledged edit is there and that nothing is applied twice, returning the
:class:`chaos.Figures`. The client killed mid-push makes only adding edits
(``Editor.grows_only``), so that what it never had acknowledged may be there or not, and
still nothing may be there twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from chaos import DOC, LETTERS, Balancer, Cluster, Figures, cluster
from netns import Netns, remove_stale
from private_services import PrivatePostgres

import synckit

HERE = Path(__file__).resolve().parent
#: The periodic catch-up of both servers (what Redis dropped comes back from PostgreSQL).
CATCH_UP = 2.0


@dataclass
class Remote:
    """One client process, its namespace and its proxy, and what it reported."""

    name: str
    letter: str
    netns: Netns
    proxy: Balancer
    proc: asyncio.subprocess.Process
    grows_only: bool = False
    dead: bool = False
    edits: int = 0
    acked: int = 0
    #: What its acknowledged edits must leave (from its last ``acked`` line).
    acked_expect: dict[str, Any] = field(default_factory=dict)
    #: Its final report (``view`` answer), for a live one.
    final: dict[str, Any] = field(default_factory=dict)
    replies: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = json.loads(line)
            if "made" in message:
                self.edits = int(message["made"])
            elif "acked" in message and "expect" in message and "view" not in message:
                self.acked = max(self.acked, int(message["acked"]))
                self.acked_expect = message["expect"]
            else:
                self.replies.put_nowait(message)
        self.replies.put_nowait({"eof": True})

    async def ask(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def kill(self) -> None:
        """SIGKILL (the client killed mid-push)."""
        self.dead = True
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()


class NetCluster:
    """A :class:`chaos.Cluster` whose clients are :class:`Remote` processes."""

    def __init__(self, c: Cluster, seed: int) -> None:
        self.c = c
        self.seed = seed
        self.remotes: list[Remote] = []
        self.figures = Figures()

    async def add_client(self, *, grows_only: bool = False) -> Remote:
        index = len(self.remotes)
        ns = Netns(index)
        await asyncio.to_thread(ns.destroy)
        await asyncio.to_thread(ns.create)
        proxy = await Balancer(self.c.ports, index % 2, host=ns.host_ip).start()
        name, letter = f"e{index}", LETTERS[index]
        src = Path(synckit.__file__).resolve().parents[1]
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(src), str(HERE), str(HERE.parent)]),
            PYTHONUNBUFFERED="1",
        )
        argv = [sys.executable, str(HERE / "netclient.py"), proxy.url, name, letter]
        argv.append(str(self.seed * 1000 + index))
        if grows_only:
            argv.append("--grows-only")
        proc = await asyncio.create_subprocess_exec(
            *ns.command(*argv),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        remote = Remote(name, letter, ns, proxy, proc, grows_only)
        self.remotes.append(remote)
        remote.reader = asyncio.get_running_loop().create_task(remote.read())
        ready = await asyncio.wait_for(remote.replies.get(), 120)
        assert ready.get("ready"), f"{name} did not start: {ready}"
        return remote

    @property
    def alive(self) -> list[Remote]:
        return [r for r in self.remotes if not r.dead]

    async def load(self, edits: int, rate: float) -> None:
        """Every live client makes ``edits`` edits; returns once they all did (or died)."""
        for r in self.alive:
            assert r.proc.stdin is not None
            command = {"cmd": "load", "edits": edits, "rate": rate}
            r.proc.stdin.write((json.dumps(command) + "\n").encode())
        started = self.alive
        for r in started:
            reply = await asyncio.wait_for(r.replies.get(), edits / rate * 10 + 60)
            assert "loaded" in reply or r.dead or reply.get("eof"), reply

    async def heal(self) -> None:
        """Every fault off: no loss, no partition, no latency, every service up."""
        for r in self.remotes:
            r.proxy.delay = 0.0
            if not r.dead:
                await asyncio.to_thread(r.netns.heal)
        for server in self.c.servers:
            if server.proc is None or server.proc.poll() is not None:
                await asyncio.to_thread(server.start)
        await _redis_up(self, random.Random())

    async def check(self, timeout: float, since: float = 0.0) -> Figures:
        """Heal, wait for every live client to be synced and every replica and both servers'
        stored views to converge (timed from ``since``, when given); count edits,
        acknowledged, lost and duplicated."""
        figures = self.figures
        started = since or time.monotonic()
        await self.heal()
        for r in self.alive:
            reply = await r.ask({"cmd": "sync", "timeout": timeout}, timeout + 30)
            assert reply.get("synced"), f"{r.name}: {reply}"
        deadline = time.monotonic() + timeout
        views: list[Any] = []
        while True:
            views = []
            for r in self.alive:
                r.final = await r.ask({"cmd": "view"}, 30)
                views.append(r.final["view"])
            async with httpx.AsyncClient() as http:
                for server in self.c.servers:
                    answer = await http.get(f"{server.url}/v1/docs/{DOC}", timeout=15)
                    views.append(answer.json() if answer.status_code == 200 else answer.text)
            if all(v == views[0] for v in views) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        figures.converge_seconds = time.monotonic() - started
        figures.edits = sum(r.final.get("edits", r.edits) for r in self.alive)
        figures.edits += sum(r.edits for r in self.remotes if r.dead)
        figures.acknowledged = sum(r.final["acked"] for r in self.alive)
        figures.acknowledged += sum(r.acked for r in self.remotes if r.dead)
        figures.lost, figures.duplicated = self.compare(views[0])
        figures.messages = self.c.counter.count
        if not all(v == views[0] for v in views):
            figures.notes.append("replicas did not converge")
            raise AssertionError(f"replicas differ: {views}\n{self.logs()}")
        return figures

    def compare(self, view: dict[str, Any]) -> tuple[int, int]:
        """(lost, duplicated) of ``view``: a live client's edits must all be there, each
        once; a killed one's acknowledged edits must be there, the others may be."""
        lost = duplicated = 0
        certain = [r.final["expect"] for r in self.alive] + [
            r.acked_expect for r in self.remotes if r.dead and r.acked_expect
        ]
        dead = [r for r in self.remotes if r.dead]
        for want in certain:
            for key, value in want["fields"].items():
                lost += view.get(key) != value
        low = sum(w["n"] for w in certain)
        high = sum(r.final["expect"]["n"] for r in self.alive) + sum(r.edits * 5 for r in dead)
        counter = view.get("n", 0)
        lost += max(0, low - counter)
        duplicated += max(0, counter - high)

        def maybe(name: str) -> bool:  # made by a killed client, perhaps never acknowledged
            return any(name.startswith(f"{r.name}-") for r in dead)

        members = set(view.get("s", []))
        wanted = {m for w in certain for m in w["s"]}
        lost += len(wanted - members)
        duplicated += sum(1 for m in members - wanted if not maybe(m))
        items = Counter(view.get("l", []))
        listed = {i for w in certain for i in w["l"]}
        lost += len(listed - set(items))
        duplicated += sum(n - 1 for n in items.values() if n > 1)
        duplicated += sum(1 for i in items if i not in listed and not maybe(i))
        letters = Counter(view.get("t", ""))
        for r in self.alive:
            for letter, n in r.final["expect"]["t"].items():
                lost += max(0, n - letters[letter])
                duplicated += max(0, letters[letter] - n)
        for r in dead:
            acked = r.acked_expect.get("t", {}).get(r.letter, 0) if r.acked_expect else 0
            lost += max(0, acked - letters[r.letter])
            duplicated += max(0, letters[r.letter] - r.edits)
        return lost, duplicated

    def logs(self) -> str:
        return "\n".join(f"server {s.port}:\n{s.stderr_text[-2000:]}" for s in self.c.servers)

    async def aclose(self) -> None:
        for r in self.remotes:
            if not r.dead:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.ask({"cmd": "quit"}, 5), 5)
                await r.kill()
            if r.reader is not None:
                r.reader.cancel()
            await r.proxy.aclose()
            await asyncio.to_thread(r.netns.destroy)


Fault = Callable[[NetCluster, random.Random], Awaitable[None]]


def _loss(percent: int) -> tuple[Fault, Fault]:
    async def on(nc: NetCluster, rng: random.Random) -> None:
        for r in nc.alive:
            await asyncio.to_thread(r.netns.set_loss, percent)

    async def off(nc: NetCluster, rng: random.Random) -> None:
        for r in nc.alive:
            await asyncio.to_thread(r.netns.heal)

    return on, off


def _latency(seconds: float) -> tuple[Fault, Fault]:
    async def on(nc: NetCluster, rng: random.Random) -> None:
        for r in nc.remotes:
            r.proxy.delay = seconds

    async def off(nc: NetCluster, rng: random.Random) -> None:
        for r in nc.remotes:
            r.proxy.delay = 0.0

    return on, off


async def _partition(nc: NetCluster, rng: random.Random) -> None:
    alive = nc.alive
    for r in rng.sample(alive, max(1, len(alive) // 2)):
        await asyncio.to_thread(r.netns.cut)


async def _disconnect(nc: NetCluster, rng: random.Random) -> None:
    for r in nc.remotes:
        if rng.random() < 0.5:
            r.proxy.prefer(rng.randrange(2))
            r.proxy.drop()


async def _kill_server(nc: NetCluster, rng: random.Random) -> None:
    server = nc.c.servers[rng.randrange(2)]
    if server.proc is not None and server.proc.poll() is None:
        await asyncio.to_thread(server.kill)


async def _restart_servers(nc: NetCluster, rng: random.Random) -> None:
    for server in nc.c.servers:
        if server.proc is None or server.proc.poll() is not None:
            await asyncio.to_thread(server.start)


async def _restart_postgres(nc: NetCluster, rng: random.Random) -> None:
    await asyncio.to_thread(nc.c.pg.restart)


async def _redis_down(nc: NetCluster, rng: random.Random) -> None:
    await asyncio.to_thread(nc.c.redis.kill)


async def _redis_up(nc: NetCluster, rng: random.Random) -> None:
    redis = nc.c.redis
    if redis.proc is None or redis.proc.poll() is not None:
        await asyncio.to_thread(redis.start)


async def _kill_client(nc: NetCluster, rng: random.Random) -> None:
    victims = [r for r in nc.alive if r.grows_only]
    if victims:
        # Mid-push: right after an edit the server has not acknowledged yet.
        victim = victims[0]
        deadline = time.monotonic() + 5
        while victim.edits <= victim.acked and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        await victim.kill()


async def _nothing(nc: NetCluster, rng: random.Random) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fault: ``on`` starts it, ``off`` ends it; it comes and goes during the edits."""

    name: str
    on: Fault
    off: Fault = _nothing
    #: A client making only adding edits (the one killed mid-push).
    grows_only_client: bool = False
    #: Times the fault comes (and goes) during the edits.
    rounds: int = 2


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("no faults", _nothing, rounds=0),
        Scenario("packet loss 5 %", *_loss(5)),
        Scenario("packet loss 10 %", *_loss(10)),
        Scenario("packet loss 25 %", *_loss(25)),
        Scenario("latency 50 ms", *_latency(0.05)),
        Scenario("latency 500 ms", *_latency(0.5)),
        Scenario("latency 2 s", *_latency(2.0)),
        Scenario("partition", _partition, _loss(0)[1]),
        Scenario("random disconnects", _disconnect, rounds=4),
        Scenario("server kill -9", _kill_server, _restart_servers),
        Scenario("postgres restart", _restart_postgres),
        Scenario("redis outage", _redis_down, _redis_up),
        Scenario("client killed mid-push", _kill_client, grows_only_client=True, rounds=1),
    ]
}


async def run_scenario(
    pg: PrivatePostgres,
    tmp: Path,
    scenario: Scenario,
    *,
    clients: int = 3,
    edits: int = 40,
    rate: float = 20.0,
    seed: int = 1,
    timeout: float = 90.0,
) -> Figures:
    """``clients`` client processes make ``edits`` edits each at ``rate`` a second while
    ``scenario``'s fault comes and goes; then heal and check (see the module docstring).
    Raises AssertionError on divergence; the figures count what was lost or duplicated."""
    rng = random.Random(seed)
    await asyncio.to_thread(remove_stale)
    async with cluster(pg, tmp, catch_up_seconds=CATCH_UP) as c:
        nc = NetCluster(c, seed)
        try:
            for i in range(clients):
                await nc.add_client(grows_only=scenario.grows_only_client and i == 0)
            loading = asyncio.get_running_loop().create_task(nc.load(edits, rate))
            span = edits / rate
            share = span / max(1, scenario.rounds)
            for round_ in range(scenario.rounds):
                await asyncio.sleep(rng.uniform(0.1, 0.4) * share)
                await scenario.on(nc, rng)
                if round_ < scenario.rounds - 1:
                    await asyncio.sleep(rng.uniform(0.2, 0.5) * share)
                    await scenario.off(nc, rng)
            # The last time, the fault lasts until the edits end: the time to converge
            # counts from healing it.
            await loading
            healed = time.monotonic()
            await scenario.off(nc, rng)
            return await nc.check(timeout, since=healed)
        finally:
            await nc.aclose()
