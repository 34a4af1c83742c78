"""Tools of a hostile client, for the security suite: tokens forged or signed every wrong way,
raw protocol sessions that report exactly what the server answered, and a pair of honest
clients whose syncing is checked before and after each attack.

Everything here talks to a real server over loopback: raw WebSocket frames through the
``websockets`` library (driven by a :class:`~synckit.protocol.ClientSession`), HTTP through
``httpx``, honest clients through :func:`synckit.client.connect`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from live import ServerProcess, eventually
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from synckit import Document
from synckit.client import Client, connect
from synckit.core import VersionVector
from synckit.protocol import (
    Ack,
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    HttpSyncAnswer,
    HttpSyncRequest,
    Push,
    Subscribe,
    Subscribed,
    Welcome,
    decode_http_answer,
    encode_http_request,
)

AUDIENCE = "synckit-tests"
ISSUER = "https://idp.test"

# -- keys and tokens ---------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(
    sub: str,
    docs: Mapping[str, str],
    *,
    admin: bool = False,
    ttl: float = 600,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a SyncKit token: ``sub``, grants under ``synckit.docs``, and ``exp``,
    ``aud`` and ``iss`` as the test servers require (``extra`` overrides any of them)."""
    section: dict[str, Any] = {"docs": dict(docs)}
    if admin:
        section["admin"] = True
    now = int(time.time())
    return {
        "sub": sub,
        "iat": now,
        "exp": now + int(ttl),
        "aud": AUDIENCE,
        "iss": ISSUER,
        "synckit": section,
        **extra,
    }


def by_hand(alg: str, payload: Mapping[str, Any], key: bytes | None, **header: Any) -> str:
    """A JWT assembled without PyJWT (which refuses to make the hostile ones): signed with
    HMAC-SHA256 over ``key`` for ``HS256``, unsigned for anything else (``none``)."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT", **header}).encode())
    body = b64url(json.dumps(dict(payload)).encode())
    signing_input = f"{head}.{body}".encode()
    signature = b""
    if key is not None:
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


@dataclass(frozen=True)
class KeyPair:
    """An asymmetric key pair: the private key signs, ``public_pem`` is what servers get."""

    private: Any
    alg: str

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, payload: Mapping[str, Any], **header: Any) -> str:
        return jwt.encode(dict(payload), self.private, algorithm=self.alg, headers=header or None)

    def jwk(self, kid: str) -> dict[str, Any]:
        algorithm: Any = jwt.algorithms.RSAAlgorithm if self.alg.startswith("RS") else None
        if algorithm is None:
            algorithm = jwt.algorithms.ECAlgorithm
        out: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**out, "kid": kid, "alg": self.alg, "use": "sig"}


def rsa_pair() -> KeyPair:
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_pair() -> KeyPair:
    return KeyPair(ec.generate_private_key(ec.SECP256R1()), "ES256")


# -- a server process that cannot block on a full pipe ----------------------------------------


class Served:
    """A started :class:`ServerProcess` whose output is drained in the background (a server
    that logs much during an attack must never block on a full pipe)."""

    def __init__(self, server: ServerProcess, issue: Any) -> None:
        self.server = server
        self.url = server.url
        self.issue = issue  # (sub, docs, admin=...) -> a token this server accepts
        self.output: list[str] = []
        proc = server.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        self._drains = [
            threading.Thread(target=self._drain, args=(pipe,), daemon=True)
            for pipe in (proc.stdout, proc.stderr)
        ]
        for thread in self._drains:
            thread.start()

    def _drain(self, pipe: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in pipe:
                self.output.append(line)

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def alive(self) -> bool:
        return self.server.proc is not None and self.server.proc.poll() is None

    def token(self, sub: str, docs: Mapping[str, str], *, admin: bool = False) -> str:
        return str(self.issue(claims(sub, docs, admin=admin)))

    def stop(self) -> None:
        proc = self.server.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        for thread in self._drains:
            thread.join(5)  # the pipes reach their end once the process is gone
        self.server.terminate()  # closes the pipes


# -- raw sessions -----------------------------------------------------------------------


@dataclass
class Attempt:
    """What the server answered one raw session: how far it got, and every error it sent."""

    welcomed: bool = False
    state: bytes | None = None  # the Subscribed changes
    server_version: bytes = b""
    acked: bool = False
    errors: list[Error] = field(default_factory=list)
    close_code: int | None = None

    @property
    def error(self) -> Error:
        assert self.errors, f"the server refused nothing: {self}"
        return self.errors[0]

    @property
    def code(self) -> ErrorCode | None:
        return self.errors[0].code if self.errors else None


async def ws_attempt(
    url: str,
    *,
    token: str,
    client_id: str,
    doc_id: str | None = None,
    changes: bytes | None = None,
    timeout: float = 5.0,
) -> Attempt:
    """One WebSocket session: Hello; then Subscribe to ``doc_id``; then Push ``changes``.
    Stops at the first error (after a fatal one, once the server closed the socket), or once
    the last step asked for is answered."""
    out = Attempt()
    session = ClientSession()
    async with asyncio.timeout(timeout):
        async with ws_connect(url.replace("http://", "ws://") + "/v1/sync") as ws:
            session.send(Hello(client_id, token))
            try:
                while True:
                    for frame in session.data_to_send():
                        await ws.send(frame)
                    done = False
                    received = await ws.recv()
                    assert isinstance(received, bytes), f"a text frame: {received!r}"
                    for event in session.receive(received):
                        match event:
                            case Welcome():
                                out.welcomed = True
                                if doc_id is None:
                                    done = True
                                else:
                                    session.send(Subscribe(doc_id, b""))
                            case Subscribed():
                                out.state = event.changes
                                out.server_version = event.server_version
                                if changes is None:
                                    done = True
                                else:
                                    assert doc_id is not None
                                    session.send(Push(doc_id, session.next_batch_id(), changes))
                            case Ack():
                                out.acked = True
                                out.server_version = event.server_version
                                done = True
                            case Error():
                                out.errors.append(event)
                                done = done or not event.fatal
                            case _:
                                pass
                    if done:
                        return out
            except ConnectionClosed:
                out.close_code = ws.close_code
    return out


@dataclass(frozen=True)
class HttpAttempt:
    status: int
    answer: HttpSyncAnswer | Error
    retry_after: str | None = None

    @property
    def code(self) -> ErrorCode | None:
        return self.answer.code if isinstance(self.answer, Error) else None


async def http_attempt(
    url: str, doc_id: str, *, token: str, client_id: str, changes: bytes = b""
) -> HttpAttempt:
    """One ``POST /v1/docs/{doc_id}/sync`` carrying ``changes``."""
    body = encode_http_request(HttpSyncRequest(client_id, token, b"", changes))
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{url}/v1/docs/{doc_id}/sync", content=body, timeout=10)
    answer = decode_http_answer(response.content, ok=response.status_code == 200)
    assert answer is not None, response.content
    return HttpAttempt(response.status_code, answer, response.headers.get("retry-after"))


async def json_view(url: str, doc_id: str, token: str) -> tuple[int, Any]:
    """``GET /v1/docs/{doc_id}``: the status and the JSON body."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/v1/docs/{doc_id}", headers=headers, timeout=10)
    return response.status_code, response.json()


