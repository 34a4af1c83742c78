"""End-to-end latency and throughput through a real server on loopback.

The server is ``synckit serve`` in its own process (SQLite in a temporary directory); clients
are real :func:`synckit.client.connect` clients over WebSockets.

Latency, edit -> remote change callback (event.local False), one edit every ``--interval``:

* "observer": N clients are connected to the document: N-2 of them (the crowd) in a second
  process, receiving every edit; a writer and an observer in this process. Each sample is the
  time from the writer's edit call to the observer's callback, with the server fanning out
  to all N.
* "observer, raw": the same, but the crowd are bare WebSockets that only read frames: the
  crowd's own CPU no longer competes with the server, so this is the server's fan-out cost.
* "all receivers": all N clients in this process, a rotating writer; a sample per receiver
  per edit. The N-1 deliveries of one edit are processed one after another by this single
  Python thread, so the tail grows with N on top of the network path.

Throughput: every client edits as fast as it can for ``--seconds``; edits acknowledged by the
server (committed to SQLite before the ack) per second, and acknowledged pushes per second,
with each client on its own document and with all on one shared document.

Run: ``python benchmarks/bench_e2e.py [--clients 10 100] [--edits 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from synckit.client import Client, connect, sync_url
from synckit.core import ChangeEvent, Document
from synckit.protocol import Hello, Subscribe, encode_frame


@contextlib.contextmanager
def server_process() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synckit.cli", "serve", "--port", "0", "--data", data],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            match = re.search(r"listening on (http://\S+)", proc.stdout.readline())
            assert match, "server did not start"
            yield match.group(1)
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


@contextlib.contextmanager
def crowd_process(url: str, doc_id: str, n: int, kind: str = "clients") -> Iterator[None]:
    """``n`` subscribers of ``doc_id`` in another process, until the block ends: full clients
    (``kind="clients"``) or bare WebSockets that only read (``kind="raw"``)."""
    if n <= 0:
        yield
        return
    proc = subprocess.Popen(
        [sys.executable, __file__, f"--crowd={kind}", url, doc_id, str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"crowd did not start: {line!r}"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.asynccontextmanager
async def clients(url: str, n: int) -> AsyncIterator[list[Client]]:
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for _ in range(n):
            out.append(await stack.enter_async_context(connect(url)))
        yield out


async def ready(cs: list[Client], docs: list[Document], tag: str) -> None:
    """Wait until every client is online and has answered one round trip."""
    deadline = time.monotonic() + 60
    while not all(c.online for c in cs):
        if time.monotonic() > deadline:
            raise RuntimeError("clients did not connect")
        await asyncio.sleep(0.01)
    for d in docs:
        d.get_set("ready").add(f"{tag}-{id(d)}")
    for c in cs:
        await c.wait_synced(timeout=60)


async def run_crowd(url: str, doc_id: str, n: int) -> None:
    async with clients(url, n) as cs:
        docs = [await c.open(doc_id) for c in cs]
        await ready(cs, docs, "crowd")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the parent closes our stdin


async def run_raw_crowd(url: str, doc_id: str, n: int) -> None:
    """Subscribers that read frames and do nothing else: what is left is the server's cost."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for i in range(n):
            ws = await stack.enter_async_context(
                ws_connect(sync_url(url), compression=None, max_size=None)
            )
            await ws.send(encode_frame(Hello(f"raw-{i}"), 1))
            await ws.recv()
            await ws.send(encode_frame(Subscribe(doc_id), 2))
            await ws.recv()
            sockets.append(ws)

        async def drain(ws: ClientConnection) -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass

        async with asyncio.TaskGroup() as tg:
            for ws in sockets:
                tg.create_task(drain(ws))
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.read)
            for ws in sockets:
                await ws.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def watch(doc: Document, on_edit: Callable[[int, int, float], None]) -> None:
    """Call ``on_edit(writer_index, count)`` when counter ``w<i>`` reaches ``count``."""

    def on_change(event: ChangeEvent) -> None:
        if event.local:
            return
        now = time.perf_counter()
        for name in event.names:
            if name.startswith("w"):
                on_edit(int(name[1:]), doc.get_counter(name).value, now)

    doc.subscribe(on_change)


async def latency_observer(
    url: str, n: int, edits: int, interval: float, kind: str = "clients"
) -> list[float]:
    doc_id = f"observer-{kind}-{n}"
    with crowd_process(url, doc_id, n - 2, kind):
        async with clients(url, 2) as (writer, observer):
            wdoc, odoc = await writer.open(doc_id), await observer.open(doc_id)
            await ready([writer, observer], [wdoc, odoc], "pair")
            sent: dict[int, float] = {}
            samples: list[float] = []

            def arrived(_: int, count: int, now: float) -> None:
                while len(samples) < count and len(samples) + 1 in sent:
                    samples.append(now - sent[len(samples) + 1])

            watch(odoc, arrived)
            counter = wdoc.get_counter("w0")
            for k in range(1, edits + 1):
                sent[k] = time.perf_counter()
                counter.increment()
                await asyncio.sleep(interval)
            deadline = time.monotonic() + 10
            while len(samples) < edits and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
    return [s * 1000 for s in samples]


