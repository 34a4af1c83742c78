"""The chaos harness: two real ``synckit serve`` processes on a private PostgreSQL and a private
redis-server, real clients spread over both through a small TCP balancer, random edits of
every value type, faults injected mid-stream, then heal and check.

* :class:`Balancer`: one front port per client, forwarding to the server it prefers and to
  the other when that one refuses (as the compose file's nginx does); :meth:`Balancer.drop`
  cuts its connections, :meth:`Balancer.prefer` moves it.
* :class:`Editor`: a client that makes random edits of one document and remembers what they
  must leave behind: its own fields, its counter increments (a change applied twice, or lost,
  shows in the sum), its own set members, its list items (each exactly once, whatever the
  moves), and its own letter in the text.
* :class:`ChannelCounter`: subscribes to the change bus's Redis channel and counts its
  messages (through Redis restarts): after quiescence none may follow (no loop between
  servers).
* :class:`Cluster`: all of it; :meth:`Cluster.heal_and_check` waits for convergence and
  checks it, returning the figures (:class:`Figures`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from live import ServerProcess, eventually, free_port
from private_services import PrivatePostgres, PrivateRedis

from synckit.client import Client, connect
from synckit.core import Document
from synckit.errors import SyncKitError

DOC = "chaos"
CHANNEL = "synckit:changes"  # the change bus's default channel
LETTERS = "abcdefghijklmnopqrstuvwxyz"


class Balancer:
    """A TCP front for one client: each connection goes to the preferred backend, or to the
    next one when it refuses."""

    def __init__(self, backends: list[int], prefer: int, host: str = "127.0.0.1") -> None:
        self.backends = backends
        self.preferred = prefer
        #: The address it listens on (a veth's host end for clients in a namespace).
        self.host = host
        #: Seconds each chunk of bytes is held back, each way (latency; 0: none).
        self.delay = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: Backend index of each connection made, in order.
        self.routed: list[int] = []

    async def start(self) -> Balancer:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prefer(self, index: int) -> None:
        self.preferred = index

    def drop(self) -> None:
        """Cut every connection now (the client sees its connection end, and reconnects)."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        order = [self.preferred] + [i for i in range(len(self.backends)) if i != self.preferred]
        for index in order:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    "127.0.0.1", self.backends[index]
                )
            except OSError:
                continue
            self.routed.append(index)
            self._writers |= {writer, up_writer}
            try:
                await asyncio.gather(
                    _pipe(reader, up_writer, self),
                    _pipe(up_reader, writer, self),
                    return_exceptions=True,
                )
            finally:
                for w in (writer, up_writer):
                    self._writers.discard(w)
                    w.transport.abort()
            return
        writer.transport.abort()

    async def aclose(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, balancer: Balancer
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``balancer.delay`` seconds late (in order:
    a queue of chunks with their due times, so that latency does not cut throughput)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    held = [0]  # chunks queued and not yet written

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                return
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            held[0] -= 1

    sender = loop.create_task(send())
    try:
        while data := await reader.read(65536):
            if balancer.delay <= 0 and not held[0]:
                writer.write(data)
                await writer.drain()
            else:
                held[0] += 1
                queue.put_nowait((loop.time() + balancer.delay, data))
            if sender.done():
                break
        queue.put_nowait((loop.time() + balancer.delay, b""))
        await sender
    finally:
        sender.cancel()
        writer.transport.abort()


@dataclass
class Editor:
    """A client editing :data:`DOC` at random, and what its edits must leave in every replica."""

    name: str
    letter: str
    client: Client
    balancer: Balancer
    rng: random.Random
    doc: Document | None = None
    edits: int = 0
    fields: dict[str, int] = field(default_factory=dict)
    counted: int = 0
    members: set[str] = field(default_factory=set)
    items: list[str] = field(default_factory=list)
    letters: int = 0
    #: When False, the editor only reads.
    writes: bool = True
    #: Only edits that add (no deletes, removals or moves): what a client killed mid-push
    #: makes, so that its unacknowledged edits can be told apart (see ``netchaos``).
    grows_only: bool = False

    def set(self, key: str, value: int) -> None:
        """Set field ``key`` (a field of this editor's own)."""
        assert self.doc is not None
        self.doc.set(key, value)
        self.fields[key] = value
        self.edits += 1

    def expectation(self) -> dict[str, Any]:
        """What this editor's edits so far must leave in the document (JSON-ready)."""
        return {
            "fields": dict(self.fields),
            "n": self.counted,
            "s": sorted(self.members),
            "l": list(self.items),
            "t": {self.letter: self.letters} if self.letters else {},
        }

    def edit(self) -> None:
        """One random edit of one of the value types."""
        doc, rng = self.doc, self.rng
        assert doc is not None
        i = self.edits
        self.edits += 1
        kind = rng.randrange(6)
        if kind == 0:
            if self.fields and not self.grows_only and rng.random() < 0.25:
                key = rng.choice(sorted(self.fields))
                doc.delete(key)
                del self.fields[key]
            else:
                key = f"{self.name}:{i}"
                doc.set(key, i)
                self.fields[key] = i
        elif kind == 1:
            counter = doc.get_counter("n")
            if not self.grows_only and rng.random() < 0.3:
                counter.decrement(1)
                self.counted -= 1
            else:
                by = rng.randint(1, 5)
                counter.increment(by)
                self.counted += by
        elif kind == 2:
            members = doc.get_set("s")
            if self.members and not self.grows_only and rng.random() < 0.3:
                member = rng.choice(sorted(self.members))
                members.remove(member)
                self.members.discard(member)
            else:
                member = f"{self.name}-{i}"
                members.add(member)
                self.members.add(member)
        elif kind == 3:
            items = doc.get_list("l")
            item = f"{self.name}-{i}"
            items.insert(rng.randint(0, len(items)), item)
            self.items.append(item)
        elif kind == 4:
            items = doc.get_list("l")
            if len(items) >= 2 and not self.grows_only:
                items.move(rng.randrange(len(items)), rng.randrange(len(items)))
            else:
                items.append(f"{self.name}-{i}")
                self.items.append(f"{self.name}-{i}")
        else:
            text = doc.get_text("t")
            mine = [p for p, ch in enumerate(str(text)) if ch == self.letter]
            if mine and not self.grows_only and rng.random() < 0.3:
                text.delete(rng.choice(mine), 1)
                self.letters -= 1
            else:
                text.insert(rng.randint(0, len(text)), self.letter)
                self.letters += 1


@dataclass
class Figures:
    """What one scenario did and found."""

    edits: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    converge_seconds: float = 0.0
    messages: int = 0
    messages_after_quiet: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.edits} edits, {self.acknowledged} acknowledged, {self.lost} lost, "
            f"{self.duplicated} duplicated, converged in {self.converge_seconds:.2f} s, "
            f"{self.messages} bus messages, {self.messages_after_quiet} after quiescence"
            + (f" ({'; '.join(self.notes)})" if self.notes else "")
        )


