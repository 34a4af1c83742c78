"""The namespaces of the network chaos tests (:mod:`netns`) and the fault proxy's latency
(:class:`chaos.Balancer`): rules set and cleared, a partition that really cuts, stale
namespaces of dead runs removed, bytes held back still arriving in order."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest
from chaos import Balancer
from netns import NFT, TABLE, Netns, available, remove_stale

_missing = available()
needs_netns = pytest.mark.skipif(_missing is not None, reason=_missing or "")

REACH = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)"


def _reaches(ns: Netns, port: int) -> bool:
    argv = ns.command(sys.executable, "-c", REACH, ns.host_ip, str(port))
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0


def _rules(ns: Netns) -> str:
    argv = ns.command(NFT, "list", "table", "inet", TABLE)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


@needs_netns
def test_loss_partition_and_heal() -> None:
    ns = Netns(90)
    listener = socket.socket()
    try:
        ns.create()
        listener.bind((ns.host_ip, 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        assert _reaches(ns, port)
        ns.set_loss(25)
        assert "numgen random mod 100 < 25 drop" in _rules(ns)
        ns.cut()
        assert "numgen" not in _rules(ns)
        assert not _reaches(ns, port)
        ns.heal()
        assert "drop" not in _rules(ns)
        assert _reaches(ns, port)
    finally:
        listener.close()
        ns.destroy()


@needs_netns
def test_a_dead_runs_namespace_is_removed() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = Netns(0, pid=int(gone.stdout))
    mine = Netns(91)
    try:
        stale.create()
        mine.create()
        removed = remove_stale()
        assert stale.name in removed
        assert mine.name not in removed
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
        assert stale.name not in listed.stdout
        assert mine.name in listed.stdout
    finally:
        stale.destroy()
        mine.destroy()


async def test_latency_keeps_the_bytes_in_order() -> None:
    received: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            received.append(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    balancer = await Balancer([server.sockets[0].getsockname()[1]], 0).start()
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
        sent = []
        for i in range(30):
            balancer.delay = 0.05 if i % 3 else 0.0  # delay on and off mid-stream
            chunk = f"<{i}>".encode()
            sent.append(chunk)
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.005)
        for _ in range(300):
            if b"".join(received) == b"".join(sent):
                break
            await asyncio.sleep(0.01)
        assert b"".join(received) == b"".join(sent)
        writer.close()
    finally:
        await balancer.aclose()
        server.close()
