"""SyncKit clients for bench_scale.py: one process holding ``count`` clients of one server.

The Python twin of ``peers/hocuspocus4/clients.mjs`` (same configuration, same JSON lines on
stdin/stdout). Each client is a bare WebSocket (``websockets``, no compression) driven by
:class:`synckit.protocol.ClientSession` with its own :class:`synckit.Document`: a thousand full
:func:`synckit.client.connect` clients (each with a SQLite store and background tasks) in a few
processes would measure the clients more than the server. What a client does with what arrives
is what the full client does: Subscribed and Broadcast changes are applied to its document
(except the throughput writers', see ``writers``), pushes carry ``doc.changes(since)``.

Run: ``python _scale_clients.py CONFIG_JSON`` (by bench_scale.py). Times are wall-clock
milliseconds (``time.time()``), comparable across processes on one host.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from synckit.client import Client, connect, sync_url
from synckit.core import ChangeEvent, Document, VersionVector
from synckit.protocol import (
    VERSION_DELTAS,
    Ack,
    Broadcast,
    ClientSession,
    Error,
    Event,
    Hello,
    Push,
    Subscribe,
    Subscribed,
    Welcome,
)


def now() -> float:
    return time.time() * 1000


def say(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Replica:
    """One client: a WebSocket, its protocol session, its document of ``doc_id``."""

    def __init__(self, client_id: str, doc_id: str) -> None:
        self.client_id = client_id
        self.doc_id = doc_id
        self.doc = Document(client_id)
        self.session = ClientSession()
        self.ws: ClientConnection | None = None
        self.batch = 0
        self.apply_broadcasts = True
        self.on_ack: Callable[[Ack], None] = lambda ack: None
        self.reader: asyncio.Task[None] | None = None
        # Frames push_nowait queued, and the one task that writes them in order (as
        # synckit.client's writer does; a task per frame cost the writers row a fifth).
        self.outgoing: collections.deque[bytes] = collections.deque()
        self.wanted = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None

    async def _send(self, event: Event) -> None:
        assert self.ws is not None
        self.session.send(event)
        for frame in self.session.data_to_send():
            await self.ws.send(frame)

    async def _next(self) -> Event:
        assert self.ws is not None
        while True:
            frame = await self.ws.recv()
            assert isinstance(frame, bytes)
            events = self.session.receive(frame)
            for out in self.session.data_to_send():  # a Pong, an Error
                await self.ws.send(out)
            for event in events:
                if isinstance(event, Error):
                    raise RuntimeError(f"{self.client_id}: server error {event}")
                return event

    async def connect(self, url: str) -> None:
        """Connect, say Hello, subscribe and apply what the server has; then keep reading."""
        self.ws = await ws_connect(sync_url(url), compression=None, max_size=None)
        await self._send(Hello(self.client_id, "", (VERSION_DELTAS,)))  # as synckit.client
        welcome = await self._next()
        assert isinstance(welcome, Welcome), welcome
        await self._send(Subscribe(self.doc_id, self.doc.version().encode()))
        while True:
            event = await self._next()
            if isinstance(event, Subscribed):
                self.doc.apply(event.changes)
                break

    def start_reading(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                event = await self._next()
                if isinstance(event, Broadcast):
                    if self.apply_broadcasts:
                        self.doc.apply(event.changes)
                elif isinstance(event, Ack):
                    self.on_ack(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a refused push, a dropped connection: the run is void
            say({"error": f"{type(exc).__name__}: {exc}"})
            os._exit(1)

    def push_nowait(self, since: VersionVector) -> None:
        """Send what the document gained since ``since`` as one Push (without waiting)."""
        assert self.ws is not None
        self.batch += 1
        self.session.send(Push(self.doc_id, self.batch, self.doc.changes(since)))
        self.outgoing.extend(self.session.data_to_send())
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        self.wanted.set()

    async def _write(self) -> None:
        """Write the queued frames, oldest first, for as long as the replica lives."""
        assert self.ws is not None
        outgoing, wanted = self.outgoing, self.wanted
        try:
            while True:
                await wanted.wait()
                wanted.clear()
                while outgoing:
                    await self.ws.send(outgoing.popleft())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped connection: the run is void
            say({"error": f"{type(exc).__name__}: {exc}"})
            os._exit(1)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.ws is not None:
            await self.ws.close()


async def open_many(url: str, cfg: dict[str, Any], docs: list[str]) -> list[Replica]:
    out: list[Replica] = []
    for start in range(0, len(docs), 50):
        batch = [
            Replica(f"{cfg['name']}-{cfg['first'] + start + k}", doc)
            for k, doc in enumerate(docs[start : start + 50])
        ]
        await asyncio.gather(*(r.connect(url) for r in batch))
        out += batch
    for r in out:
        r.start_reading()
    return out


async def command(lines: asyncio.StreamReader) -> dict[str, Any] | None:
    line = await lines.readline()
    return json.loads(line) if line.strip() else None


async def latency(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    clients = await open_many(cfg["url"], cfg, [cfg["doc"]] * cfg["count"])
    samples: list[tuple[int, float]] = []
    got: dict[int, int] = {}
    wrote: set[int] = set()

    def expected(i: int) -> int:
        return int(cfg["count"]) - (1 if i in wrote else 0)

    def watch(replica: Replica) -> None:
        def on_change(event: ChangeEvent) -> None:
            if event.local:
                return
            t = now()
            for name in event.names:
                if name.startswith("e"):
                    i = int(name[1:])
                    sent = replica.doc.get(name)
                    assert isinstance(sent, float)
                    samples.append((i, t - sent))
                    got[i] = got.get(i, 0) + 1
                    if got[i] == expected(i):
                        say({"got": i})

        replica.doc.subscribe(on_change, text_edits=False)

    for replica in clients:
        watch(replica)
    say({"ready": True})
    cpu = time.process_time()  # the clients' CPU while edits go, all joined
    while (cmd := await command(lines)) is not None:
        if "edit" in cmd:
            i, writer = cmd["edit"], clients[cmd["client"]]
            wrote.add(i)
            held = writer.doc.version()
            writer.doc.set(f"e{i}", now())
            writer.push_nowait(held)
            if expected(i) == 0:
                say({"got": i})
        elif cmd.get("done"):
            say({"samples": samples, "cpu_ms": (time.process_time() - cpu) * 1000})
            break
    for replica in clients:
        await replica.close()


async def writers(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    """Each writer keeps ``window`` pushes unacknowledged, one field set per push.

    The writers decode every frame (their sessions must) but do not apply the others'
    broadcasts to their documents: ten Python replicas applying 9 of every 10 updates would
    take the two cores from the server, and this row is about the server.
    """
    clients = await open_many(cfg["url"], cfg, [cfg["doc"]] * cfg["count"])
    say({"ready": True})
    cmd = await command(lines)
    assert cmd is not None
    t0 = now()
    ends = t0 + cmd["seconds"] * 1000
    window = cfg["window"]
    done = asyncio.get_running_loop().create_future()
    sent = acked = 0
    finished = 0

    def run(w: int, replica: Replica) -> None:
        key = f"w{cfg['first'] + w}"
        state = {"outstanding": 0}
        replica.apply_broadcasts = False

        def pump() -> None:
            nonlocal sent, finished
            while state["outstanding"] < window and now() < ends:
                held = replica.doc.version()
                replica.doc.set(key, sent)
                replica.push_nowait(held)
                sent += 1
                state["outstanding"] += 1
            if state["outstanding"] == 0 and now() >= ends:
                finished += 1
                if finished == len(clients) and not done.done():
                    done.set_result(None)

        def on_ack(ack: Ack) -> None:
            nonlocal acked
            acked += 1
            state["outstanding"] -= 1
            pump()

        replica.on_ack = on_ack
        pump()

    for w, replica in enumerate(clients):
        run(w, replica)
    await asyncio.wait_for(done, cmd["seconds"] + 60)
    say({"sent": sent, "acked": acked, "seconds": (now() - t0) / 1000})
    for replica in clients:
        await replica.close()


async def writers_library(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    """Each writer an app on the ``synckit.client`` library (a full client each, keeping its
    store in memory): it sets its key ``window`` times, then waits until the server has
    acknowledged all of them (``wait_synced``), for as long as the run lasts. The library
    keeps one push per document in flight, so the sets made meanwhile go in the next push,
    and it applies the other writers' broadcasts to its document, as any app's does."""
    window = cfg["window"]
    async with contextlib.AsyncExitStack() as stack:
        apps = []
        for w in range(cfg["count"]):
            client = await stack.enter_async_context(
                connect(cfg["url"], client_id=f"{cfg['name']}-{cfg['first'] + w}")
            )
            apps.append((client, await client.open(cfg["doc"], wait=True, timeout=60)))
        say({"ready": True})
        cmd = await command(lines)
        assert cmd is not None
        t0 = now()
        ends = t0 + cmd["seconds"] * 1000
        counts = {"sent": 0, "acked": 0}

        async def run(w: int, client: Client, doc: Document) -> None:
            key, n = f"w{cfg['first'] + w}", 0
            while now() < ends:
                for _ in range(window):
                    n += 1
                    doc.set(key, n)
                counts["sent"] += window
                await client.wait_synced(timeout=60)
                counts["acked"] += window

        await asyncio.gather(*(run(w, c, d) for w, (c, d) in enumerate(apps)))
        say({**counts, "seconds": (now() - t0) / 1000})


async def make(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    [maker] = await open_many(cfg["url"], cfg, [cfg["doc"]])
    acked = asyncio.get_running_loop().create_future()
    maker.on_ack = lambda ack: None if acked.done() else acked.set_result(ack)
    held = maker.doc.version()
    maker.doc.update({f"k{i}": i for i in range(cfg["keys"])})
    maker.push_nowait(held)
    await asyncio.wait_for(acked, 120)
    say({"ready": True})
    await command(lines)  # held until stdin closes
    await maker.close()


async def join(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    times = []
    keys = cfg["keys"]
    for r in range(cfg["joins"]):
        t0 = now()
        replica = Replica(f"{cfg['name']}-join-{r}", cfg["doc"])
        await replica.connect(cfg["url"])  # returns once Subscribed is applied
        ok = replica.doc.get(f"k{keys - 1}") == keys - 1
        times.append(now() - t0)
        size = len(replica.doc.to_json())
        await replica.close()
        if not ok or size != keys:
            say({"error": f"joined with {size} keys, not {keys}"})
            return
    say({"times": times})


async def idle(cfg: dict[str, Any], lines: asyncio.StreamReader) -> None:
    docs = [f"{cfg['doc']}-{(cfg['first'] + i) % 100}" for i in range(cfg["count"])]
    clients = await open_many(cfg["url"], cfg, docs)
    say({"ready": True})
    await command(lines)  # held until stdin closes
    for replica in clients:
        await replica.close()


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    cfg.setdefault("name", f"bench-{cfg['scenario']}")
    loop = asyncio.get_running_loop()
    lines = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
    scenarios = {
        "latency": latency,
        "writers": writers,
        "writers_library": writers_library,
        "make": make,
        "join": join,
        "idle": idle,
    }
    await scenarios[cfg["scenario"]](cfg, lines)


if __name__ == "__main__":
    try:
        import uvloop  # the loop uvicorn[standard] brings; the server uses it too
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
