"""What one participant costs the server: idle connections, a stalled reader, a large view.

The server runs in its own process (``create_app`` on SQLite with JWT authentication, served by
uvicorn with :func:`synckit.server._run.uvicorn_config`, exactly as ``synckit serve`` does);
this process is the client side. Memory is the server process's RSS (``VmRSS``/``VmHWM`` from
``/proc/PID/status``).

* **idle**: ``--warm`` connections are opened first (code paths and allocator warmed up), then
  ``--conns`` more; each is a bare WebSocket that sent Hello (a JWT; 40 principals) and
  subscribed to one document, then stays silent. Figure: RSS growth / connections, KiB.
  The same, in the same run, for the peers (``--peers``): pycrdt-websocket's ``ASGIServer``
  under uvicorn and under Hypercorn, and Hocuspocus 3.4.4 on Node; each installed by this
  script into ``benchmarks/.peers/`` (pinned in ``benchmarks/peers/``), each connection a bare
  WebSocket that sent its provider's first messages, completed the Yjs sync handshake and
  joined one room of 100 (as SyncKit's join one document of 100). Median of ``--repeat``
  fresh servers per row; ratios to SyncKit's figure of the same run.
* **stalled**: an honest subscriber reads a busy document while writers push ~36 MiB of
  broadcasts into it. Run twice on fresh servers: without and with one more subscriber that
  never reads (its socket's receive buffer set small, so the kernel cannot absorb the stream).
  Figures: peak RSS growth of each run, their difference (the stalled reader's cost), whether
  the stalled reader was dropped and the honest one got everything.
* **view**: ``GET /v1/docs/{id}`` of a ~10 MB and a ~70 MB document (written to the SQLite file
  before the server starts) while another task asks ``GET /health`` every 5 ms. Figures: the
  view's duration and the slowest ``/health`` answer during it (median of 3 views).

Run: ``python benchmarks/bench_server.py [--conns 2000] [--only idle stalled view]
[--peers NAME ...] [--repeat 3] [--src DIR]``. ``--src`` points the server process at another
checkout's ``src`` (for a before/after comparison); the client side always uses this
checkout. ``BENCH_QUEUE_BYTES`` sets the server's ``Limits.max_queue_bytes`` (default 1 MiB;
before this change a view of a document over 1 MiB needed more).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
from _peers import (
    KIB,
    MIB,
    PYCRDT_CHILD,
    PeerServer,
    ServerProcess,
    install_hocuspocus,
    install_pycrdt,
    peer_versions,
    raise_nofile,
    status,
)
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from synckit.core import Document, VersionVector
from synckit.protocol import (
    Broadcast,
    Error,
    Push,
)
from synckit.testing import RawConnection

SECRET = "bench-server-secret-0123456789abcdef0123456789"
SRC = Path(__file__).resolve().parent.parent / "src"

_CHILD = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
import uvicorn
from synckit.server import JwtVerifier, Limits, create_app
from synckit.server._run import base_url, bind, uvicorn_config
app = create_app(
    sys.argv[1],
    authenticate=JwtVerifier.from_secret(sys.argv[2]),
    limits=Limits(
        max_doc_bytes=256 << 20,
        max_connections_per_principal=1000,
        max_queue_bytes=int(os.environ.get("BENCH_QUEUE_BYTES", 1 << 20)),
    ),
    send_timeout=float(sys.argv[3]),
)
sock = bind("127.0.0.1", 0)
print(base_url(sock), flush=True)
uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
"""


def token(sub: str) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + 3600, "synckit": {"docs": {"*": "write"}}}
    return jwt.encode(claims, SECRET, algorithm="HS256")


class Server(ServerProcess):
    """The server process (``create_app`` + uvicorn) on a data directory."""

    def __init__(self, data: Path, src: Path, send_timeout: float = 10.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(src))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(data), SECRET, str(send_timeout)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"server did not start: {self.url!r}")
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.02)