class ChannelCounter:
    """Counts the messages on the change bus's channel, subscribing again after Redis
    restarts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), 5)

    async def _listen(self) -> None:
        while True:
            client = aioredis.from_url(self.url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.count += 1
            except (aioredis.RedisError, OSError):
                await asyncio.sleep(0.1)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Cluster:
    """Two ``synckit serve`` processes on a private PostgreSQL database and a private Redis,
    and the editors (see the module docstring)."""

    def __init__(
        self,
        pg: PrivatePostgres,
        db_url: str,
        redis: PrivateRedis,
        tmp: Path,
        *,
        catch_up_seconds: float,
        compact_every: int = 16,
    ) -> None:
        self.pg = pg
        self.db_url = db_url
        self.redis = redis
        self.tmp = tmp
        config = tmp / "synckit.toml"
        config.write_text(
            f"catch_up_seconds = {catch_up_seconds}\n[limits]\ncompact_every = {compact_every}\n"
        )
        env = {"DATABASE_URL": db_url, "REDIS_URL": redis.url, "SYNCKIT_CONFIG": str(config)}
        self.servers = [
            ServerProcess(tmp / name, free_port(), env=env) for name in ("server-a", "server-b")
        ]
        self.editors: list[Editor] = []
        self.counter = ChannelCounter(redis.url)
        self.figures = Figures()
        self._load: list[asyncio.Task[None]] = []
        self._stop_load = asyncio.Event()

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    async def add_editor(self, prefer: int, *, writes: bool = True, seed: int = 0) -> Editor:
        index = len(self.editors)
        balancer = await Balancer(self.ports, prefer).start()
        client = connect(
            balancer.url,
            client_id=f"e{index}",
            ping_interval=1,
            response_timeout=3,
            backoff_base=0.05,
            backoff_max=0.3,
        )
        await client.__aenter__()
        editor = Editor(
            f"e{index}", LETTERS[index], client, balancer, random.Random(seed * 1000 + index)
        )
        editor.writes = writes
        editor.doc = await client.open(DOC, wait=True, timeout=15)
        self.editors.append(editor)
        return editor

    def start_load(self, rate: float = 25.0) -> None:
        """Every writing editor edits about ``rate`` times a second until :meth:`stop_load`."""
        self._stop_load.clear()
        for editor in self.editors:
            if editor.writes:
                self._load.append(asyncio.get_running_loop().create_task(self._edit(editor, rate)))

    async def _edit(self, editor: Editor, rate: float) -> None:
        while not self._stop_load.is_set():
            editor.edit()
            await asyncio.sleep(editor.rng.uniform(0, 2 / rate))

    async def stop_load(self) -> None:
        self._stop_load.set()
        await asyncio.gather(*self._load)
        self._load.clear()

    async def run_load(self, seconds: float, rate: float = 25.0) -> None:
        self.start_load(rate)
        await asyncio.sleep(seconds)
        await self.stop_load()

    def expected(self) -> dict[str, Any]:
        """What the document must hold: every editor's edits, each once."""
        fields: dict[str, Any] = {}
        for e in self.editors:
            fields.update(e.fields)
        return {
            "fields": fields,
            "n": sum(e.counted for e in self.editors),
            "s": sorted(m for e in self.editors for m in e.members),
            "l": sorted(i for e in self.editors for i in e.items),
            "t": {e.letter: e.letters for e in self.editors if e.letters},
        }

    def _compare(self, view: dict[str, Any]) -> tuple[int, int]:
        """(lost, duplicated) of ``view`` against :meth:`expected`."""
        want = self.expected()
        lost = duplicated = 0
        for key, value in want["fields"].items():
            lost += view.get(key) != value
        counter = view.get("n", 0)
        lost += max(0, want["n"] - counter)
        duplicated += max(0, counter - want["n"])
        members = set(view.get("s", []))
        lost += len(set(want["s"]) - members)
        duplicated += len(members - set(want["s"]))  # removed members back
        items = Counter(view.get("l", []))
        lost += sum(1 for i in want["l"] if i not in items)
        duplicated += sum(n - 1 for n in items.values() if n > 1)
        duplicated += sum(1 for i in items if i not in set(want["l"]))
        letters = Counter(view.get("t", ""))
        for letter, n in want["t"].items():
            lost += max(0, n - letters[letter])
            duplicated += max(0, letters[letter] - n)
        return lost, duplicated

    async def heal_and_check(self, timeout: float = 60.0) -> Figures:
        """Wait until every edit is acknowledged and every replica, both servers' memory (a
        fresh reader on each) and their stored JSON view converge on :meth:`expected`; then
        that no bus message follows once everything is quiet. Returns the figures (and fails
        on any loss, duplicate or divergence)."""
        figures = self.figures
        figures.edits = sum(e.edits for e in self.editors)
        started = time.monotonic()
        for editor in self.editors:
            try:
                await editor.client.wait_synced(timeout=timeout)
            except SyncKitError as exc:
                raise AssertionError(f"{editor.name}: {exc}\n{self.diagnosis()}") from None
        figures.acknowledged = figures.edits
        docs = [e.doc for e in self.editors if e.doc is not None]
        target = docs[0].to_json()

        def converged() -> bool:
            nonlocal target
            target = docs[0].to_json()
            return all(d.to_json() == target for d in docs)

        try:
            await eventually(converged, timeout, "the editors' replicas to converge")
        except AssertionError:
            raise AssertionError(self.diagnosis() + await self._servers_diagnosis()) from None
        finally:
            figures.converge_seconds = time.monotonic() - started
            lost, duplicated = self._compare(docs[0].to_json())
            figures.lost, figures.duplicated = lost, duplicated
        assert (lost, duplicated) == (0, 0), figures.line("lost or duplicated")
        for server in self.servers:
            async with connect(server.url, client_id=f"reader-{server.port}") as reader:
                copy = await reader.open(DOC, wait=True, timeout=15)
                await eventually(
                    lambda c=copy: c.to_json() == target,  # type: ignore[misc]
                    timeout,
                    f"the document in the memory of the server on {server.port}",
                )
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"{server.url}/v1/docs/{DOC}", timeout=15)
            assert answer.status_code == 200, answer.text
            assert answer.json() == target, f"stored view on {server.port} differs"
        figures.converge_seconds = time.monotonic() - started
        quiet_from = self.counter.count
        # (An echo between the servers would show within milliseconds.)
        await asyncio.sleep(1.0)
        figures.messages = self.counter.count
        figures.messages_after_quiet = self.counter.count - quiet_from
        assert figures.messages_after_quiet == 0, figures.line("messages after quiescence")
        assert figures.messages <= figures.edits, figures.line("more bus messages than edits")
        return figures

    def diagnosis(self) -> str:
        """What differs between the replicas, and the servers' logs (for a failure)."""
        lines = []
        views = [e.doc.to_json() if e.doc is not None else {} for e in self.editors]
        for e, view in zip(self.editors, views, strict=True):
            lost, duplicated = self._compare(view)
            differ = sorted(k for k in set(view) | set(views[0]) if view.get(k) != views[0].get(k))
            lines.append(
                f"{e.name} (on {e.balancer.routed[-1:]}, online {e.client.online}): "
                f"{lost} lost, {duplicated} duplicated, differs from e0 in {differ[:8]}"
            )
        for server in self.servers:
            lines.append(f"server {server.port} log:\n" + server.stderr_text[-3000:])
        return "replicas differ:\n" + "\n".join(lines)

    async def _servers_diagnosis(self) -> str:
        """What each server holds in memory (a fresh reader's copy) and in its stored view,
        against :meth:`expected`: whether a replica that lacks edits lacks them because its
        server does (a catch-up missed them) or because they never reached it (a broadcast)."""
        lines = []
        for server in self.servers:
            try:
                async with connect(server.url, client_id=f"diagnosis-{server.port}") as reader:
                    copy = await reader.open(DOC, wait=True, timeout=10)
                    lost, duplicated = self._compare(copy.to_json())
                    version = copy.version()
                lines.append(
                    f"server {server.port} memory: {lost} lost, {duplicated} duplicated, "
                    f"version {version}"
                )
                async with httpx.AsyncClient() as http:
                    answer = await http.get(f"{server.url}/v1/docs/{DOC}", timeout=10)
                lost, duplicated = self._compare(answer.json())
                lines.append(f"server {server.port} stored view: {lost} lost, {duplicated} dup.")
            except Exception as exc:  # a diagnosis: say what failed, go on
                lines.append(f"server {server.port}: cannot read ({type(exc).__name__}: {exc})")
        for e in self.editors:
            if e.doc is not None:
                lines.append(f"{e.name} version {e.doc.version()}")
        return "\n" + "\n".join(lines)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop_load()
        for editor in self.editors:
            with contextlib.suppress(Exception):
                await editor.client.__aexit__(None, None, None)
            await editor.balancer.aclose()
        await self.counter.aclose()
        for server in self.servers:
            server.terminate()


