"""Does one large document stall everyone? Edit latency of 100 clients while another document of
about 1 MB of text is loaded and compacted again and again.

The server runs in its own process (``create_app`` on SQLite, JWT authentication, uvicorn with
:func:`synckit.server._run.uvicorn_config`, as ``synckit serve`` does), with a probe task on its
event loop that sleeps 1 ms at a time and records every oversleep (the loop's stalls); this
process is the client side.

Before the server starts, a document ``big`` is written into its SQLite file as a snapshot: a
text of about 1 MB built from 40,000 inserts at random places (its snapshot takes a few hundred
milliseconds to build in pure Python). Then:

1. ``--clients`` (100) bare WebSocket clients subscribe to ``small`` and each pushes a small
   text edit every 3 to 5 seconds (random phase; each is broadcast to the 99 others), timing
   each push until its Ack (the edit round-trip); they keep going until the end.
2. After a warm-up, a writer subscribes to ``big`` at the version it was written with (the
   server loads it, and has nothing to send back: the **load** window),
   then pushes small edits to it one after another, each after the last one's Ack, for
   ``--seconds``: the server compacts ``big`` every ``--compact-every`` (32) batches (the
   **compaction** window; at the default 256 a shared machine sees too few in a short run).

Figures per window: the 100 clients' edit round-trip (p50, p99, max, ms) and the loop's stalls
(the probe's p99 and largest oversleep, ms); for the compaction window also the writer's pushes
(the compactions are the server's ``synckit_compactions_total`` over the window; a server
without that metric shows pushes / compact-every, what it did before compactions also waited
for the log to reach an eighth of the snapshot). ``--compare`` runs the same on a server with
``offload=False`` (everything on the event loop: the behaviour before) and then with
``offload=True`` (the default), and prints both.

``--loads`` measures repeated loads instead: with ``room_linger`` 0, one client after another
subscribes to ``big`` at its version and leaves for ``--seconds``, so every subscribe reads and
decodes it again (the first load of an untagged snapshot goes through the worker, which stores
it tagged; the later ones decode the tagged snapshot by the fast path); the figures are the
editors' round-trips and the loop's stalls over that window, and the loads' count and median.

``--abuser INSERTS`` measures a hostile principal instead: while the editors edit, a client of
another principal pushes, one after another, batches of INSERTS single characters typed at
random places (cheap in bytes, dear to merge), obeying the ``retry_after_ms`` of a
RATE_LIMITED refusal; once on a server without a loop budget (``loop_share`` 1.0, burst
3600 s) and once with the default ``Limits`` (a quarter of each second, 2 s at once). The
figures are the editors' round-trips and the loop's stalls over that window, and the abuser's
pushes merged and refused. ``--catch-up-abuser`` likewise, with a client of another principal
that subscribes to ``big`` again and again with a version holding just over half of big's
operations (the server computes the other half each time), reads the answer and unsubscribes.
``--gap-abuser INSERTS``: a client of another principal pushes, one after another, batches of
INSERTS characters all naming the same two origins (each merge's YATA scans grow with the
square of their number), with the default ``Limits``; run it with ``--src`` of a checkout
before ``max_merge_work`` to see what such a push did then.

Run: ``python benchmarks/bench_stall.py [--compare] [--loads] [--abuser INSERTS]
[--catch-up-abuser] [--gap-abuser INSERTS] [--clients 100] [--seconds 10] [--chars 40000]
[--compact-every 32] [--src DIR]``. Absolute numbers are noisy on a shared machine: compare
the two rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
from _peers import ServerProcess
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

import synckit.core._ops as K
from synckit.client import sync_url
from synckit.core import Document, VersionVector
from synckit.core._codec import ChangeSetWriter
from synckit.protocol import (
    Ack,
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
)

SECRET = "bench-stall-secret-0123456789abcdef0123456789abcd"
SRC = Path(__file__).resolve().parent.parent / "src"
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "

_CHILD = """
import asyncio, json, os, sys, time
import uvicorn
from synckit.server import JwtVerifier, Limits, create_app
from synckit.server._run import base_url, bind, uvicorn_config