@contextlib.contextmanager
def server(src: Path, data: Path | None = None, send_timeout: float = 10.0) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(data or Path(tmp), src, send_timeout)
        try:
            yield srv
        finally:
            srv.stop()


def connections(url: str) -> int:
    return int(httpx.get(url + "/health", timeout=10).json()["connections"])


# -- raw protocol clients --------------------------------------------------------------------


async def open_raw(
    url: str, i: int, doc_id: str, sock: socket.socket | None = None
) -> RawConnection:
    raw = await RawConnection.open(url, f"bench-{i}", token=token(f"user-{i % 40}"), sock=sock)
    await raw.subscribe(doc_id)
    return raw


# -- idle connections ------------------------------------------------------------------------


async def _open_many(url: str, first: int, count: int) -> list[RawConnection]:
    out: list[RawConnection] = []
    step = 100
    for start in range(first, first + count, step):
        n = min(step, first + count - start)
        out += await asyncio.gather(
            *(open_raw(url, i, f"doc-{i % 100}") for i in range(start, start + n))
        )
    return out


async def idle(src: Path, conns: int, warm: int) -> dict[str, float]:
    with server(src) as srv:
        kept = await _open_many(srv.url, 0, warm)
        await asyncio.sleep(1.0)
        before = srv.rss()
        kept += await _open_many(srv.url, warm, conns)
        await asyncio.sleep(2.0)
        after = srv.rss()
        assert connections(srv.url) == warm + conns
        for raw in kept:
            await raw.ws.close()
    return {"rss_per_conn_kib": (after - before) / conns / KIB, "rss_after_mib": after / MIB}


# -- peers: pycrdt-websocket and Hocuspocus, idle connections measured the same way ----------
#
# Each peer is installed by this script, never into the project's environment: pycrdt-websocket
# into a virtualenv of its own (benchmarks/.peers/pycrdt, every package pinned in
# peers/requirements.txt) and Hocuspocus with npm into benchmarks/.peers/hocuspocus (versions
# pinned in peers/hocuspocus/package.json and its package-lock.json). Both speak the Yjs sync
# protocol; the client side below sends exactly the first messages of their providers.


# lib0 encoding (what y-protocols and Hocuspocus write): unsigned LEB128 integers, byte arrays
# and UTF-8 strings prefixed with their length.


def var_uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def var_bytes(data: bytes) -> bytes:
    return var_uint(len(data)) + data


def var_string(text: str) -> bytes:
    return var_bytes(text.encode())


class Lib0Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint(self) -> int:
        n = shift = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return n

    def string(self) -> str:
        size = self.uint()
        self.pos += size
        return self.data[self.pos - size : self.pos].decode()


# Yjs sync protocol: [messageSync, step, payload] and [messageAwareness, update].
Y_SYNC, Y_AWARENESS, HP_AUTH, HP_SYNC_STATUS = 0, 1, 2, 8
Y_STEP1, Y_STEP2 = 0, 1
HP_AUTHENTICATED = 2
EMPTY_STATE_VECTOR = b"\x00"  # an empty Y.Doc's state vector: no clients
EMPTY_UPDATE = b"\x00\x00"  # an empty Y.Doc's update: no structs, empty delete set


def sync_step1() -> bytes:
    """``syncProtocol.writeSyncStep1`` of an empty document (what a fresh provider sends)."""
    return bytes([Y_SYNC, Y_STEP1]) + var_bytes(EMPTY_STATE_VECTOR)


def sync_step2() -> bytes:
    """The answer to the server's step 1: everything the (empty) client document has."""
    return bytes([Y_SYNC, Y_STEP2]) + var_bytes(EMPTY_UPDATE)


def awareness(client_id: int) -> bytes:
    """``encodeAwarenessUpdate`` of a provider's initial local state ``{}`` (clock 0)."""
    update = var_uint(1) + var_uint(client_id) + var_uint(0) + var_string("{}")
    return bytes([Y_AWARENESS]) + var_bytes(update)


def client_id(i: int) -> int:
    return 0x8000_0000 + i  # a random uint32 in Yjs: five LEB128 bytes, as here


