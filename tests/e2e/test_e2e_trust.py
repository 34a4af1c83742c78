"""End to end, real server on loopback: tokens that expire and renew, access that changes
while clients are connected, edits refused and kept, waiting for the server's state."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import httpx
import jwt
import pytest
from live import eventually

from synckit.client import connect
from synckit.errors import PermissionDeniedError, SyncTimeoutError, TokenExpiredError
from synckit.protocol import Error, ErrorCode
from synckit.server import JwtVerifier, Limits, Principal, create_app, parse_grants, running

SECRET = "t" * 64


def short_lived(client_id: str, token: str) -> Principal:
    """Tokens ``NAME@EXPIRES``: write access to everything until Unix time EXPIRES."""
    name, _, expires = token.partition("@")
    if float(expires) < time.time():
        from synckit.errors import TokenExpiredError as Expired

        raise Expired("authentication failed: the token expired")
    return Principal(name, parse_grants({"*": "write"}), float(expires))


def mint(sub: str, docs: dict[str, str], *, admin: bool = False, ttl: float = 600) -> str:
    section: dict[str, object] = {"docs": docs}
    if admin:
        section["admin"] = True
    return jwt.encode(
        {"sub": sub, "exp": int(time.time() + ttl), "synckit": section}, SECRET, "HS256"
    )


@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_a_token_callable_keeps_a_client_syncing_across_expiries(
    tmp_path: Path, transport: Literal["websocket", "http"]
) -> None:
    asked = itertools.count(1)

    async def token() -> str:
        next(asked)
        return f"alice@{time.time() + 3}"

    app = create_app(tmp_path / "srv", authenticate=short_lived)
    async with running(app) as url:
        async with connect(
            url, token=token, transport=transport, ping_interval=1, poll_interval=0.2
        ) as client:
            doc = await client.open("d")
            for _ in range(12):  # about 6 s: the token expires twice over
                doc.get_counter("n").increment(1)
                await asyncio.sleep(0.5)
            await client.wait_synced(timeout=10)
            if transport == "websocket":
                assert client.connections == 1  # renewed on the open connection
        assert next(asked) > 3
        async with httpx.AsyncClient() as http:
            view = await http.get(f"{url}/v1/docs/d", headers={"authorization": "Bearer x@9e99"})
        assert view.json() == {"n": 12}  # every edit made while renewing was kept


async def test_an_expired_static_token_is_a_refusal_for_good(tmp_path: Path) -> None:
    app = create_app(tmp_path / "srv", authenticate=short_lived)
    async with running(app) as url, connect(url, token=f"alice@{time.time() - 1}") as client:
        (await client.open("d")).set("k", 1)
        with pytest.raises(TokenExpiredError):
            await client.wait_synced(timeout=10)


@pytest.fixture
async def jwt_server(tmp_path: Path) -> AsyncIterator[str]:
    app = create_app(tmp_path / "srv", authenticate=JwtVerifier.from_secret(SECRET))
    async with running(app) as url:
        yield url


async def set_access(url: str, principal: str, docs: dict[str, str] | None) -> None:
    headers = {"authorization": f"Bearer {mint('root', {}, admin=True)}"}
    async with httpx.AsyncClient() as http:
        if docs is None:
            answer = await http.delete(f"{url}/v1/admin/access/{principal}", headers=headers)
        else:
            answer = await http.put(
                f"{url}/v1/admin/access/{principal}", json={"docs": docs}, headers=headers
            )
    assert answer.status_code == 200, answer.text


async def test_revoking_write_access_reaches_an_open_connection_at_once(jwt_server: str) -> None:
    url = jwt_server
    seen: list[tuple[str, Error, float]] = []
    async with (
        connect(url, token=mint("bob", {"d": "write"}), client_id="bob") as bob,
        connect(url, token=mint("alice", {"d": "write"}), client_id="alice") as alice,
    ):
        bob.on_rejected(lambda doc_id, error: seen.append((doc_id, error, time.monotonic())))
        bob_doc, alice_doc = await bob.open("d", wait=True), await alice.open("d", wait=True)
        bob_doc.set("bob", 1)
        await bob.wait_synced(timeout=10)
        started = time.monotonic()
        await set_access(url, "bob", {"d": "read"})
        await eventually(lambda: bool(seen), timeout=5, what="PERMISSION_CHANGED")
        doc_id, changed, when = seen[0]
        assert doc_id == "d" and changed.code is ErrorCode.PERMISSION_CHANGED
        assert "from write to read" in changed.message
        assert when - started < 1.0  # within a second, without a reconnect
        bob_doc.set("bob", 2)  # refused now, and kept
        with pytest.raises(PermissionDeniedError, match="may not write"):
            await bob.wait_synced(timeout=10)
        rejected = bob.rejected("d")
        assert rejected is not None and rejected.code is ErrorCode.PERMISSION_DENIED
        assert bob_doc.get("bob") == 2
        alice_doc.set("alice", 1)  # the honest client is unaffected
        await alice.wait_synced(timeout=10)
        await eventually(lambda: bob_doc.get("alice") == 1, what="bob still reads")
        assert alice_doc.get("bob") == 1  # bob's refused edit reached nobody
        assert bob.connections == 1
        # Write access back: the kept edit goes out by itself.
        await set_access(url, "bob", None)
        await bob.wait_synced(timeout=10)
        assert bob.rejected("d") is None
        await eventually(lambda: alice_doc.get("bob") == 2, what="bob's edit arrives")


async def test_revoking_read_access_ends_the_subscription(jwt_server: str) -> None:
    url = jwt_server
    seen: list[Error] = []
    async with connect(url, token=mint("carol", {"*": "write"}), client_id="carol") as carol:
        carol.on_rejected(lambda doc_id, error: seen.append(error))
        await carol.open("d", wait=True)
        await set_access(url, "carol", {"other": "write"})
        await eventually(lambda: len(seen) >= 2, what="changed, then refused")
        assert [e.code for e in seen[:2]] == [
            ErrorCode.PERMISSION_CHANGED,
            ErrorCode.PERMISSION_DENIED,
        ]
        assert "may not read" in seen[1].message


async def test_the_admin_endpoint_needs_an_administrator(jwt_server: str) -> None:
    async with httpx.AsyncClient() as http:
        plain = {"authorization": f"Bearer {mint('eve', {'*': 'admin'})}"}
        answer = await http.put(
            f"{jwt_server}/v1/admin/access/bob", json={"docs": {}}, headers=plain
        )
        assert answer.status_code == 403 and "not an administrator" in answer.text
        answer = await http.put(f"{jwt_server}/v1/admin/access/bob", json={"docs": {}})
        assert answer.status_code == 401


async def test_open_with_wait_returns_the_servers_state(jwt_server: str) -> None:
    token = mint("dan", {"*": "write"})
    async with connect(jwt_server, token=token, client_id="w") as writer:
        (await writer.open("d")).set("title", "from the server")
        await writer.wait_synced(timeout=10)
    async with connect(jwt_server, token=token, client_id="r") as reader:
        doc = await reader.open("d", wait=True, timeout=10)
        assert doc.to_json() == {"title": "from the server"}
    async with connect(jwt_server, token=mint("eve", {"x": "read"}), client_id="e") as eve:
        with pytest.raises(PermissionDeniedError, match="may not read"):
            await eve.open("d", wait=True, timeout=10)
    async with connect("http://127.0.0.1:1", client_id="z") as offline:
        with pytest.raises(SyncTimeoutError, match="no answer"):
            await offline.open("d", wait=True, timeout=0.5)


@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_a_client_id_of_another_principal_is_a_refusal_for_good(
    jwt_server: str, transport: Literal["websocket", "http"], tmp_path: Path
) -> None:
    # Two users sharing one client store: the second cannot write under the first's id, and
    # is told so once instead of reconnecting for ever.
    url = jwt_server
    store = tmp_path / "shared.db"
    async with connect(
        url, store=store, token=mint("erin", {"*": "write"}), client_id="shared-1"
    ) as erin:
        (await erin.open("d")).set("erin", 1)
        await erin.wait_synced(timeout=10)
    async with connect(
        url,
        store=store,
        token=mint("frank", {"*": "write"}),
        client_id="shared-1",
        transport=transport,
        poll_interval=0.2,
    ) as frank:
        (await frank.open("d")).set("frank", 1)
        with pytest.raises(PermissionDeniedError, match="NOT_AUTHOR"):
            await frank.wait_synced(timeout=10)
        connections = frank.connections
        await asyncio.sleep(0.5)
        assert frank.connections == connections  # no reconnecting


async def test_reconnect_now_keeps_a_wait_the_server_asked_for(tmp_path: Path) -> None:
    """A connection refused with ``retry_after_ms`` (too many connections: 5 s) is not tried
    again sooner because the app called ``reconnect_now()``."""
    app = create_app(
        tmp_path / "srv",
        authenticate=JwtVerifier.from_secret(SECRET),
        limits=Limits(max_connections_per_principal=1),
    )
    token = mint("alice", {"*": "write"})
    async with running(app) as url:
        first = connect(url, token=token, client_id="first")
        await first.__aenter__()
        await first.open("d")
        await eventually(lambda: first.online, 10, "the first connection")
        async with connect(url, token=token, client_id="second", backoff_max=0.2) as second:
            await second.open("d")
            await eventually(
                lambda: (
                    second.engine.last_error is not None
                    and second.engine.last_error.code is ErrorCode.TOO_MANY
                ),
                10,
                "the second connection refused",
            )
            refused = time.monotonic()
            await first.__aexit__(None, None, None)  # the limit is free again
            while time.monotonic() - refused < 2.0:
                second.reconnect_now()
                await asyncio.sleep(0.05)
            assert not second.online, "reconnect_now() cut the wait the server asked for"
            await eventually(lambda: second.online, 10, "the second connection after its wait")
            assert time.monotonic() - refused >= 4.0