data, secret, offload, probe_file = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
compact_every, linger = int(sys.argv[5]), float(sys.argv[6])
# Without offload=True the server of an older checkout (--src) is measured as it is.
kwargs = {} if offload else {"offload": False}
# "off": no budget for the event-loop time a principal's requests take (the whole loop).
loop = {"loop_share": 1.0, "loop_burst": 3600.0} if sys.argv[7] == "off" else {}
app = create_app(
    data,
    authenticate=JwtVerifier.from_secret(secret),
    limits=Limits(
        max_doc_bytes=256 << 20,
        max_connections_per_principal=1000,
        push_bytes_per_second=64 << 20,
        push_burst_bytes=64 << 20,
        compact_every=compact_every,
        room_linger=linger,
        **loop,
    ),
    **kwargs,
)
stalls = []

async def probe():
    # Oversleeps of a 1 ms sleep: how long the loop was kept from running anything else.
    last_write = time.monotonic()
    while True:
        t, wall = time.perf_counter(), time.time()
        await asyncio.sleep(0.001)
        gap = time.perf_counter() - t - 0.001
        stalls.append((wall, gap))  # when the sleep began, and how much longer it took
        now = time.monotonic()
        if now - last_write > 0.25:
            last_write = now
            with open(probe_file + ".tmp", "w") as f:
                json.dump(stalls[-200000:], f)
            os.replace(probe_file + ".tmp", probe_file)

async def main():
    sock = bind("127.0.0.1", 0)
    print(base_url(sock), flush=True)
    task = asyncio.create_task(probe())
    await uvicorn.Server(uvicorn_config(app)).serve(sockets=[sock])
    task.cancel()

if __name__ == "__main__":
    asyncio.run(main())
"""


def token(sub: str, admin: bool = False) -> str:
    now = int(time.time())
    grants: dict[str, Any] = {"docs": {"*": "write"}}
    if admin:
        grants["admin"] = True
    claims = {"sub": sub, "iat": now, "exp": now + 3600, "synckit": grants}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def snapshot_loads(url: str) -> str:
    """The server's ``synckit_snapshot_loads_total`` counts, as "tagged N, full M" (empty
    for a server without them)."""
    headers = {"authorization": f"Bearer {token('bench-admin', admin=True)}"}
    try:
        text = httpx.get(url + "/metrics", headers=headers, timeout=10).text
    except httpx.HTTPError:
        return ""
    counts = {}
    for line in text.splitlines():
        if line.startswith("synckit_snapshot_loads_total{"):
            kind = line.split('"')[1]
            counts[kind] = int(float(line.rsplit(" ", 1)[1]))
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items(), reverse=True))


def compactions(url: str) -> int | None:
    """The server's ``synckit_compactions_total`` (None for a server without it)."""
    headers = {"authorization": f"Bearer {token('bench-admin', admin=True)}"}
    try:
        text = httpx.get(url + "/metrics", headers=headers, timeout=10).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("synckit_compactions_total "):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def make_big(data: Path, chars: int) -> bytes:
    """Write ``big`` into the server's SQLite file as one snapshot; its version, encoded."""
    from synckit.server import SQLiteStore

    rng = random.Random(7)
    doc = Document("bench-maker")
    text = doc.get_text("body")
    for _ in range(chars):
        text.insert(rng.randint(0, len(text)), WORDS[: rng.randint(5, 50)])
    store = SQLiteStore(data / "synckit.db", durability="process")
    try:
        store.compact("big", doc.save(), 0)
    finally:
        store.close()
    return doc.version().encode()


