"""End to end, real server on loopback: tokens and handshakes too large to be honest.

PyJWT reads a token character by character in Python before it checks the signature: a
made-up token of 8 MB held the event loop 0.5 s, sent by someone with no token at all, and
an honest writer beside ten such Hellos got a p99 of 560 ms (``benchmarks/bench_floods.py
--only token``). Now a token longer than ``Limits.max_token_length`` is refused before the
``authenticate`` hook sees it, and a WebSocket message larger than
``Limits.hello_frame_bytes`` before its Hello is accepted closes the connection unread.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from live import ServerProcess, beside_an_attacker, free_port
from websockets.exceptions import ConnectionClosed

from synckit.client import connect
from synckit.errors import ProtocolError
from synckit.server import JwtVerifier, Limits, Principal, create_app, running
from synckit.testing import RawConnection, percentile

SECRET = "s" * 64


def mint(sub: str, *, padding: int = 0) -> str:
    """A valid token for ``sub`` with write access to everything, ``padding`` characters of
    claims longer than it needs."""
    claims: dict[str, object] = {
        "sub": sub,
        "exp": int(time.time()) + 600,
        "synckit": {"docs": {"*": "write"}},
    }
    if padding:
        claims["pad"] = "p" * padding
    return jwt.encode(claims, SECRET, "HS256")


class CountingVerifier:
    """The JWT verifier, counting the tokens it was given."""

    def __init__(self) -> None:
        self.verify = JwtVerifier.from_secret(SECRET)
        self.seen: list[int] = []

    def __call__(self, client_id: str, token: str) -> Principal:
        self.seen.append(len(token))
        return self.verify(client_id, token)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, CountingVerifier]]:
    verifier = CountingVerifier()
    app = create_app(tmp_path / "srv", authenticate=verifier)
    async with running(app) as url:
        yield url, verifier


def test_the_limits_of_a_handshake() -> None:
    limits = Limits()
    assert limits.max_token_length == 16 * 1024
    assert limits.hello_frame_bytes == 4 * 16 * 1024 + 64 * 1024
    assert Limits(max_token_length=1 << 20).hello_frame_bytes == 4 * (1 << 20) + 64 * 1024
    with pytest.raises(ValueError, match="max_token_length"):
        Limits(max_token_length=0)


async def test_a_token_over_the_limit_is_refused_unread(
    served: tuple[str, CountingVerifier],
) -> None:
    url, verifier = served
    long_token = mint("alice", padding=20_000)
    assert len(long_token) > Limits().max_token_length
    with pytest.raises(ProtocolError, match=r"characters long, more than the limit of 16384"):
        await RawConnection.open(url, "alice-1", token=long_token)
    async with httpx.AsyncClient() as http:
        view = await http.get(f"{url}/v1/docs/d", headers={"authorization": f"Bearer {long_token}"})
    assert view.status_code == 401
    assert "max_token_length" in view.json()["message"]
    assert verifier.seen == []  # neither reached the verifier
    # A token within the limit, as long as it may be, is read and accepted.
    fits = mint("alice", padding=10_000)
    assert len(fits) <= Limits().max_token_length
    raw = await RawConnection.open(url, "alice-2", token=fits)
    await raw.ws.close()
    assert verifier.seen == [len(fits)]


async def test_a_hello_over_the_handshake_limit_closes_the_connection_unread(
    served: tuple[str, CountingVerifier],
) -> None:
    url, verifier = served
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        await RawConnection.open(url, "forger", token="x" * 8_000_000)
    took = time.monotonic() - started
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert "exceeds limit of 131072 bytes" in closed.value.rcvd.reason
    assert verifier.seen == []
    print(f"\nan 8 MB Hello refused in {took * 1000:.0f} ms")
    # The server serves on, and once a Hello is accepted the frame limit is the full one
    # again: a push far larger than a Hello may be is acknowledged.
    async with connect(url, token=mint("bob"), client_id="bob") as client:
        doc = await client.open("d")
        doc.set("big", "b" * 1_000_000)
        await client.wait_synced(timeout=30)
    async with connect(url, token=mint("bob"), client_id="bob-2") as client:
        doc = await client.open("d", wait=True)
        assert doc.get("big") == "b" * 1_000_000


async def test_an_open_server_limits_the_hello_too(tmp_path: Path) -> None:
    """With no authenticate hook a token is never read, but the first frame is still
    bounded: nobody makes the server read and parse 8 MB to be told nothing."""
    async with running(create_app(tmp_path / "srv")) as url:
        with pytest.raises(ConnectionClosed) as closed:
            await RawConnection.open(url, "forger", token="x" * 8_000_000)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        raw = await RawConnection.open(url, "honest", token="t" * 20_000)  # never read
        await raw.ws.close()


async def test_a_flood_of_made_up_tokens_costs_everyone_else_little(tmp_path: Path) -> None:
    """Someone with no token opening WebSocket after WebSocket with an 8 MB made-up token in
    each Hello, beside a writer with a token. Before: ten Hellos in 7 s, each holding the
    loop 0.5 s; the writer's p99 was 560 ms."""
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(SECRET)
    server = ServerProcess(
        tmp_path / "data", free_port(), ["--jwt-secret-file", str(secret_file)]
    ).start()
    try:
        counts, times = await beside_an_attacker(server.url, "token", 4.0, token=mint("honest"))
    finally:
        server.terminate()
    print(f"\ntoken flood: {counts}; honest acks {len(times)}, p99 {percentile(times):.3f} s")
    assert counts["hellos"] >= 20 and counts["welcomed"] == 0
    assert len(times) >= 30 and percentile(times) < 0.25, (len(times), percentile(times))
