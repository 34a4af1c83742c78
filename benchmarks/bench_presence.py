"""Presence in one room of N clients: what the server sends, and how fast others see a move.

    .venv/bin/python benchmarks/bench_presence.py [--sizes 250 500 1000] [--seconds 20]
        [--procs 4] [--peer synckit|pycrdt]
    .venv/bin/python benchmarks/bench_presence.py --flush-only --sizes 250 500 1000 2000

The server runs in a process of its own (SyncKit: ``create_app`` under uvicorn as ``synckit
serve`` runs it, an open server on loopback; ``--peer pycrdt``: pycrdt-websocket's
``ASGIServer`` under uvicorn, installed by ``bench_server.py``'s installer into
``benchmarks/.peers/pycrdt``). ``--procs`` client processes each open N/procs raw protocol
connections (WebSocket + the protocol's own messages, no SDK) to one room; once all are in,
every connection moves its cursor once a second (random phase) for ``--seconds``:
SyncKit's ``PresenceSet``, or a Yjs awareness update with the next clock for pycrdt.

Figures per row, over the measured window: the sets per second the clients made; the frames
and bytes per second the clients received (= what the server sent; for SyncKit the server's own
``synckit_presence_frames``/``_bytes`` counters are printed too); frames per client per second;
frames per set (SyncKit sends each member at most one frame per tick whatever N, so
this stays near the tick rate and frames/s grow as N; a server that passes every set to everyone
makes it N, and frames/s grow as N²); the server's CPU use; latency p50/p99
from a set to another client seeing it (sampled connections decode what they receive, the
others only count it); and how often a client got its own state back.

``--flush-only`` times the server's algorithm alone, in this process and without a network:
one room of N members, N/25 of them changing their state before each flush; the frames one
flush queues (N: one per member, minus a member whose own change was the only one) and the
time it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from synckit.client import sync_url
from synckit.protocol import (
    PRESENCE,
    ClientSession,
    Hello,
    Presence,
    PresenceSet,
    Subscribe,
    Subscribed,
    Welcome,
    decode_frame,
)

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
ROOM = "room"
# Connections per process that decode what they receive (latency, echoes); the rest count.
SAMPLED = 8

_SYNCKIT_SERVER = """
import resource, sys, tempfile
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
import uvicorn
from synckit.server import Limits, create_app
from synckit.server._run import base_url, bind, uvicorn_config
app = create_app(tempfile.mkdtemp(), limits=Limits(max_queue_frames=4096, max_queue_bytes=8 << 20))
sock = bind("127.0.0.1", 0)
print(base_url(sock), flush=True)
uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the clients (one child process each) -----------------------------------------------------


class Tally:
    """What one child process's connections received and sent."""

    def __init__(self) -> None:
        self.counting = False
        self.frames = 0
        self.bytes = 0
        self.sets = 0
        self.entries = 0
        self.echoes = 0
        self.latencies: list[float] = []

    def seen(self, own: int, state: bytes | str, now: float) -> None:
        value = json.loads(state)
        if not isinstance(value, dict) or "t" not in value:
            return
        self.entries += 1
        if value["c"] == own:
            self.echoes += 1
        else:
            self.latencies.append((now - value["t"]) * 1000)


async def synckit_conn(url: str, i: int) -> tuple[ClientConnection, ClientSession]:
    ws = await ws_connect(sync_url(url), compression=None, max_size=None)
    session = ClientSession()
    session.send(Hello(f"b{i}", "", (PRESENCE,)))
    for frame in session.data_to_send():
        await ws.send(frame)
    welcome = session.receive(await ws.recv())  # type: ignore[arg-type]
    assert isinstance(welcome[0], Welcome), welcome
    session.send(Subscribe(ROOM))
    for frame in session.data_to_send():
        await ws.send(frame)
    while True:
        events = session.receive(await ws.recv())  # type: ignore[arg-type]
        if events and isinstance(events[0], Subscribed):
            return ws, session


async def synckit_client(url: str, i: int, tally: Tally, sampled: bool, go: asyncio.Event) -> Any:
    ws, session = await synckit_conn(url, i)

    async def read() -> None:
        async for frame in ws:
            assert isinstance(frame, bytes)
            if not tally.counting:
                continue
            tally.frames += 1
            tally.bytes += len(frame)
            if sampled:
                event = decode_frame(frame)
                if isinstance(event, Presence):
                    now = time.time()
                    for entry in event.entries:
                        if not entry.removed:
                            tally.seen(i, entry.state, now)

    async def move() -> None:
        await go.wait()
        await asyncio.sleep(random.random())
        x = 0
        while True:
            x += 1
            state = {"x": x, "y": i, "c": i, "t": time.time()}
            session.send(PresenceSet(ROOM, json.dumps(state, separators=(",", ":")).encode()))
            for frame in session.data_to_send():
                await ws.send(frame)
            if tally.counting:
                tally.sets += 1
            await asyncio.sleep(1.0)

    return ws, read, move