class Server(ServerProcess):
    def __init__(
        self,
        data: Path,
        src: Path,
        offload: bool,
        compact_every: int,
        linger: float,
        loop_budget: bool = True,
    ) -> None:
        self.probe_file = data / "probe.json"
        self.big_version = b""
        self.spawn(
            [
                *("-c", _CHILD, str(data), SECRET),
                *("1" if offload else "0", str(self.probe_file), str(compact_every)),
                str(linger),
                "on" if loop_budget else "off",
            ],
            src,
        )

    def stalls(self, start: float, end: float) -> list[float]:
        """The probe's oversleeps (seconds) that overlap the time between two wall-clock
        times."""
        samples = json.loads(self.probe_file.read_text())
        return [gap for t, gap in samples if t <= end and t + 0.001 + gap >= start]


@contextlib.contextmanager
def server(
    src: Path,
    chars: int,
    offload: bool,
    compact_every: int,
    linger: float = 30.0,
    loop_budget: bool = True,
) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        version = make_big(Path(tmp), chars)
        srv = Server(Path(tmp), src, offload, compact_every, linger, loop_budget)
        srv.big_version = version
        try:
            yield srv
        finally:
            srv.stop()


class Client:
    """A bare WebSocket client editing a text in one document."""

    def __init__(self, ws: ClientConnection, client_id: str, doc_id: str) -> None:
        self.ws = ws
        self.session = ClientSession()
        self.client_id = client_id
        self.doc_id = doc_id
        self.doc = Document(client_id)
        self.batch = 0
        #: batch -> (wall-clock time sent, perf_counter sent)
        self.waiting: dict[int, tuple[float, float]] = {}
        self.acked = asyncio.Event()
        #: (wall-clock time the push was sent, round-trip seconds)
        self.rtts: list[tuple[float, float]] = []

    async def send(self, event: Any) -> None:
        self.session.send(event)
        for frame in self.session.data_to_send():
            await self.ws.send(frame)

    async def recv(self) -> Any:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 120)
            assert isinstance(frame, bytes)
            events = self.session.receive(frame)
            if events:
                return events[0]

    async def start(self, since: bytes) -> None:
        await self.send(Hello(self.client_id, token(f"user-{self.client_id[-1]}")))
        assert isinstance(await self.recv(), Welcome)
        await self.send(Subscribe(self.doc_id, since))
        while not isinstance(event := await self.recv(), Subscribed):
            pass
        del event

    async def read(self) -> None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            while True:
                event = await self.recv()
                if isinstance(event, Ack):
                    sent = self.waiting.pop(event.batch_id, None)
                    if sent is not None:
                        self.rtts.append((sent[0], time.perf_counter() - sent[1]))
                        self.acked.set()
                elif isinstance(event, Error):
                    raise RuntimeError(f"{self.client_id}: {event}")

    async def push(self) -> None:
        since = self.doc.version()
        text = self.doc.get_text("t")
        text.insert(len(text), "x")
        self.batch += 1
        self.waiting[self.batch] = (time.time(), time.perf_counter())
        self.acked.clear()
        await self.send(Push(self.doc_id, self.batch, self.doc.changes(since)))


async def connect(url: str, client_id: str, doc_id: str, since: bytes = b"") -> Client:
    ws = await ws_connect(sync_url(url), compression=None, max_size=None, open_timeout=60)
    client = Client(ws, client_id, doc_id)
    await client.start(since or VersionVector().encode())
    return client


async def editor(client: Client, stop: asyncio.Event, rng: random.Random) -> None:
    await asyncio.sleep(5 * rng.random())
    while not stop.is_set():
        await client.push()
        await asyncio.sleep(3 + 2 * rng.random())


def summary(rtts: list[float], stalls: list[float]) -> dict[str, float]:
    def q(values: list[float], p: float) -> float:
        if not values:
            return 0.0
        values = sorted(values)
        return values[min(len(values) - 1, int(p * len(values)))] * 1000

    return {
        "edits": len(rtts),
        "p50_ms": round(q(rtts, 0.50), 1),
        "p99_ms": round(q(rtts, 0.99), 1),
        "max_ms": round(max(rtts, default=0) * 1000, 1),
        "stall_p99_ms": round(q(stalls, 0.99), 1),
        "stall_max_ms": round(max(stalls, default=0) * 1000, 1),
    }


