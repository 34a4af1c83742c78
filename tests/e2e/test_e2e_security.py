"""The security suite: attacks on a real ``synckit serve`` process on loopback.

Every case checks three things: the attack is refused with its own error code; nothing the
server stores changed (its JSON view and its version vector, read by an auditor); and two
honest clients on the same document, through the same server, sync before and after the
attack on their first connection, with nothing of theirs refused.

Three server processes serve the module: HS256 with a secret in the environment, RS256 with a
PEM public key, ES256 with a JWKS file; each requires an audience and an issuer.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from _attack import (
    AUDIENCE,
    ISSUER,
    Served,
    by_hand,
    changes_by,
    claims,
    ec_pair,
    honest_pair,
    http_attempt,
    json_view,
    rsa_pair,
    ws_attempt,
)
from live import ServerProcess, eventually, free_port, server_environment

from synckit import Document
from synckit.client import connect
from synckit.errors import PermissionDeniedError, TokenExpiredError
from synckit.protocol import Error, ErrorCode

SECRET = "security-suite-" + "k" * 49
RSA = rsa_pair()
EC = ec_pair()
EC_KID = "ec-1"
REQUIRED = ["--jwt-audience", AUDIENCE, "--jwt-issuer", ISSUER]


def _start(data: Path, args: list[str], env: dict[str, str], issue: Callable[..., str]) -> Served:
    return Served(ServerProcess(data, free_port(), args, env).start(), issue)


@pytest.fixture(scope="module")
def hs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """HS256: the secret comes from SYNCKIT_JWT_SECRET."""
    data = tmp_path_factory.mktemp("hs") / "data"
    served = _start(
        data,
        REQUIRED,
        {"SYNCKIT_JWT_SECRET": SECRET},
        lambda c: jwt.encode(c, SECRET, algorithm="HS256"),
    )
    yield served
    served.stop()


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """RS256: one PEM public key by flag."""
    root = tmp_path_factory.mktemp("rs")
    (root / "public.pem").write_bytes(RSA.public_pem)
    args = ["--jwt-public-key", str(root / "public.pem"), *REQUIRED]
    served = _start(root / "data", args, {}, RSA.sign)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def jwks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """ES256: a JWKS file holding one EC key, ``kid`` ec-1."""
    root = tmp_path_factory.mktemp("jwks")
    (root / "jwks.json").write_text(json.dumps({"keys": [EC.jwk(EC_KID)]}))
    args = ["--jwks", str(root / "jwks.json"), "--jwt-algorithms", "ES256", *REQUIRED]
    served = _start(root / "data", args, {}, lambda c: EC.sign(c, kid=EC_KID))
    yield served
    served.stop()


# -- tokens that must not get in ------------------------------------------------------------

# What every forged token claims: everything (so that only the token check stands in the way).
MIGHTY = claims("forger", {"*": "admin"}, admin=True)
NOW = int(time.time())


@dataclass(frozen=True)
class BadToken:
    server: str
    make: Callable[[], str]
    code: ErrorCode
    reason: str


BAD_TOKENS = {
    "forged-signature-hs256": BadToken(
        "hs",
        lambda: jwt.encode(MIGHTY, "x" * 64, algorithm="HS256"),
        ErrorCode.AUTH_FAILED,
        "bad signature",
    ),
    "forged-signature-rs256": BadToken(
        "rs", lambda: rsa_pair().sign(MIGHTY), ErrorCode.AUTH_FAILED, "bad signature"
    ),
    "forged-signature-es256-known-kid": BadToken(
        "jwks", lambda: ec_pair().sign(MIGHTY, kid=EC_KID), ErrorCode.AUTH_FAILED, "bad signature"
    ),
    "tampered-claims": BadToken(  # a genuine token's payload swapped for a mightier one
        "hs",
        lambda: ".".join(
            [
                jwt.encode(claims("forger", {}), SECRET, algorithm="HS256").split(".")[0],
                by_hand("HS256", MIGHTY, None).split(".")[1],
                jwt.encode(claims("forger", {}), SECRET, algorithm="HS256").split(".")[2],
            ]
        ),
        ErrorCode.AUTH_FAILED,
        "bad signature",
    ),
    "wrong-algorithm-hs256-to-rs256-server": BadToken(
        "rs",
        lambda: jwt.encode(MIGHTY, SECRET, algorithm="HS256"),
        ErrorCode.AUTH_FAILED,
        "algorithm 'HS256' is not accepted",
    ),
    "algorithm-confusion-rsa-public-key-as-hs256-secret": BadToken(
        "rs",
        lambda: by_hand("HS256", MIGHTY, RSA.public_pem),
        ErrorCode.AUTH_FAILED,
        "algorithm 'HS256' is not accepted",
    ),
    "wrong-algorithm-hs512-same-secret": BadToken(
        "hs",
        lambda: jwt.encode(MIGHTY, SECRET, algorithm="HS512"),
        ErrorCode.AUTH_FAILED,
        "algorithm 'HS512' is not accepted",
    ),
    "wrong-algorithm-rs256-to-es256-server": BadToken(
        "jwks",
        lambda: RSA.sign(MIGHTY, kid=EC_KID),
        ErrorCode.AUTH_FAILED,
        "algorithm 'RS256' is not accepted",
    ),
    "alg-none": BadToken(
        "hs", lambda: by_hand("none", MIGHTY, None), ErrorCode.AUTH_FAILED, "'none' is not"
    ),
    "alg-None-capitalised": BadToken(
        "hs", lambda: by_hand("None", MIGHTY, None), ErrorCode.AUTH_FAILED, "'None' is not"
    ),
    "alg-none-to-rs256-server": BadToken(
        "rs", lambda: by_hand("none", MIGHTY, None), ErrorCode.AUTH_FAILED, "'none' is not"
    ),
    "expired": BadToken(
        "hs",
        lambda: jwt.encode({**MIGHTY, "exp": NOW - 3600}, SECRET, algorithm="HS256"),
        ErrorCode.TOKEN_EXPIRED,
        "expired",
    ),
    "not-yet-valid": BadToken(
        "hs",
        lambda: jwt.encode({**MIGHTY, "nbf": NOW + 3600}, SECRET, algorithm="HS256"),
        ErrorCode.TOKEN_EXPIRED,
        "not valid yet",
    ),
    "wrong-audience": BadToken(
        "hs",
        lambda: jwt.encode({**MIGHTY, "aud": "another-app"}, SECRET, algorithm="HS256"),
        ErrorCode.AUTH_FAILED,
        "wrong audience",
    ),
    "no-audience": BadToken(
        "hs",
        lambda: jwt.encode(
            {k: v for k, v in MIGHTY.items() if k != "aud"}, SECRET, algorithm="HS256"
        ),
        ErrorCode.AUTH_FAILED,
        "no 'aud'",
    ),
    "wrong-issuer": BadToken(
        "rs",
        lambda: RSA.sign({**MIGHTY, "iss": "https://evil.test"}),
        ErrorCode.AUTH_FAILED,
        "wrong issuer",
    ),
    "unknown-kid": BadToken(
        "jwks",
        lambda: ec_pair().sign(MIGHTY, kid="ec-2"),
        ErrorCode.AUTH_FAILED,
        "unknown key id 'ec-2'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_token_is_refused_on_every_way_in(
    request: pytest.FixtureRequest, case: str
) -> None:
    bad = BAD_TOKENS[case]
    served: Served = request.getfixturevalue(bad.server)
    doc_id = f"tok-{case}"[:120]
    token = bad.make()
    forged = changes_by(f"forger-{case}", {"owner": "forger"})
    async with honest_pair(served, doc_id) as pair:
        before = await pair.stored()
        # WebSocket: the Hello is refused, the socket closed (policy violation).
        got = await ws_attempt(
            served.url, token=token, client_id="forger", doc_id=doc_id, changes=forged
        )
        assert not got.welcomed and got.code is bad.code, got
        assert bad.reason in got.error.message and got.error.fatal
        assert token not in got.error.message  # a refusal never echoes the token
        assert got.close_code == 1008
        # HTTP sync: the same refusal, 401.
        http = await http_attempt(
            served.url, doc_id, token=token, client_id="forger", changes=forged
        )
        assert (http.status, http.code) == (401, bad.code), http
        # The JSON view: 401 as well.
        status, body = await json_view(served.url, doc_id, token)
        assert (status, body["error"]) == (401, bad.code.name)
        assert bad.reason in body["message"]
        # The admin endpoint: the forged administrator cannot take the honest ones' access.
        async with httpx.AsyncClient() as client:
            answer = await client.put(
                f"{served.url}/v1/admin/access/honest-b",
                json={"docs": {}},
                headers={"authorization": f"Bearer {token}"},
            )
        assert answer.status_code == 401 and answer.json()["error"] == bad.code.name
        assert await pair.stored() == before
        assert "owner" not in before.view
    assert served.alive()


# -- permissions ----------------------------------------------------------------------------


async def test_a_token_for_one_document_is_refused_on_another(hs: Served) -> None:
    doc_id = "tenant-10"
    # Write access to tenant-1 (a prefix of the target's id) and admin of tenant-1x.
    token = hs.token("tenant-one", {"tenant-1": "write", "tenant-1?x": "admin"})
    forged = changes_by("tenant-one-c", {"owner": "tenant-one"})
    async with honest_pair(hs, doc_id) as pair:
        before = await pair.stored()
        # The token is good: on its own document it subscribes and writes.
        own = await ws_attempt(
            hs.url, token=token, client_id="tenant-one-c", doc_id="tenant-1", changes=forged
        )
        assert own.acked and not own.errors, own
        # WebSocket subscribe to another document: refused for that document only.
        got = await ws_attempt(hs.url, token=token, client_id="tenant-one-c", doc_id=doc_id)
        assert got.welcomed and got.state is None
        assert got.code is ErrorCode.PERMISSION_DENIED and got.error.doc_id == doc_id
        assert not got.error.fatal
        assert "may not read document 'tenant-10'" in got.error.message
        # HTTP sync, reading and writing: 403.
        for changes in (b"", forged):
            http = await http_attempt(
                hs.url, doc_id, token=token, client_id="tenant-one-c", changes=changes
            )
            assert (http.status, http.code) == (403, ErrorCode.PERMISSION_DENIED), http
        # The JSON view: 403.
        status, body = await json_view(hs.url, doc_id, token)
        assert (status, body["error"]) == (403, "PERMISSION_DENIED")
        assert await pair.stored() == before


async def test_the_json_view_serves_every_reader_and_nobody_can_claim_it(hs: Served) -> None:
    doc_id = "json-view"
    async with honest_pair(hs, doc_id) as pair:
        before = await pair.stored()  # the auditor has viewed it
        # A squatter registers the view's default client id for itself over a WebSocket.
        squat = await ws_attempt(
            hs.url, token=hs.token("squatter", {doc_id: "read"}), client_id="viewer"
        )
        assert squat.welcomed, squat
        # Every principal with read access still gets the view, with or without a client id
        # header (a view writes nothing, so no client id is registered for it).
        for reader in ("reader-1", "reader-2", "squatter"):
            status, body = await json_view(hs.url, doc_id, hs.token(reader, {doc_id: "read"}))
            assert (status, body) == (200, before.view), (reader, body)
        # Even one naming another client's id reads only.
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"{hs.url}/v1/docs/{doc_id}",
                headers={
                    "authorization": f"Bearer {hs.token('reader-3', {doc_id: 'read'})}",
                    "x-synckit-client": pair.a.actor_id,
                },
            )
        assert answer.status_code == 200 and answer.json() == before.view
        # Without read access the view is still refused.
        status, body = await json_view(hs.url, doc_id, hs.token("outsider", {"x": "read"}))
        assert (status, body["error"]) == (403, "PERMISSION_DENIED")
        assert await pair.stored() == before


async def test_a_read_only_write_is_refused_and_kept_by_its_client(hs: Served) -> None:
    doc_id = "read-only"
    token = hs.token("reader", {doc_id: "read"})
    async with honest_pair(hs, doc_id) as pair:
        async with connect(hs.url, token=token, client_id="reader") as reader:
            doc = await reader.open(doc_id, wait=True)
            assert doc.to_json() == pair.doc_a.to_json()  # it reads
            before = await pair.stored()
            doc.set("graffiti", "by the reader")
            with pytest.raises(PermissionDeniedError, match="may not write"):
                await reader.wait_synced(timeout=10)
            rejected = reader.rejected(doc_id)
            assert rejected is not None and rejected.code is ErrorCode.PERMISSION_DENIED
            assert reader.rejections() == {doc_id: rejected}
            assert doc.get("graffiti") == "by the reader"  # kept, not dropped
            # Raw pushes with the same token: refused over both transports.
            raw = changes_by("reader-raw", {"graffiti": "raw"})
            got = await ws_attempt(
                hs.url, token=token, client_id="reader-raw", doc_id=doc_id, changes=raw
            )
            assert got.code is ErrorCode.PERMISSION_DENIED and got.error.batch_id == 1, got
            http = await http_attempt(
                hs.url, doc_id, token=token, client_id="reader-raw", changes=raw
            )
            assert (http.status, http.code) == (403, ErrorCode.PERMISSION_DENIED)
            assert await pair.stored() == before
            # The reader still receives the honest clients' writes, on its first connection.
            await pair.exchange()
            await eventually(lambda: doc.get(f"b{pair.rounds}") == pair.rounds)
            assert reader.connections == 1 and doc.get("graffiti") == "by the reader"
        assert "graffiti" not in (await pair.stored()).view


async def test_access_revoked_mid_session_reaches_the_connection_within_a_second(
    hs: Served,
) -> None:
    doc_id = "revoked"
    seen: list[tuple[str, Error, float]] = []
    admin = hs.token("root", {}, admin=True)
    async with honest_pair(hs, doc_id) as pair:
        token = hs.token("revokee", {doc_id: "write"})
        async with connect(hs.url, token=token, client_id="revokee") as revokee:
            revokee.on_rejected(lambda d, error: seen.append((d, error, time.monotonic())))
            doc = await revokee.open(doc_id, wait=True)
            doc.set("revokee", "allowed")
            await revokee.wait_synced(timeout=10)
            await eventually(lambda: pair.doc_a.get("revokee") == "allowed")
            started = time.monotonic()
            async with httpx.AsyncClient() as http:
                answer = await http.put(
                    f"{hs.url}/v1/admin/access/revokee",
                    json={"docs": {doc_id: "read"}},
                    headers={"authorization": f"Bearer {admin}"},
                )
            assert answer.status_code == 200, answer.text
            await eventually(lambda: bool(seen), timeout=5, what="PERMISSION_CHANGED")
            changed_doc, changed, when = seen[0]
            assert changed_doc == doc_id and changed.code is ErrorCode.PERMISSION_CHANGED
            assert "from write to read" in changed.message
            assert when - started < 1.0
            before = await pair.stored()
            doc.set("revokee", "after revocation")
            with pytest.raises(PermissionDeniedError, match="may not write"):
                await revokee.wait_synced(timeout=10)
            rejected = revokee.rejected(doc_id)
            assert rejected is not None and rejected.code is ErrorCode.PERMISSION_DENIED
            assert doc.get("revokee") == "after revocation"  # kept
            assert revokee.connections == 1  # no reconnect
            assert await pair.stored() == before
            await pair.exchange()
            await eventually(lambda: doc.get(f"a{pair.rounds}") == pair.rounds)  # still reads
        assert (await pair.stored()).view["revokee"] == "allowed"


async def test_a_token_expiring_mid_session_is_noticed_and_a_callable_renews_it(
    hs: Served,
) -> None:
    doc_id = "expiring"
    asked: list[float] = []

    def fresh() -> str:
        asked.append(time.time())
        return jwt.encode(claims("renewer", {doc_id: "write"}, ttl=3), SECRET, algorithm="HS256")

    # The server accepts tokens up to 30 s past exp (clock tolerance), at connect and during a
    # session alike: this one expired 28 s ago, so its session has 2 s left.
    static = jwt.encode(claims("static", {doc_id: "write"}, ttl=-28), SECRET, algorithm="HS256")
    async with (
        honest_pair(hs, doc_id) as pair,
        connect(hs.url, token=fresh, client_id="renewer") as renewer,
        connect(hs.url, token=static, client_id="static") as stale,
    ):
        doc, stale_doc = await renewer.open(doc_id), await stale.open(doc_id)
        stale_doc.set("static", "before expiry")
        await stale.wait_synced(timeout=10)
        for _ in range(12):  # 6 s: the renewer's token expires at least twice
            doc.get_counter("renewed").increment(1)
            await asyncio.sleep(0.5)
        await renewer.wait_synced(timeout=10)
        assert renewer.connections == 1 and len(asked) >= 3  # renewed on the open session
        # The static token's session was ended when it expired...
        assert not stale.online
        error = stale.engine.sync_error()
        assert error is not None and error.code is ErrorCode.TOKEN_EXPIRED, error
        before = await pair.stored()
        stale_doc.set("static", "after expiry")
        with pytest.raises(TokenExpiredError):
            await stale.wait_synced(timeout=5)
        # ...and nothing it did afterwards was stored.
        assert await pair.stored() == before
        assert before.view["static"] == "before expiry"
        assert before.view["renewed"] == 12


# -- authorship -------------------------------------------------------------------------------


async def forge_under(served: Served, doc_id: str, victim: str, edits: dict[str, object]) -> bytes:
    """What an attacker with read access builds: the document as the server serves it, plus
    new operations under the victim's client id, numbered after the victim's last."""
    reader = served.token("mallory", {doc_id: "read"})
    seen = await ws_attempt(served.url, token=reader, client_id="mallory-eye", doc_id=doc_id)
    assert seen.state is not None, seen
    return changes_by(victim, edits, base=seen.state)


async def attack_as(served: Served, doc_id: str, victim: str, forged: bytes) -> None:
    """Every way mallory (who may write the document) can try to write under ``victim``'s
    client id; each is NOT_AUTHOR."""
    token = served.token("mallory", {doc_id: "write"})
    # Under its own Hello, pushing the victim's operations: refused, the session goes on.
    for transport in ("websocket", "http"):
        if transport == "websocket":
            got = await ws_attempt(
                served.url, token=token, client_id="mallory-1", doc_id=doc_id, changes=forged
            )
            assert got.code is ErrorCode.NOT_AUTHOR and not got.error.fatal, got
            message = got.error.message
        else:
            http = await http_attempt(
                served.url, doc_id, token=token, client_id="mallory-1", changes=forged
            )
            assert (http.status, http.code) == (403, ErrorCode.NOT_AUTHOR), http
            assert isinstance(http.answer, Error)
            message = http.answer.message
        assert repr(victim) in message and "'mallory-1'" in message
    # A Hello naming the victim's client id: refused, the socket closed.
    got = await ws_attempt(served.url, token=token, client_id=victim, doc_id=doc_id, changes=forged)
    assert not got.welcomed and got.code is ErrorCode.NOT_AUTHOR and got.error.fatal, got
    assert got.close_code == 1008 and "belongs to another principal" in got.error.message
    http = await http_attempt(served.url, doc_id, token=token, client_id=victim, changes=forged)
    assert (http.status, http.code) == (403, ErrorCode.NOT_AUTHOR), http


async def test_writes_under_an_online_victims_id_are_refused(hs: Served) -> None:
    doc_id = "victim-online"
    async with (
        honest_pair(hs, doc_id) as pair,
        connect(hs.url, token=hs.token("victim", {doc_id: "write"}), client_id="victim") as v,
    ):
        doc = await v.open(doc_id, wait=True)
        doc.set("owner", "victim")
        await v.wait_synced(timeout=10)
        before = await pair.stored()
        forged = await forge_under(hs, doc_id, v.actor_id, {"owner": "mallory"})
        await attack_as(hs, doc_id, v.actor_id, forged)
        assert await pair.stored() == before
        # The victim goes on writing under its id, undisturbed, on its first connection.
        doc.set("owner", "still the victim")
        await v.wait_synced(timeout=10)
        await eventually(lambda: pair.doc_b.version() == doc.version())
        assert v.connections == 1 and v.rejections() == {}
        after = await pair.stored()
        assert after.view["owner"] == "still the victim" == pair.doc_b.get("owner")
        assert after.version == doc.version() and after.view == doc.to_json()


async def test_writes_under_an_offline_victims_id_are_refused(hs: Served, tmp_path: Path) -> None:
    doc_id = "victim-offline"
    store = tmp_path / "victim.db"  # the victim's replica, with its client id, survives
    token = hs.token("victim", {doc_id: "write"})
    async with honest_pair(hs, doc_id) as pair:
        async with connect(hs.url, token=token, client_id="victim", store=store) as v:
            (await v.open(doc_id, wait=True)).set("owner", "victim")
            await v.wait_synced(timeout=10)
            victim = v.actor_id
        before = await pair.stored()
        # The victim is offline: its next seqs are free, the attacker takes them.
        forged = await forge_under(hs, doc_id, victim, {"owner": "mallory"})
        await attack_as(hs, doc_id, victim, forged)
        assert await pair.stored() == before
        # The victim comes back with the same id and writes: its acknowledged write is the one
        # kept, and everybody agrees on it, versions included.
        async with connect(hs.url, token=token, client_id="victim", store=store) as v:
            assert v.actor_id == victim
            doc = await v.open(doc_id, wait=True)
            doc.set("owner", "the victim, back")
            await v.wait_synced(timeout=10)
            await eventually(lambda: pair.doc_a.version() == doc.version())
            await eventually(lambda: pair.doc_b.version() == doc.version())
            assert v.rejections() == {}
            after = await pair.stored()
            assert after.view["owner"] == "the victim, back" == pair.doc_a.get("owner")
            assert after.version == doc.version() and after.view == doc.to_json()


async def test_two_operations_under_one_id_and_seq_are_equivocation(hs: Served) -> None:
    doc_id = "equivocation"
    token = hs.token("twofaced", {doc_id: "write"})
    async with honest_pair(hs, doc_id) as pair:
        first = changes_by("twofaced-1", {"said": "yes"})
        got = await ws_attempt(
            hs.url, token=token, client_id="twofaced-1", doc_id=doc_id, changes=first
        )
        assert got.acked, got
        before = await pair.stored()
        assert before.view["said"] == "yes"
        other = changes_by("twofaced-1", {"said": "no"})  # the same id and seq, another op
        got = await ws_attempt(
            hs.url, token=token, client_id="twofaced-1", doc_id=doc_id, changes=other
        )
        assert got.code is ErrorCode.EQUIVOCATION and "'twofaced-1'" in got.error.message, got
        assert "seq 1" in got.error.message
        http = await http_attempt(
            hs.url, doc_id, token=token, client_id="twofaced-1", changes=other
        )
        assert (http.status, http.code) == (409, ErrorCode.EQUIVOCATION), http
        # Replayed by another principal (the original author's id, its held seq): refused too.
        got = await ws_attempt(
            hs.url,
            token=hs.token("replayer", {doc_id: "write"}),
            client_id="replayer-1",
            doc_id=doc_id,
            changes=other,
        )
        assert got.code in (ErrorCode.EQUIVOCATION, ErrorCode.NOT_AUTHOR), got
        assert await pair.stored() == before


# -- clocks ---------------------------------------------------------------------------------

DAY_MS = 86_400_000


async def test_extreme_clocks_are_refused_and_a_day_ahead_still_syncs(hs: Served) -> None:
    doc_id = "clocks"
    token = hs.token("timetraveller", {doc_id: "write"})
    now_ms = int(time.time() * 1000)
    async with honest_pair(hs, doc_id) as pair:
        before = await pair.stored()
        # The largest clock the format carries.
        maxed = Document("traveller-1")
        maxed._hlc = 2**62 - 2
        maxed.set("title", "mine forever")
        # Two days ahead: 12 h beyond the 36 h the server allows.
        ahead = changes_by(
            "traveller-1", {"title": "from the day after tomorrow"}, clock_ms=now_ms + 2 * DAY_MS
        )
        for changes, lead_ms in ((maxed.changes(), None), (ahead, 12 * 3600_000)):
            got = await ws_attempt(
                hs.url, token=token, client_id="traveller-1", doc_id=doc_id, changes=changes
            )
            assert got.code is ErrorCode.CLOCK_SKEW and got.error.retryable, got
            assert not got.error.fatal and got.error.retry_after_ms > 0
            if lead_ms is not None:
                assert abs(got.error.retry_after_ms - lead_ms) < 60_000, got.error
            http = await http_attempt(
                hs.url, doc_id, token=token, client_id="traveller-1", changes=changes
            )
            assert (http.status, http.code) == (422, ErrorCode.CLOCK_SKEW), http
            assert http.retry_after is not None and int(http.retry_after) > 0
            if lead_ms is not None:
                assert abs(int(http.retry_after) - lead_ms // 1000) < 60
        assert await pair.stored() == before
        # One day ahead is inside the allowance: the write is taken, the writer syncs...
        skewed = changes_by("traveller-1", {"title": "from tomorrow"}, clock_ms=now_ms + DAY_MS)
        got = await ws_attempt(
            hs.url, token=token, client_id="traveller-1", doc_id=doc_id, changes=skewed
        )
        assert got.acked and not got.errors and got.state is not None, got
        synced = Document("check")
        synced.apply(got.state)
        assert synced.to_json() == before.view  # it received the honest clients' state
        await eventually(lambda: pair.doc_a.get("title") == "from tomorrow")
        # ...and the document stays writable: an honest write after it wins, for everybody.
        pair.doc_b.set("title", "honest, later")
        await pair.b.wait_synced(timeout=10)
        await eventually(lambda: pair.doc_a.get("title") == "honest, later")
        assert (await pair.stored()).view["title"] == "honest, later"


# -- the server process itself ----------------------------------------------------------------


def synckit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``synckit ...`` as a process, with only ``env``'s SYNCKIT_ settings."""
    clean = {k: v for k, v in server_environment().items() if not k.startswith("SYNCKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "synckit.cli", *args],
        capture_output=True,
        text=True,
        timeout=20,
        env={**clean, **env},
        check=False,
    )


async def test_a_second_server_on_the_same_data_refuses_to_start(hs: Served) -> None:
    doc_id = "two-servers"
    async with honest_pair(hs, doc_id) as pair:
        before = await pair.stored()
        second = await asyncio.to_thread(
            synckit,
            "serve",
            "--port",
            str(free_port()),
            "--data",
            str(hs.server.data),
            *REQUIRED,
            env={"SYNCKIT_JWT_SECRET": SECRET},
        )
        assert second.returncode != 0
        assert "in use by another SyncKit server" in second.stderr
        assert f"pid {hs.pid}" in second.stderr, second.stderr  # names the lock holder
        assert "listening" not in second.stdout
        assert hs.alive()
        assert await pair.stored() == before


# Two kinds of address here, as real processes beside a running server; every kind in this
# process in tests/server/test_cli.py.
@pytest.mark.parametrize("host", ["::", "sync.example.com"])
async def test_an_open_server_on_a_public_address_refuses_to_start(
    hs: Served, tmp_path: Path, host: str
) -> None:
    data = tmp_path / "open"
    async with honest_pair(hs, f"open-{host.replace(':', '-')}") as pair:
        before = await pair.stored()
        done = await asyncio.to_thread(
            synckit, "serve", "--host", host, "--port", "0", "--data", str(data), env={}
        )
        assert done.returncode == 2, done
        assert f"refusing to serve {host} without authentication" in done.stderr
        assert "--insecure" in done.stderr and "listening" not in done.stdout
        assert not data.exists()  # refused before touching anything
        # The same through the environment.
        done = await asyncio.to_thread(
            synckit,
            "serve",
            "--port",
            "0",
            env={"SYNCKIT_HOST": host, "SYNCKIT_DATA": str(data)},
        )
        assert done.returncode == 2 and "without authentication" in done.stderr, done
        assert not data.exists()
        assert await pair.stored() == before


@pytest.mark.slow
async def test_a_rotated_jwks_key_is_fetched_on_its_unknown_kid(tmp_path: Path) -> None:
    """The key set is read again for an unknown ``kid``, at most once a minute."""
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [EC.jwk(EC_KID)]}))
    args = ["--jwks", str(keys), "--jwt-algorithms", "ES256", *REQUIRED]
    served = _start(tmp_path / "data", args, {}, lambda c: EC.sign(c, kid=EC_KID))
    started = time.monotonic()
    try:
        rotated = ec_pair()
        keys.write_text(json.dumps({"keys": [EC.jwk(EC_KID), rotated.jwk("ec-2")]}))
        token = rotated.sign(claims("rotated", {"rotation": "write"}), kid="ec-2")
        async with honest_pair(served, "rotation") as pair:
            before = await pair.stored()
            # Within the first minute the file is not read again: refused, nothing stored.
            got = await ws_attempt(served.url, token=token, client_id="rotated-1")
            assert got.code is ErrorCode.AUTH_FAILED and "'ec-2'" in got.error.message, got
            assert await pair.stored() == before
            await asyncio.sleep(max(0.0, 61 - (time.monotonic() - started)))
            await pair.exchange()
            # After it, the unknown kid makes the server read the file: the new key works.
            written = changes_by("rotated-1", {"rotated": True})
            got = await ws_attempt(
                served.url, token=token, client_id="rotated-1", doc_id="rotation", changes=written
            )
            assert got.acked and not got.errors, got
            await eventually(lambda: pair.doc_a.get("rotated") is True)
    finally:
        served.stop()