async def pycrdt_client(url: str, i: int, tally: Tally, sampled: bool, go: asyncio.Event) -> Any:
    from bench_server import (
        Lib0Reader,
        client_id,
        open_y_websocket,
        var_bytes,
        var_string,
        var_uint,
    )

    ws = await open_y_websocket(url, i, ROOM)
    cid = client_id(i)

    async def read() -> None:
        async for frame in ws:
            assert isinstance(frame, bytes)
            if not tally.counting:
                continue
            tally.frames += 1
            tally.bytes += len(frame)
            if sampled and frame[:1] == b"\x01":
                msg = Lib0Reader(frame)
                msg.uint()
                msg.uint()  # the update's length
                now = time.time()
                for _ in range(msg.uint()):
                    msg.uint()  # client id
                    msg.uint()  # clock
                    tally.seen(i, msg.string(), now)

    async def move() -> None:
        await go.wait()
        await asyncio.sleep(random.random())
        clock = 0
        while True:
            clock += 1
            state = json.dumps({"x": clock, "y": i, "c": i, "t": time.time()})
            update = var_uint(1) + var_uint(cid) + var_uint(clock) + var_string(state)
            await ws.send(b"\x01" + var_bytes(update))
            if tally.counting:
                tally.sets += 1
            await asyncio.sleep(1.0)

    return ws, read, move


async def child(kind: str, url: str, first: int, count: int, seconds: float) -> None:
    raise_nofile()
    tally = Tally()
    go = asyncio.Event()
    make = synckit_client if kind == "synckit" else pycrdt_client
    clients = []
    async with asyncio.TaskGroup() as tg:
        tasks = []
        for start in range(first, first + count, 25):
            batch = await asyncio.gather(
                *(
                    make(url, i, tally, i - first < SAMPLED, go)
                    for i in range(start, min(start + 25, first + count))
                )
            )
            # Each connection reads from the moment it is in, as a real client does (a
            # connection nobody reads would hold back a server that writes to it).
            tasks += [tg.create_task(read()) for _, read, _ in batch]
            clients += batch
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        go.set()
        tasks += [tg.create_task(move()) for _, _, move in clients]
        await asyncio.sleep(2.0)  # everyone moving, phases spread
        tally.counting = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        tally.counting = False
        elapsed = time.perf_counter() - started
        for task in tasks:
            task.cancel()
    for ws, _, _ in clients:
        with contextlib.suppress(Exception):
            await ws.close()
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "frames": tally.frames,
                "bytes": tally.bytes,
                "sets": tally.sets,
                "entries": tally.entries,
                "echoes": tally.echoes,
                "latencies": tally.latencies,
                "sampled": min(SAMPLED, count),
            }
        ),
        flush=True,
    )


# -- the server and the run -------------------------------------------------------------------