async def start_editors(
    srv: Server, clients: int
) -> tuple[list[Client], list[asyncio.Task[None]], list[asyncio.Task[None]], asyncio.Event]:
    """``clients`` editors of ``small`` (joined 25 at a time), each editing until the event is
    set and its reader timing the round trips; returned after a 5 s warm-up."""
    rng = random.Random(1)
    editors = []
    for first in range(0, clients, 25):
        editors += await asyncio.gather(
            *(
                connect(srv.url, f"edit-{i}", "small")
                for i in range(first, min(clients, first + 25))
            )
        )
    readers = [asyncio.create_task(c.read()) for c in editors]
    stop = asyncio.Event()
    loops = [asyncio.create_task(editor(c, stop, rng)) for c in editors]
    await asyncio.sleep(5)  # warm-up
    return editors, readers, loops, stop


async def scenario(srv: Server, clients: int, seconds: float, compact_every: int) -> dict[str, Any]:
    editors, readers, loops, stop = await start_editors(srv, clients)

    load_start = time.time()
    # Subscribed at the version it has: what is measured is the load, not the encoding of a
    # megabyte for a client that has nothing.
    writer = await connect(srv.url, "writer-0", "big", srv.big_version)
    load_end = time.time()
    writer_reader = asyncio.create_task(writer.read())

    busy_start = time.time()
    compacted = await asyncio.to_thread(compactions, srv.url)
    pushes = 0
    while time.time() - busy_start < seconds:
        await writer.push()
        await asyncio.wait_for(writer.acked.wait(), 60)
        pushes += 1
    busy_end = time.time()
    compacted_after = await asyncio.to_thread(compactions, srv.url)
    stop.set()
    await asyncio.gather(*loops)
    await asyncio.sleep(1.5)  # last acks; the probe writes its file
    for task in [*readers, writer_reader]:
        task.cancel()
    await asyncio.gather(*readers, writer_reader, return_exceptions=True)
    for c in [*editors, writer]:
        await c.ws.close()

    def window(start: float, end: float) -> list[float]:
        return [rtt for c in editors for t, rtt in c.rtts if start <= t <= end]

    load = summary(window(load_start, load_end), srv.stalls(load_start, load_end))
    load["load_ms"] = round((load_end - load_start) * 1000, 1)
    busy: dict[str, Any] = dict(
        summary(window(busy_start, busy_end), srv.stalls(busy_start, busy_end))
    )
    busy["writer_pushes"] = pushes
    busy["compactions"] = (
        compacted_after - compacted
        if compacted is not None and compacted_after is not None
        else f"~{pushes // compact_every} (pushes / compact-every: no metric on this server)"
    )
    return {"load": load, "compaction": busy}