async def _drain(ws: ClientConnection) -> None:
    """Read and drop what the server broadcasts (other clients' awareness), as a provider does."""
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def _recv(ws: ClientConnection) -> bytes:
    frame = await asyncio.wait_for(ws.recv(), 30)
    assert isinstance(frame, bytes)
    return frame


async def open_y_websocket(url: str, i: int, room: str) -> ClientConnection:
    """A y-websocket provider joining ``room`` (pycrdt-websocket serves the URL path as room).

    On open the provider sends sync step 1 and its awareness; it answers the server's step 1
    with step 2 and is synced when the server's step 2 arrives. The bytes are those
    y-websocket 3.1.0's ``WebsocketProvider`` sends (checked against it).
    """
    ws = await ws_connect(f"ws{url.removeprefix('http')}/{room}", compression=None)
    await ws.send(sync_step1())
    await ws.send(awareness(client_id(i)))
    answered = synced = False
    while not (answered and synced):
        msg = Lib0Reader(await _recv(ws))
        if msg.uint() != Y_SYNC:
            continue
        step = msg.uint()
        if step == Y_STEP1:
            await ws.send(sync_step2())
            answered = True
        elif step == Y_STEP2:
            synced = True
    return ws


async def open_hocuspocus(url: str, i: int, room: str) -> ClientConnection:
    """A HocuspocusProvider joining document ``room`` with an empty token.

    Every message starts with the document name. On open the provider sends Auth (Token, ""),
    sync step 1 and its awareness; the server answers Authenticated, its step 1 (answered with
    step 2) and step 2, then acknowledges the client's step 2 with SyncStatus. The bytes are
    those @hocuspocus/provider 3.4.4 sends (checked against it).
    """
    ws = await ws_connect(f"ws{url.removeprefix('http')}", compression=None)
    doc = var_string(room)
    await ws.send(doc + bytes([HP_AUTH, 0]) + var_string(""))
    await ws.send(doc + sync_step1())
    await ws.send(doc + awareness(client_id(i)))
    authenticated = answered = synced = acked = False
    while not (authenticated and answered and synced and acked):
        msg = Lib0Reader(await _recv(ws))
        assert msg.string() == room
        kind = msg.uint()
        if kind == HP_AUTH:
            sub = msg.uint()
            if sub != HP_AUTHENTICATED:
                raise RuntimeError(f"hocuspocus refused: {msg.string()}")
            authenticated = True
        elif kind == Y_SYNC:
            step = msg.uint()
            if step == Y_STEP1:
                await ws.send(doc + sync_step2())
                answered = True
            elif step == Y_STEP2:
                synced = True
        elif kind == HP_SYNC_STATUS:
            acked = True
    return ws


Opener = Callable[[str, int, str], Awaitable[ClientConnection]]


async def _open_peers(
    url: str, opener: Opener, first: int, count: int, drains: list[asyncio.Task[None]]
) -> list[ClientConnection]:
    out: list[ClientConnection] = []
    step = 100
    for start in range(first, first + count, step):
        n = min(step, first + count - start)
        out += await asyncio.gather(
            *(opener(url, i, f"doc-{i % 100}") for i in range(start, start + n))
        )
    drains += [asyncio.create_task(_drain(ws)) for ws in out]
    return out


def start_peer(name: str) -> PeerServer:
    if name == "hocuspocus":
        home = install_hocuspocus()
        return PeerServer(["node", "server.mjs", "0"], home, "/connections")
    mode = name.removeprefix("pycrdt-websocket-")
    python = install_pycrdt()
    return PeerServer([str(python), "-c", PYCRDT_CHILD, mode], None, "/connections")