async def create_database(pg: PrivatePostgres) -> str:
    """A fresh database on the private server; its URL."""
    name = f"chaos_{random.randrange(1 << 30)}"
    conn = await asyncpg.connect(pg.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.asynccontextmanager
async def cluster(
    pg: PrivatePostgres,
    tmp: Path,
    *,
    catch_up_seconds: float = 30.0,
    compact_every: int = 16,
) -> AsyncIterator[Cluster]:
    """A started :class:`Cluster` on a fresh database of ``pg`` and a redis-server of its own."""
    redis = PrivateRedis().start()
    db_url = await create_database(pg)
    c = Cluster(
        pg, db_url, redis, tmp, catch_up_seconds=catch_up_seconds, compact_every=compact_every
    )
    try:
        for server in c.servers:
            await asyncio.to_thread(server.start)
        await c.counter.start()
        yield c
    finally:
        await c.aclose()
        redis.kill()


async def in_thread(call: Callable[[], object]) -> None:
    """Run a blocking fault (a process kill or restart) off the event loop."""
    await asyncio.to_thread(call)


async def during(load: Awaitable[None], after: float, fault: Callable[[], Awaitable[None]]) -> None:
    """Run ``fault`` ``after`` seconds into ``load``."""

    async def later() -> None:
        await asyncio.sleep(after)
        await fault()

    await asyncio.gather(load, later())