async def latency_all(url: str, n: int, edits: int, interval: float) -> list[float]:
    doc_id = f"all-{n}"
    async with clients(url, n) as cs:
        docs = [await c.open(doc_id) for c in cs]
        await ready(cs, docs, "all")
        # Writer i's k-th edit was sent at sent[i][k - 1]; writers edit in turn.
        sent: list[list[float]] = [[] for _ in range(n)]
        samples: list[float] = []
        seen = [[0] * n for _ in range(n)]

        def receiver(r: int) -> None:
            def arrived(w: int, count: int, now: float) -> None:
                for k in range(seen[r][w], count):
                    samples.append(now - sent[w][k])
                seen[r][w] = max(seen[r][w], count)

            watch(docs[r], arrived)

        for r in range(n):
            receiver(r)
        for k in range(edits):
            w = k % n
            sent[w].append(time.perf_counter())
            docs[w].get_counter(f"w{w}").increment()
            await asyncio.sleep(interval)
        deadline = time.monotonic() + 20
        while len(samples) < edits * (n - 1) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    return [s * 1000 for s in samples]


async def throughput(url: str, n: int, seconds: float, shared: bool) -> tuple[float, float]:
    """Acknowledged edits and pushes per second."""
    async with clients(url, n) as cs:
        docs = [await c.open("tp-shared" if shared else f"tp-{n}-{i}") for i, c in enumerate(cs)]
        await ready(cs, docs, "tp")
        acks_before = sum(c.engine.acked_pushes for c in cs)
        start = time.perf_counter()
        stop = start + seconds

        async def edit_loop(i: int) -> int:
            made = 0
            counter = docs[i].get_counter(f"c{i}")
            while time.perf_counter() < stop:
                for _ in range(5):
                    counter.increment()
                made += 5
                await asyncio.sleep(0)
            return made

        made = await asyncio.gather(*(edit_loop(i) for i in range(n)))
        for c in cs:
            await c.wait_synced(timeout=120)
        elapsed = time.perf_counter() - start
        pushes = sum(c.engine.acked_pushes for c in cs) - acks_before
        return sum(made) / elapsed, pushes / elapsed


def row(name: str, n: int, samples: list[float], expected: int) -> str:
    return (
        f"{name:<14} {n:>7} {len(samples):>7}/{expected:<7} {percentile(samples, 50):>7.2f} "
        f"{percentile(samples, 95):>7.2f} {percentile(samples, 99):>7.2f} {max(samples):>8.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between edits")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput run length")
    args = parser.parse_args()
    with server_process() as url:
        loop = "uvloop" if os.environ.get("SYNCKIT_BENCH_UVLOOP") == "1" else "asyncio"
        print(f"server {url}: a separate process on SQLite (uvloop); clients on {loop}\n")
        print(
            f"edit -> remote change callback latency, ms (an edit every "
            f"{args.interval * 1000:g} ms; all receivers with N clients: every "
            f"max(that, N * 0.3 ms))"
        )
        print(
            f"{'measure':<14} {'clients':>7} {'samples':>15} {'p50':>7} {'p95':>7} "
            f"{'p99':>7} {'max':>8}"
        )
        for n in args.clients:
            obs = await latency_observer(url, n, args.edits, args.interval)
            print(row("observer", n, obs, args.edits), flush=True)
        for n in args.clients:
            obs = await latency_observer(url, n, args.edits, args.interval, "raw")
            print(row("observer, raw", n, obs, args.edits), flush=True)
        for n in args.clients:
            # One Python thread applies all N-1 deliveries (~0.1 ms each): space the edits so
            # that this process is not saturated, or the figure measures its queue instead.
            interval = max(args.interval, n * 0.0003)
            every = await latency_all(url, n, args.edits, interval)
            print(row("all receivers", n, every, args.edits * (n - 1)), flush=True)
        print("\nthroughput, every client editing as fast as it can (acknowledged = committed)")
        print(f"{'document':<14} {'clients':>7} {'edits acked/s':>14} {'pushes acked/s':>15}")
        for shared in (False, True):
            for n in args.clients:
                edits, pushes = await throughput(url, n, args.seconds, shared)
                name = "one shared" if shared else "one per client"
                print(f"{name:<14} {n:>7} {edits:>14,.0f} {pushes:>15,.0f}", flush=True)


def _run(main: Coroutine[None, None, None]) -> None:
    """Run on uvloop when SYNCKIT_BENCH_UVLOOP=1 (the server always uses it when installed)."""
    if os.environ.get("SYNCKIT_BENCH_UVLOOP") == "1":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--crowd=clients":
        _run(run_crowd(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif len(sys.argv) == 5 and sys.argv[1] == "--crowd=raw":
        _run(run_raw_crowd(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        _run(main())