async def idle_peer(name: str, conns: int, warm: int) -> dict[str, float]:
    """Same procedure as :func:`idle`, against a peer's server."""
    opener: Opener = open_hocuspocus if name == "hocuspocus" else open_y_websocket
    srv = start_peer(name)
    drains: list[asyncio.Task[None]] = []
    try:
        kept = await _open_peers(srv.url, opener, 0, warm, drains)
        await asyncio.sleep(1.0)
        before = srv.rss()
        kept += await _open_peers(srv.url, opener, warm, conns, drains)
        await asyncio.sleep(2.0)
        after = srv.rss()
        assert srv.connections() == warm + conns, srv.connections()
        assert all(not d.done() for d in drains), "a connection was closed"
        for ws in kept:
            await ws.close()
    finally:
        for d in drains:
            d.cancel()
        srv.stop()
    return {"rss_per_conn_kib": (after - before) / conns / KIB, "rss_after_mib": after / MIB}


# -- stalled reader --------------------------------------------------------------------------


async def _pusher(url: str, n: int, pushes: int, size: int) -> None:
    raw = await open_raw(url, 1000 + n, "busy")
    doc = Document(f"bench-{1000 + n}")
    for i in range(pushes):
        held = doc.version()
        doc.set(f"w{n}-{i % 8}", f"{i:08d}" * (size // 8))
        await raw.send(Push("busy", i + 1, doc.changes(held)))
        while True:  # its own broadcasts come back too; wait for the ack
            event = await raw.recv()
            if isinstance(event, Error):
                raise RuntimeError(f"push refused: {event}")
            if not isinstance(event, Broadcast):
                break
    await raw.ws.close()


async def _reader(raw: RawConnection, writers: int, pushes: int) -> int:
    """Apply what the server broadcasts until every writer's last push is in; the number of
    pushes that covers. (The server broadcasts once per commit, so a Broadcast may carry the
    pushes of several writers: frames are not counted.)"""
    doc = Document("bench-reader")
    last = f"{pushes - 1:08d}"
    keys = [f"w{n}-{(pushes - 1) % 8}" for n in range(writers)]

    def complete() -> bool:
        return all(str(doc.get(key, "")).startswith(last) for key in keys)

    while not complete():
        event = await raw.recv()
        if isinstance(event, Broadcast):
            doc.apply(event.changes)
    return writers * pushes  # each writer's last push is in, so are those before it


def _sampler(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, RuntimeError):
            peak[0] = max(peak[0], status(pid, "VmRSS"))
        time.sleep(0.01)


async def stalled_run(
    src: Path, *, stall: bool, writers: int, pushes: int, size: int
) -> dict[str, Any]:
    with server(src, send_timeout=3.0) as srv:
        honest = await open_raw(srv.url, 0, "busy")
        stalled = None
        if stall:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * KIB)
            host, port = srv.url.removeprefix("http://").split(":")
            sock.connect((host, int(port)))
            sock.setblocking(False)
            stalled = await open_raw(srv.url, 1, "busy", sock=sock)
            transport = stalled.ws.transport
            transport.pause_reading()  # from now on it never reads
        await asyncio.sleep(0.5)
        base = srv.rss()
        stop = threading.Event()
        peak = [base]
        sampler = threading.Thread(target=_sampler, args=(srv.pid, stop, peak))
        sampler.start()
        t0 = time.perf_counter()
        reader = asyncio.create_task(_reader(honest, writers, pushes))
        await asyncio.gather(*(_pusher(srv.url, n, pushes, size) for n in range(writers)))
        got = await asyncio.wait_for(reader, 60)
        dropped_after = None
        for _ in range(1000):
            if connections(srv.url) == 1:
                dropped_after = time.perf_counter() - t0
                break
            await asyncio.sleep(0.05)
        stop.set()
        sampler.join()
        peak_hwm = peak[0]
        await honest.ws.close()
        if stalled is not None:
            stalled.ws.transport.abort()
    return {
        "peak_growth_mib": (peak_hwm - base) / MIB,
        "honest_got": got,
        "expected": writers * pushes,
        "dropped_after_s": dropped_after,
    }


async def stalled(src: Path, writers: int, pushes: int, size: int) -> dict[str, Any]:
    runs = {"without": [], "with": []}  # type: dict[str, list[dict[str, Any]]]
    for _ in range(2):
        for key, stall in (("without", False), ("with", True)):
            runs[key].append(
                await stalled_run(src, stall=stall, writers=writers, pushes=pushes, size=size)
            )
    without = statistics.median(r["peak_growth_mib"] for r in runs["without"])
    with_ = statistics.median(r["peak_growth_mib"] for r in runs["with"])
    return {
        "without_mib": without,
        "with_mib": with_,
        "cost_mib": with_ - without,
        "dropped_after_s": [r["dropped_after_s"] for r in runs["with"]],
        "honest_ok": all(r["honest_got"] == r["expected"] for rs in runs.values() for r in rs),
        "pushed_mib": writers * pushes * size / MIB,
    }


# -- large views -----------------------------------------------------------------------------


def make_data(data: Path, sizes: dict[str, int]) -> dict[str, int]:
    """Documents of about ``size`` stored bytes each, written straight into the SQLite file."""
    from synckit.server import SQLiteStore

    out = {}
    store = SQLiteStore(data / "synckit.db")
    try:
        for doc_id, size in sizes.items():
            doc = Document("bench-maker")
            n = size // 150
            doc.update(
                {
                    f"field{i:07d}": {"title": f"item {i} " + "lorem ipsum dolor " * 4, "n": i}
                    for i in range(n)
                }
            )
            changes = doc.changes(VersionVector())
            store.append_many([(doc_id, changes)])
            out[doc_id] = len(changes)
    finally:
        store.close()
    return out


async def _health_poller(url: str, stop: asyncio.Event, worst: list[float]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        while not stop.is_set():
            t = time.perf_counter()
            r = await http.get(url + "/health")
            assert r.status_code == 200
            worst[0] = max(worst[0], time.perf_counter() - t)
            await asyncio.sleep(0.005)


async def view(src: Path, sizes: dict[str, int]) -> dict[str, dict[str, float]]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        stored = make_data(Path(tmp), sizes)
        with server(src, Path(tmp)) as srv:
            auth = {"Authorization": f"Bearer {token('viewer')}"}
            async with httpx.AsyncClient(timeout=120, headers=auth) as http:
                for doc_id, size in sizes.items():
                    durations, worsts = [], []
                    for _ in range(3):
                        stop = asyncio.Event()
                        worst = [0.0]
                        poller = asyncio.create_task(_health_poller(srv.url, stop, worst))
                        await asyncio.sleep(0.05)
                        t = time.perf_counter()
                        r = await http.get(f"{srv.url}/v1/docs/{doc_id}")
                        durations.append(time.perf_counter() - t)
                        stop.set()
                        await poller
                        assert r.status_code == 200, r.text[:200]
                        assert len(r.json()) == size // 150
                        worsts.append(worst[0])
                    out[doc_id] = {
                        "stored_mb": stored[doc_id] / 1e6,
                        "json_mb": len(r.content) / 1e6,
                        "view_s": statistics.median(durations),
                        "health_worst_s": statistics.median(worsts),
                    }
    return out


PEER_NAMES = {
    "pycrdt-websocket-uvicorn": "pycrdt-websocket (ASGIServer, uvicorn)",
    "pycrdt-websocket-hypercorn": "pycrdt-websocket (ASGIServer, Hypercorn, the docs' example)",
    "hocuspocus": "Hocuspocus (@hocuspocus/server, Node)",
}
TARGET_KIB = 16.0


async def idle_table(src: Path, conns: int, warm: int, peers: list[str], repeat: int) -> bool:
    """SyncKit and the peers, each ``repeat`` times on a fresh server; one table.

    Returns whether every peer ran (one that failed is shown as n/a, with the reason below).
    """
    rows: dict[str, list[dict[str, float]]] = {"synckit": []}
    failed: dict[str, str] = {}
    for name in ["synckit", *peers]:
        for _ in range(repeat):
            if name == "synckit":
                rows[name].append(await idle(src, conns, warm))
                continue
            try:
                rows.setdefault(name, []).append(await idle_peer(name, conns, warm))
            except Exception as exc:  # a peer that cannot run here: say why, go on
                failed[name] = f"{type(exc).__name__}: {exc}"
                break
    print(f"Idle connections: {conns:,} (after {warm} warm-up ones), median of {repeat} servers\n")
    print("| server | KiB per idle connection (runs) | ÷ SyncKit's | server RSS after, MiB |")
    print("|---|---|---|---|")
    ours = statistics.median(r["rss_per_conn_kib"] for r in rows["synckit"])
    for name in ["synckit", *peers]:
        label = "SyncKit (synckit serve)" if name == "synckit" else PEER_NAMES[name]
        if name in failed or not rows.get(name):
            print(f"| {label} | n/a | n/a | n/a |")
            continue
        kib = statistics.median(r["rss_per_conn_kib"] for r in rows[name])
        after = statistics.median(r["rss_after_mib"] for r in rows[name])
        runs = ", ".join(f"{r['rss_per_conn_kib']:.1f}" for r in rows[name])
        print(f"| {label} | {kib:.1f} ({runs}) | {kib / ours:.2f} | {after:.0f} |")
    met = "met" if ours <= TARGET_KIB else "MISSED"
    if conns < 2000:
        met = "not checked (fewer than 2,000 connections: not comparable)"
    print(f"\nSyncKit target: at most {TARGET_KIB:.0f} KiB per idle connection: {met}")
    shown = {"node": "hocuspocus", "hocuspocus": "hocuspocus", "pycrdt": "pycrdt-websocket"}
    for key, value in peer_versions().items():
        if any(name.startswith(shown[key]) for name in peers):
            print(f"{key}: {value}")
    for name, why in failed.items():
        print(f"FAILED {name}: {why}")
    print()
    return not failed


# -- main ------------------------------------------------------------------------------------


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=2000)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--only", nargs="*", default=["idle", "stalled", "view"])
    parser.add_argument("--src", type=Path, default=SRC, help="the server's src directory")
    parser.add_argument("--quick", action="store_true", help="small sizes; not comparable")
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(PEER_NAMES),
        choices=list(PEER_NAMES),
        help="peers measured beside SyncKit in the idle table (none: SyncKit only)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="idle: fresh servers per row, median reported"
    )
    args = parser.parse_args()
    raise_nofile()
    src = args.src.resolve()
    print(f"server src: {src}\n")
    ok = True
    if "idle" in args.only:
        conns = 200 if args.quick else args.conns
        ok = await idle_table(src, conns, args.warm, args.peers, args.repeat)
    if "stalled" in args.only:
        pushes = 20 if args.quick else 144
        s = await stalled(src, writers=4, pushes=pushes, size=64 * KIB)
        print(f"Stalled reader ({s['pushed_mib']:.0f} MiB of broadcasts, send_timeout 3 s)\n")
        print("| peak RSS growth, no stalled reader | with one | its cost | dropped after, s |")
        print("|---|---|---|---|")
        dropped = ", ".join("no" if d is None else f"{d:.1f}" for d in s["dropped_after_s"])
        print(
            f"| {s['without_mib']:.1f} MiB | {s['with_mib']:.1f} MiB | {s['cost_mib']:.1f} MiB "
            f"| {dropped} |"
        )
        print(f"\nhonest subscriber got every broadcast: {s['honest_ok']}\n")
    if "view" in args.only:
        sizes = {"big10": 10_000_000, "big70": 70_000_000}
        if args.quick:
            sizes = {"big1": 1_000_000}
        v = await view(src, sizes)
        print("| document | stored, MB | JSON, MB | view, s | slowest /health during it, s |")
        print("|---|---|---|---|---|")
        for doc_id, f in v.items():
            print(
                f"| {doc_id} | {f['stored_mb']:.1f} | {f['json_mb']:.1f} | {f['view_s']:.2f} "
                f"| {f['health_worst_s']:.3f} |"
            )
    return 0 if ok else 1  # a peer that could not run


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