def changes_by(
    client_id: str, edits: Mapping[str, Any], *, base: bytes = b"", clock_ms: int | None = None
) -> bytes:
    """The changes of a replica writing as ``client_id`` (on top of ``base``, which it has
    seen), setting each field of ``edits``; with ``clock_ms`` its wall clock stands there."""
    doc = Document(client_id, clock=None if clock_ms is None else (lambda: clock_ms))
    if base:
        doc.apply(base)
    before = doc.version()
    for key, value in edits.items():
        doc.set(key, value)
    return doc.changes(before)


# -- what the server stores ---------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """The server's state of a document: its JSON view and its version vector."""

    view: Any
    version: VersionVector


async def stored(served: Served, doc_id: str) -> Stored:
    """What the server holds of ``doc_id``, read by an auditor with read access to all."""
    token = served.token("auditor", {"*": "read"})
    status, view = await json_view(served.url, doc_id, token)
    assert status in (200, 404), (status, view)
    got = await http_attempt(served.url, doc_id, token=token, client_id="auditor")
    assert isinstance(got.answer, HttpSyncAnswer), got
    return Stored(view, VersionVector.decode(got.answer.server_version))


# -- honest clients -------------------------------------------------------------------------


@dataclass
class HonestPair:
    """Two honest clients on one document of one server."""

    served: Served
    doc_id: str
    a: Client
    b: Client
    doc_a: Document
    doc_b: Document
    rounds: int = 0

    async def exchange(self) -> None:
        """Each writes and sees the other's write through the server; both then hold what
        the server stores, on their first connection, with nothing refused."""
        self.rounds += 1
        n = self.rounds
        self.doc_a.get_counter("edits").increment(1)
        self.doc_a.set(f"a{n}", n)
        await eventually(lambda: self.doc_b.get(f"a{n}") == n, what=f"b sees a{n}")
        self.doc_b.get_counter("edits").increment(1)
        self.doc_b.set(f"b{n}", n)
        await eventually(lambda: self.doc_a.get(f"b{n}") == n, what=f"a sees b{n}")
        await self.a.wait_synced(timeout=10)
        await self.b.wait_synced(timeout=10)
        await eventually(
            lambda: self.doc_a.version() == self.doc_b.version(), what="equal versions"
        )
        assert self.doc_a.to_json() == self.doc_b.to_json()
        assert self.doc_a.get_counter("edits").value == 2 * n
        now = await stored(self.served, self.doc_id)
        assert now.view == self.doc_a.to_json() and now.version == self.doc_a.version()
        for client in (self.a, self.b):
            assert client.rejections() == {}, client.rejections()
            assert client.connections == 1  # never dropped, never reconnected

    async def stored(self) -> Stored:
        return await stored(self.served, self.doc_id)


@contextlib.asynccontextmanager
async def honest_pair(served: Served, doc_id: str) -> AsyncIterator[HonestPair]:
    """Two honest clients with write access to ``doc_id`` (principals ``honest-a`` and
    ``honest-b``), syncing before the block and again after it."""
    async with (
        connect(
            served.url,
            token=served.token("honest-a", {doc_id: "write"}),
            client_id="honest-a",
        ) as a,
        connect(
            served.url, token=served.token("honest-b", {doc_id: "write"}), client_id="honest-b"
        ) as b,
    ):
        pair = HonestPair(
            served, doc_id, a, b, await a.open(doc_id, wait=True), await b.open(doc_id, wait=True)
        )
        await pair.exchange()
        yield pair
        await pair.exchange()
