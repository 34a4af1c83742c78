"""Does one client's flood of cheap requests hold everyone else? An honest writer's
edit-to-acknowledgement times beside an attacker, scenario by scenario.

Each scenario starts ``synckit serve`` (SQLite, no authentication, on loopback) in a process
of its own, an attacker in another process (this script with ``--attack``), and measures in
this process an SDK client that sets one field, waits until it is acknowledged, sleeps 10 ms,
and again, for ``--seconds``. Scenarios (``--only``):

- ``none``: no attacker (the baseline of the same run);
- ``ping``: one WebSocket connection sending the protocol's Ping as fast as it can, reading
  what comes back (what ``Limits.read_share`` bounds);
- ``control``: the same with WebSocket ping control frames;
- ``http``: 8 kept-alive HTTP connections (httpx) asking for a document's JSON view;
- ``fanout``: 300 bare readers subscribed to a document one SDK client sets a field of every
  millisecond (the broadcasts' cost);
- ``token``: a server that checks JWTs (``--jwt-secret-file``; the honest writer has a
  token), and someone without one opening WebSocket after WebSocket, each saying Hello with a
  made-up token of ``TOKEN_CHARS`` characters (all of the base64url alphabet, so that the
  token is read to its end before its signature fails).

Run: ``PYTHONPATH=src python benchmarks/bench_floods.py [--only ping ...] [--seconds S]``.
``--attack KIND URL SECONDS`` runs one attacker alone (``ping``, ``control``, ``http``,
``fanout`` or ``token``): it prints ``ready``, then its figures as one JSON line
(``tests/e2e`` uses it).
``--src DIR`` runs the server from another source tree (a before / after comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = ("none", "ping", "control", "http", "fanout", "token")
READERS = 300
# The ``token`` scenario's server secret, and the size of the attacker's made-up tokens (a
# Hello of them fits the default frame limit of 8 MiB).
SECRET = "bench-floods-secret-of-at-least-32-bytes"
TOKEN_CHARS = 8_000_000


def start_server(src: Path, secret: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """``synckit serve`` on a free port with fresh data (checking JWTs signed with
    ``secret`` when given); its process and base URL."""
    env = dict(os.environ, PYTHONPATH=str(src))
    data = tempfile.mkdtemp(prefix="bench-floods-")
    auth: list[str] = []
    if secret is not None:
        secret_file = Path(data) / "jwt-secret"
        secret_file.write_text(secret)
        auth = ["--jwt-secret-file", str(secret_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "synckit.cli", "serve", "--port", "0", "--data", data, *auth],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    found = re.search(r"listening on (http://\S+)", proc.stdout.readline())
    if found is None:
        proc.kill()
        raise RuntimeError("synckit serve did not start")
    return proc, found.group(1)


# -- the attacker's side (a process of its own) ----------------------------------------------


async def flood_frames(url: str, seconds: float, kind: str) -> dict[str, int]:
    from synckit.protocol import Ping
    from synckit.testing import RawConnection

    raw = await RawConnection.open(url, f"flooder-{kind}")
    counts = {"sent": 0, "received": 0, "dropped": 0}

    async def read() -> None:
        while True:
            await raw.ws.recv()
            counts["received"] += 1

    reader = asyncio.create_task(read())
    loop = asyncio.get_running_loop()
    end, nonce = loop.time() + seconds, 0
    while loop.time() < end and not reader.done():
        if kind == "ping":
            for _ in range(200):
                nonce += 1
                raw.session.send(Ping(nonce))
            for frame in raw.session.data_to_send():
                await raw.ws.send(frame)
        else:
            for _ in range(200):
                await raw.ws.ping()  # (sent; its pong is not waited for)
        counts["sent"] += 200
        await asyncio.sleep(0)
    counts["dropped"] = int(reader.done())  # (the reader ends only when the connection does)
    reader.cancel()
    return counts


async def flood_http(url: str, seconds: float) -> dict[str, int]:
    import httpx

    counts = {"requests": 0}
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def one() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await http.get(f"{url}/v1/docs/honest")
                counts["requests"] += 1

        await asyncio.gather(*(one() for _ in range(8)))
    return counts


async def fan_out(url: str, seconds: float) -> dict[str, int]:
    from synckit.client import connect
    from synckit.testing import RawConnection

    raws = []
    for start in range(0, READERS, 50):
        names = [f"reader-{i}" for i in range(start, min(READERS, start + 50))]
        raws += await asyncio.gather(*(RawConnection.open(url, n) for n in names))
    for raw in raws:
        await raw.subscribe("hot")
    counts = {"edits": 0, "frames_to_readers": 0}

    async def drain(raw: RawConnection) -> None:
        while True:
            await raw.ws.recv()
            counts["frames_to_readers"] += 1

    drains = [asyncio.create_task(drain(raw)) for raw in raws]
    print("ready", flush=True)
    async with connect(url, client_id="pusher") as client:
        doc = await client.open("hot")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            counts["edits"] += 1
            doc.set("k", counts["edits"])
            await asyncio.sleep(0.001)
        await client.wait_synced(timeout=30)
    for task in drains:
        task.cancel()
    return counts


def made_up_token(chars: int) -> str:
    """A JWT-shaped token of about ``chars`` characters with a signature that fails."""
    import base64

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    padding = "a" * (chars * 3 // 4)
    payload = b64(json.dumps({"sub": "forger", "exp": 2**40, "pad": padding}).encode())
    return f"{header}.{payload}.{b64(bytes(32))}"


async def forge_tokens(url: str, seconds: float) -> dict[str, int]:
    from websockets.exceptions import ConnectionClosed

    from synckit.errors import ProtocolError
    from synckit.testing import RawConnection

    token = made_up_token(TOKEN_CHARS)
    counts = {"hellos": 0, "welcomed": 0}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        counts["hellos"] += 1
        try:
            raw = await RawConnection.open(url, f"forger-{counts['hellos']}", token=token)
        except (ProtocolError, ConnectionClosed, OSError):
            continue  # refused (an error, or the connection closed), as it should be
        counts["welcomed"] += 1
        await raw.ws.close()
    return counts


def honest_token(secret: str) -> str:
    """A token for the honest writer: write access to every document, valid for a day."""
    import jwt

    claims = {
        "sub": "honest",
        "exp": int(time.time()) + 86_400,
        "synckit": {"docs": {"*": "write"}},
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def attack(url: str, seconds: float, kind: str) -> dict[str, int]:
    if kind in ("ping", "control"):
        print("ready", flush=True)
        return await flood_frames(url, seconds, kind)
    if kind == "http":
        print("ready", flush=True)
        return await flood_http(url, seconds)
    if kind == "token":
        print("ready", flush=True)
        return await forge_tokens(url, seconds)
    return await fan_out(url, seconds)


# -- the honest side ---------------------------------------------------------------------------


async def honest(url: str, seconds: float, token: str = "") -> list[float]:
    from synckit.client import connect

    times: list[float] = []
    async with connect(url, client_id="honest", token=token) as client:
        doc = await client.open("honest")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            doc.set("k", len(times))
            await client.wait_synced(timeout=60)
            times.append(time.monotonic() - started)
            await asyncio.sleep(0.01)
    return times


def scenario(kind: str, seconds: float, src: Path) -> dict[str, object]:
    from synckit.testing import percentile

    secret = SECRET if kind == "token" else None
    proc, url = start_server(src, secret)
    attacker: subprocess.Popen[str] | None = None
    try:
        if kind != "none":
            attacker = subprocess.Popen(
                [sys.executable, __file__, "--attack", kind, url, str(seconds + 1.0)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert attacker.stdout is not None
            attacker.stdout.readline()  # "ready"
            time.sleep(0.5)
        token = honest_token(secret) if secret is not None else ""
        times = asyncio.run(honest(url, seconds, token))
        figures: dict[str, object] = {}
        if attacker is not None:
            out, _ = attacker.communicate(timeout=120)
            figures = json.loads(out.strip().splitlines()[-1])
    finally:
        if attacker is not None and attacker.poll() is None:
            attacker.kill()
        proc.terminate()
        proc.wait(10)
    return {
        "acks": len(times),
        "p50_ms": percentile(times, 0.5) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
        "max_ms": max(times, default=0.0) * 1000,
        "attacker": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument(
        "--attack",
        nargs=3,
        metavar=("KIND", "URL", "SECONDS"),
        help="run one attacker against URL for SECONDS (see the module's doc)",
    )
    args = parser.parse_args()
    if args.attack:
        kind, url, seconds = args.attack
        print(json.dumps(asyncio.run(attack(url, float(seconds), kind))), flush=True)
        return
    print(f"| scenario | honest acks in {args.seconds:g} s | p50 ms | p99 ms | max ms | attacker |")
    print("|---|---:|---:|---:|---:|---|")
    for kind in args.only:
        row = scenario(kind, args.seconds, args.src)
        print(
            f"| {kind} | {row['acks']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['max_ms']:.0f} | {json.dumps(row['attacker'])} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