def start_server(kind: str) -> subprocess.Popen[str]:
    if kind == "synckit":
        env = dict(os.environ, PYTHONPATH=str(SRC))
        cmd = [sys.executable, "-c", _SYNCKIT_SERVER]
    else:
        sys.path.insert(0, str(BENCH))
        from bench_server import _PYCRDT_CHILD, install_pycrdt

        env = dict(os.environ)
        cmd = [str(install_pycrdt()), "-c", _PYCRDT_CHILD, "uvicorn"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def metrics(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    found = re.findall(r"^(synckit_presence_(?:frames|bytes))_total (\S+)$", text, re.M)
    return {name: float(value) for name, value in found}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run(kind: str, size: int, procs: int, seconds: float) -> dict[str, Any]:
    server = start_server(kind)
    children: list[subprocess.Popen[str]] = []
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + ("/health" if kind == "synckit" else "/"), timeout=1):
                    break
            time.sleep(0.05)
        per = size // procs
        env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{BENCH}")
        for p in range(procs):
            cmd = [sys.executable, __file__, "--child", kind, url, str(p * per), str(per)]
            cmd.append(str(seconds))
            children.append(
                subprocess.Popen(
                    cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        setup = time.perf_counter()
        for c in children:
            assert c.stdout is not None
            line = c.stdout.readline()
            if line.strip() != "ready":  # a join waited 30 s for the server's answer
                return {"peer": kind, "clients": size, "failed": time.perf_counter() - setup}
        setup = time.perf_counter() - setup
        for c in children:
            assert c.stdin is not None
            c.stdin.write("go\n")
            c.stdin.flush()
        time.sleep(2.0)
        before = metrics(url) if kind == "synckit" else {}
        cpu_before, wall_before = cpu_seconds(server.pid), time.perf_counter()
        time.sleep(seconds)
        after = metrics(url) if kind == "synckit" else {}
        cpu = (cpu_seconds(server.pid) - cpu_before) / (time.perf_counter() - wall_before)
        results = []
        for c in children:
            assert c.stdout is not None
            results.append(json.loads(c.stdout.readline()))
            c.wait(60)
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    elapsed = statistics.mean(r["elapsed"] for r in results)
    frames = sum(r["frames"] for r in results) / elapsed
    sets = sum(r["sets"] for r in results) / elapsed
    latencies = [x for r in results for x in r["latencies"]]
    row = {
        "peer": kind,
        "clients": size,
        "setup_s": setup,
        "sets_per_s": sets,
        "frames_per_s": frames,
        "bytes_per_s": sum(r["bytes"] for r in results) / elapsed,
        "frames_per_client_s": frames / size,
        "frames_per_set": frames / sets if sets else float("nan"),
        "server_cpu": cpu,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "echoes": sum(r["echoes"] for r in results),
        "sampled_entries": sum(r["entries"] for r in results),
    }
    if after:
        span = seconds
        row["server_frames_per_s"] = (
            after["synckit_presence_frames"] - before.get("synckit_presence_frames", 0)
        ) / span
        row["server_bytes_per_s"] = (
            after["synckit_presence_bytes"] - before.get("synckit_presence_bytes", 0)
        ) / span
    return row


def flush_cost(size: int, ticks: int = 50) -> dict[str, Any]:
    """The hub alone, no network: ``size`` members of one room, size/25 of them setting a
    state before each flush (a move a second at 25 ticks a second); the time one flush takes
    and the frames it queues (the frames are taken and dropped after each)."""
    from synckit.protocol import encode_frame
    from synckit.server import Hub, MemoryStore

    hub = Hub(MemoryStore())
    conns = [hub.connect() for _ in range(size)]
    for i, conn in enumerate(conns):
        hub.receive(conn, encode_frame(Hello(f"b{i}", "", (PRESENCE,))))
        hub.receive(conn, encode_frame(Subscribe(ROOM)))
        conn.take_frames()
    rng = random.Random(1)
    spent = 0.0
    frames = 0
    for tick in range(ticks):
        for i in rng.sample(range(size), max(1, size // 25)):
            state = {"x": tick, "y": i, "c": i, "t": time.time()}
            data = json.dumps(state, separators=(",", ":")).encode()
            hub.receive(conns[i], encode_frame(PresenceSet(ROOM, data)))
        started = time.perf_counter()
        hub.presence.flush()
        spent += time.perf_counter() - started
        for conn in conns:
            frames += len(conn.take_frames())
    return {
        "clients": size,
        "changes_per_tick": max(1, size // 25),
        "frames_per_tick": frames / ticks,
        "ms_per_flush": spent / ticks * 1000,
        "us_per_frame": spent / frames * 1e6,
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| server | clients | sets/s | frames/s (server sent) | MB/s | frames/client/s "
        "| frames per set | server CPU | p50 ms | p99 ms | own state back |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            out.append(
                f"| {r['peer']} | {r['clients']:,} | clients could not join: one waited 30 s "
                f"for the server's sync answer ({r['failed']:.0f} s into the joins) |" + " |" * 8
            )
            continue
        counted = f"{r['frames_per_s']:,.0f}"
        if "server_frames_per_s" in r:
            counted += f" ({r['server_frames_per_s']:,.0f})"
        out.append(
            f"| {r['peer']} | {r['clients']:,} | {r['sets_per_s']:,.0f} | {counted} "
            f"| {r['bytes_per_s'] / 1e6:.1f} | {r['frames_per_client_s']:.1f} "
            f"| {r['frames_per_set']:.1f} | {r['server_cpu'] * 100:.0f}% "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['echoes']} of {r['sampled_entries']} |"
        )
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, url, first, count, seconds = sys.argv[2:7]
        asyncio.run(child(kind, url, int(first), int(count), float(seconds)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--peer", choices=["synckit", "pycrdt"], nargs="+", default=["synckit"])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--flush-only", action="store_true", help="time the hub's flush alone (no network)"
    )
    args = parser.parse_args()
    if args.flush_only:
        print("| clients | changes per tick | frames per tick | ms per flush | µs per frame |")
        print("|---:|---:|---:|---:|---:|")
        for size in args.sizes:
            r = flush_cost(size)
            print(
                f"| {size:,} | {r['changes_per_tick']} | {r['frames_per_tick']:,.0f} "
                f"| {r['ms_per_flush']:.2f} | {r['us_per_frame']:.2f} |"
            )
        return
    raise_nofile()
    rows = []
    for kind in args.peer:
        for size in args.sizes:
            row = run(kind, size, args.procs, args.seconds)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
