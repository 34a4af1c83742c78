"""A simulated power loss under a real ``synckit serve`` on SQLite, without pulling a plug.

The server runs with ``fsync_shadow.c`` preloaded (``LD_PRELOAD``, built here with gcc): at
every fsync/fdatasync of a file in its data directory the shim copies that file, as it is
then, to a shadow directory. The shadow therefore holds what a disk that keeps nothing
unsynced would hold after a power loss. Writers push over real WebSockets and record every
Ack; the server is killed with SIGKILL mid-stream, its database and WAL replaced by the
shadow copies (the shared-memory index removed: it is rebuilt from the WAL), and a new server
opened on them must hold every acknowledged change.

With the default ``--durability full`` the server fsyncs the WAL after each commit (on a worker
thread, ``WalSync``), before it acknowledges: nothing acknowledged is lost. With ``--durability
process`` (``synchronous=NORMAL``) the WAL is fsynced only at checkpoints (SQLite's automatic
one at 1,000 pages), so the acknowledged commits since the last checkpoint are lost: the
test requires that loss, which shows that the harness can see one.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from live import ServerProcess, free_port
from websockets.asyncio.client import connect as ws_connect

from synckit.client import sync_url
from synckit.core import Document
from synckit.protocol import Ack, ClientSession, Hello, Push, Subscribe, Subscribed, Welcome

SHIM_SOURCE = Path(__file__).with_name("fsync_shadow.c")
DB = "synckit.db"
DOC = "ledger"
#: Each push's value: 2,000 pushes then write over 4 MB (1,000 pages) of WAL however many
#: pushes each commit groups, so SQLite's automatic checkpoint runs at least once.
PAD = "x" * 2500


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build the fsync recorder")
    out = tmp_path_factory.mktemp("shim") / "fsync_shadow.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM_SOURCE), "-ldl"],
        check=True,
        capture_output=True,
    )
    return out


@dataclass
class Writer:
    """One client pushing a new key per batch, at most ``window`` unacknowledged."""

    name: str
    acked: set[str] = field(default_factory=set)
    window: int = 8

    async def run(self, url: str, stop: asyncio.Event) -> None:
        doc = Document(self.name)
        session = ClientSession()
        keys: dict[int, str] = {}
        room = asyncio.Semaphore(self.window)
        async with ws_connect(sync_url(url), compression=None, max_size=None) as ws:

            async def send(event: object) -> None:
                session.send(event)  # type: ignore[arg-type]
                for frame in session.data_to_send():
                    await ws.send(frame)

            async def read() -> None:
                try:
                    async for frame in ws:
                        assert isinstance(frame, bytes)
                        for event in session.receive(frame):
                            if isinstance(event, Ack):
                                self.acked.add(keys.pop(event.batch_id))
                                room.release()
                            elif isinstance(event, Welcome):
                                welcomed.set()
                            elif isinstance(event, Subscribed):
                                subscribed.set()
                        for out in session.data_to_send():
                            await ws.send(out)
                finally:  # the server is gone: stop pushing
                    stop.set()
                    room.release()

            welcomed, subscribed = asyncio.Event(), asyncio.Event()
            reader = asyncio.create_task(read())
            try:
                await send(Hello(self.name))
                await welcomed.wait()
                await send(Subscribe(DOC, doc.version().encode()))
                await subscribed.wait()
                batch = 0
                while not stop.is_set():
                    await room.acquire()
                    batch += 1
                    key = f"{self.name}-{batch}"
                    held = doc.version()
                    doc.set(key, PAD)
                    keys[batch] = key
                    await send(Push(DOC, batch, doc.changes(held)))
                await reader
            finally:
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader


async def acked_then_power_loss(
    data: Path, shadow: Path, shim: Path, durability: str, target: int
) -> set[str]:
    """Run writers against a recorded server until ``target`` pushes are acknowledged,
    SIGKILL it while they still push, and put the shadow copies in place of its files.
    Returns the acknowledged keys (as seen by the writers before the kill)."""
    server = ServerProcess(
        data,
        free_port(),
        ["--durability", durability],
        env={
            "LD_PRELOAD": str(shim),
            "SHADOW_WATCH": str(data.resolve()),
            "SHADOW_DIR": str(shadow),
        },
    ).start()
    assert f"durability {durability}" in server.banner
    writers = [Writer(f"w{i}") for i in range(4)]
    stop = asyncio.Event()
    try:
        tasks = [asyncio.create_task(w.run(server.url, stop)) for w in writers]
        deadline = asyncio.get_running_loop().time() + 30
        while sum(len(w.acked) for w in writers) < target:
            assert asyncio.get_running_loop().time() < deadline, "writers too slow"
            assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
            await asyncio.sleep(0.005)
        # The power goes while pushes are in flight: whatever was acknowledged until now
        # must survive. (An Ack arriving after this line is not counted.)
        acked = set().union(*(w.acked for w in writers))
        server.kill()
    finally:
        stop.set()
        server.terminate()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Power back on: each file as of its last fsync; the shared-memory index does not survive.
    for name in (DB, f"{DB}-wal"):
        (data / name).unlink(missing_ok=True)
        if (shadow / name).exists():
            shutil.copyfile(shadow / name, data / name)
    (data / f"{DB}-shm").unlink(missing_ok=True)
    return acked


def stored_keys(data: Path) -> set[str]:
    server = ServerProcess(data, free_port()).start()
    try:
        answer = httpx.get(f"{server.url}/v1/docs/{DOC}", timeout=10)
    finally:
        server.terminate()
    if answer.status_code == 404:
        return set()
    answer.raise_for_status()
    return set(answer.json())


async def test_default_durability_keeps_every_ack_through_a_power_loss(
    tmp_path: Path, shim: Path
) -> None:
    (shadow := tmp_path / "shadow").mkdir()
    # 2,000 acknowledged pushes write more than 1,000 WAL pages (see PAD): a checkpoint (the
    # database file written and fsynced, the WAL restarted) happens on the way.
    acked = await acked_then_power_loss(tmp_path / "data", shadow, shim, "full", 2000)
    assert len(acked) >= 2000
    assert (shadow / f"{DB}-wal").exists()
    # The checkpoint happened: pages reached the database file (fsynced) beyond its header.
    assert (shadow / DB).stat().st_size > 16 * 4096
    missing = acked - stored_keys(tmp_path / "data")
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged pushes lost"


async def test_process_durability_loses_acks_in_a_power_loss(tmp_path: Path, shim: Path) -> None:
    (shadow := tmp_path / "shadow").mkdir()
    # Under 1,000 WAL pages (200 x 2,500 bytes): no checkpoint, so no fsync of the WAL.
    acked = await acked_then_power_loss(tmp_path / "data", shadow, shim, "process", 200)
    kept = stored_keys(tmp_path / "data")
    missing = acked - kept
    assert len(acked) >= 200
    # Every acknowledged push since the database was created is gone, and nothing is corrupt
    # (the server opened the files and answered).
    assert missing == acked, f"only {len(missing)} of {len(acked)} acknowledged pushes lost"