async def scenario_loads(srv: Server, clients: int, seconds: float) -> dict[str, Any]:
    """``--loads``: the editors as in :func:`scenario`, while one client after another opens
    ``big`` (at the version it has) and leaves, for ``seconds``: with ``room_linger`` 0 the
    room closes each time, so every subscribe reads and decodes ``big`` again."""
    editors = await start_editors(srv, clients)

    start = time.time()
    times: list[float] = []
    while time.time() - start < seconds:
        t = time.perf_counter()
        loader = await connect(srv.url, f"loader-{len(times)}", "big", srv.big_version)
        times.append(time.perf_counter() - t)
        await loader.ws.close()
        await asyncio.sleep(0.05)  # the server sees the close and drops the room
    end = time.time()
    figs = await wind_down(srv, editors, None, start, end)
    times.sort()
    figs["loads"] = len(times)
    figs["load_p50_ms"] = round(times[len(times) // 2] * 1000, 1) if times else 0.0
    figs["snapshot_loads"] = snapshot_loads(srv.url)
    return {"loads": figs}


def scattered_batches(count: int, inserts: int) -> list[bytes]:
    """``count`` pushes of one client, each ``inserts`` single characters typed at random
    places of a text of its own: cheap in bytes (~12 per insert), dear to merge (each
    character an item placed among the others)."""
    rng = random.Random(3)
    doc = Document("abuser-0")
    out = []
    for k in range(count):
        since = doc.version()
        text = doc.get_text(f"t{k}")
        for _ in range(inserts):
            text.insert(rng.randint(0, len(text)), "x")
        out.append(doc.changes(since))
    return out


def gap_batches(count: int, inserts: int) -> list[bytes]:
    """The abuser's "ab" in a text of its own, then ``count`` pushes of ``inserts``
    characters each, every one of them naming the same two origins (the "a" and the "b"):
    the YATA scan of each walks every character inserted there before it, so the work grows
    with the square of their number. No client makes such operations; hostile bytes can."""
    first = Document("abuser-0")
    first.get_text("t").insert(0, "ab")
    out = [first.changes()]
    seq = 3
    for _ in range(count):
        writer = ChangeSetWriter(["abuser-0"])
        ops: list[Any] = [
            (K.TEXT_INSERT, seq + i, "t", (0, 1), (0, 2), "z") for i in range(inserts)
        ]
        writer.add(0, seq, {}, ops)
        out.append(writer.to_bytes())
        seq += inserts
    return out


async def connect_abuser(srv: Server, doc_id: str) -> Client:
    """A client of the principal ``mallory``, past its Welcome."""
    ws = await ws_connect(sync_url(srv.url), compression=None, max_size=None, open_timeout=60)
    abuser = Client(ws, "abuser-0", doc_id)
    await abuser.send(Hello("abuser-0", token("mallory")))
    assert isinstance(await abuser.recv(), Welcome)
    return abuser


async def wind_down(
    srv: Server,
    editors: tuple[list[Client], list[asyncio.Task[None]], list[asyncio.Task[None]], asyncio.Event],
    other: Client | None,
    start: float,
    end: float,
) -> dict[str, Any]:
    """Stop the editors (their last acks read), close every client (``other`` too), and
    summarise the editors' round-trips and the loop's stalls between ``start`` and ``end``."""
    clients, readers, loops, stop = editors
    stop.set()
    await asyncio.gather(*loops)
    await asyncio.sleep(1.5)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for c in [*clients, *([other] if other is not None else [])]:
        await c.ws.close()
    rtts = [rtt for c in clients for t, rtt in c.rtts if start <= t <= end]
    return dict(summary(rtts, srv.stalls(start, end)))


class Refusals:
    """The RATE_LIMITED refusals an abuser obeyed."""

    def __init__(self) -> None:
        self.count = 0
        self.waited = 0.0

    async def obey(self, answer: Any) -> None:
        assert isinstance(answer, Error) and answer.retry_after_ms, answer
        self.count += 1
        pause = answer.retry_after_ms / 1000
        self.waited += pause
        await asyncio.sleep(pause)

    def __str__(self) -> str:
        return f"{self.count} refused, {self.waited:.1f} s told to wait"


async def scenario_abuser(
    srv: Server, clients: int, seconds: float, batches: list[bytes]
) -> dict[str, Any]:
    """``--abuser``: the editors as in :func:`scenario`, while a client of another principal
    pushes :func:`scattered_batches` into ``small``'s neighbour ``spam`` one after another
    for ``seconds``, each after the last one's answer; a push refused RATE_LIMITED is sent
    again after its ``retry_after_ms`` (as the SyncKit client does)."""
    editors = await start_editors(srv, clients)
    abuser = await connect_abuser(srv, "spam")
    await abuser.send(Subscribe("spam", VersionVector().encode()))
    assert isinstance(await abuser.recv(), Subscribed)
    start = time.time()
    accepted = 0
    refusals = Refusals()
    for data in batches:
        if time.time() - start >= seconds:
            break
        while True:
            abuser.batch += 1
            await abuser.send(Push("spam", abuser.batch, data))
            answer = await abuser.recv()
            if isinstance(answer, Ack):
                accepted += 1
                break
            await refusals.obey(answer)
    end = time.time()
    figs = await wind_down(srv, editors, abuser, start, end)
    figs["abuser"] = (
        f"{accepted} pushes merged ({len(batches[0]) // 1024} KiB each), {refusals}, "
        f"in {end - start:.1f} s"
    )
    return {"abuser": figs}


async def scenario_catch_up_abuser(
    srv: Server, clients: int, seconds: float, at: float | None = None
) -> dict[str, Any]:
    """``--catch-up-abuser``: the editors as in :func:`scenario`, while a client of another
    principal subscribes to ``big`` again and again for ``seconds`` with a version holding
    just over half of big's operations (so the server computes the other half each time),
    reading each answer and unsubscribing; a subscribe refused RATE_LIMITED is sent again
    after its ``retry_after_ms``."""
    editors = await start_editors(srv, clients)
    abuser = await connect_abuser(srv, "big")
    # Just over half of big's operations: the other half, computed for this version alone (a
    # version holding half or less gets the room's whole changes, kept and extended).
    top = VersionVector.decode(srv.big_version)["bench-maker"]
    held = top // 2 + 1 if at is None else int(top * at)
    first = VersionVector({"bench-maker": held} if held else {}).encode()
    start = time.time()
    answered = 0
    refusals = Refusals()
    while time.time() - start < seconds:
        await abuser.send(Subscribe("big", first))
        answer = await abuser.recv()
        if isinstance(answer, Subscribed):
            answered += 1
            await abuser.send(Unsubscribe("big"))
            continue
        await refusals.obey(answer)
    end = time.time()
    figs = await wind_down(srv, editors, abuser, start, end)
    figs["abuser"] = f"{answered} catch-ups of big, {refusals}, in {end - start:.1f} s"
    return {"abuser": figs}


async def scenario_gap_abuser(
    srv: Server, clients: int, seconds: float, batches: list[bytes]
) -> dict[str, Any]:
    """``--gap-abuser``: the editors as in :func:`scenario`, while a client of another
    principal pushes :func:`gap_batches` into ``gap`` one after another for ``seconds``; a
    push refused RATE_LIMITED is sent again after its ``retry_after_ms``, one refused
    TOO_MANY (a server with ``max_merge_work``: the merge was stopped, and the document
    reloaded, which disconnects its subscribers) again from a new connection."""
    editors = await start_editors(srv, clients)
    refusals = Refusals()

    async def joined() -> Client:
        abuser = await connect_abuser(srv, "gap")
        while True:  # (a subscribe is refused RATE_LIMITED too while the abuser owes time)
            await abuser.send(Subscribe("gap", VersionVector().encode()))
            answer = await abuser.recv()
            if isinstance(answer, Subscribed):
                return abuser
            await refusals.obey(answer)

    abuser = await joined()
    start = time.time()
    accepted = stopped = 0
    answers: list[float] = []
    for data in batches:
        if time.time() - start >= seconds:
            break
        while time.time() - start < seconds:
            abuser.batch += 1
            sent = time.perf_counter()
            await abuser.send(Push("gap", abuser.batch, data))
            answer = await abuser.recv()
            answers.append(time.perf_counter() - sent)
            if isinstance(answer, Ack):
                accepted += 1
                break
            if isinstance(answer, Error) and answer.code is ErrorCode.TOO_MANY:
                stopped += 1
                await abuser.ws.close()
                abuser = await joined()
                continue
            await refusals.obey(answer)
    end = time.time()
    figs = await wind_down(srv, editors, abuser, start, end)
    slowest = max(answers) * 1000 if answers else 0.0
    figs["abuser"] = (
        f"{accepted} pushes merged, {stopped} stopped (TOO_MANY), {refusals}, "
        f"slowest answer {slowest:.0f} ms, in {end - start:.1f} s"
    )
    return {"gap abuser": figs}


def run(args: argparse.Namespace, offload: bool) -> dict[str, Any]:
    if args.gap_abuser:
        batches = gap_batches(int(args.seconds) + 2, args.gap_abuser)
        with server(args.src, 1000, offload, 256) as srv:
            return asyncio.run(scenario_gap_abuser(srv, args.clients, args.seconds, batches))
    if args.catch_up_abuser:
        rows = {}
        for budget in (False, True):
            with server(args.src, args.chars, offload, 256, loop_budget=budget) as srv:
                row = asyncio.run(
                    scenario_catch_up_abuser(srv, args.clients, args.seconds, args.catch_up_at)
                )
            rows["loop budget " + ("on" if budget else "off")] = row["abuser"]
        return rows
    if args.abuser:
        batches = scattered_batches(int(args.seconds * 8) + 8, args.abuser)
        rows = {}
        for budget in (False, True):
            with server(args.src, 1000, offload, 256, loop_budget=budget) as srv:
                row = asyncio.run(scenario_abuser(srv, args.clients, args.seconds, batches))
            rows["loop budget " + ("on" if budget else "off")] = row["abuser"]
        return rows
    if args.loads:
        with server(args.src, args.chars, offload, args.compact_every, linger=0.0) as srv:
            return asyncio.run(scenario_loads(srv, args.clients, args.seconds))
    with server(args.src, args.chars, offload, args.compact_every) as srv:
        return asyncio.run(scenario(srv, args.clients, args.seconds, args.compact_every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", action="store_true", help="offload off, then on")
    parser.add_argument("--off", action="store_true", help="only offload off")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--chars", type=int, default=40000, help="inserts building big")
    parser.add_argument("--compact-every", type=int, default=32, help="Limits.compact_every")
    parser.add_argument("--src", type=Path, default=SRC)
    parser.add_argument(
        "--loads", action="store_true", help="repeated loads of big instead of compactions"
    )
    parser.add_argument(
        "--abuser",
        type=int,
        default=0,
        metavar="INSERTS",
        help="a principal pushing INSERTS scattered characters per push, loop budget "
        "off then on (Limits.loop_share), instead of compactions",
    )
    parser.add_argument(
        "--catch-up-abuser",
        action="store_true",
        help="a principal subscribing to big again and again with a version holding just over "
        "half of it, loop budget off then on, instead of compactions",
    )
    parser.add_argument(
        "--catch-up-at",
        type=float,
        default=None,
        metavar="FRACTION",
        help="with --catch-up-abuser: the share of big's operations the abuser's version holds "
        "(default just over half; 0: none, so the server sends the whole it keeps)",
    )
    parser.add_argument(
        "--gap-abuser",
        type=int,
        default=0,
        metavar="INSERTS",
        help="a principal pushing INSERTS characters per push all naming the same two origins "
        "(quadratic merge work), default limits, instead of compactions",
    )
    args = parser.parse_args()
    modes = [False, True] if args.compare else [not args.off]
    rows = {}
    for offload in modes:
        name = "offload on" if offload else "offload off"
        rows[name] = run(args, offload)
        print(name, json.dumps(rows[name]), flush=True)
    print()
    print(
        "| server | window | edits | p50 ms | p99 ms | max ms | loop stall p99 ms "
        "| loop stall max ms | other |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        for window, figs in row.items():
            if window == "load":
                extra = f"load {figs['load_ms']} ms"
            elif window.startswith("loop budget") or window == "gap abuser":
                extra = figs["abuser"]
            elif window == "loads":
                extra = f"{figs['loads']} loads, p50 {figs['load_p50_ms']} ms"
                if figs["snapshot_loads"]:
                    extra += f" ({figs['snapshot_loads']})"
            else:
                extra = f"{figs['writer_pushes']} pushes, {figs['compactions']} compactions"
            print(
                f"| {name} | {window} | {figs['edits']} | {figs['p50_ms']} | {figs['p99_ms']} "
                f"| {figs['max_ms']} | {figs['stall_p99_ms']} | {figs['stall_max_ms']} "
                f"| {extra} |"
            )


if __name__ == "__main__":
    main()
