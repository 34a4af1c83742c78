"""Every rule of the protocol, the same scenario over both transports, through a real server.

Each test runs once over a WebSocket (a real ``websockets`` connection driving a
:class:`~synckit.protocol.ClientSession`) and once over HTTP (``POST /v1/docs/{id}/sync`` with
``httpx``), against uvicorn on loopback, and asserts the same outcome: the server plays an HTTP
request as a short session, so a rule that held on one transport and not on the other would
fail here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from synckit import Document
from synckit.core import VersionVector
from synckit.errors import StorageError
from synckit.protocol import (
    PROTOCOL_VERSION,
    Ack,
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    HttpSyncRequest,
    Push,
    Subscribe,
    Subscribed,
    Welcome,
    decode_http_answer,
    encode_http_request,
)
from synckit.server import (
    Authenticator,
    Authorizer,
    Limits,
    MemoryStore,
    Principal,
    create_app,
    running,
)
from synckit.v1 import changes_pb2
from synckit.v1 import protocol_pb2 as pb

TRANSPORTS = ["websocket", "http"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server answered a push: the acknowledged server version, or an error."""

    version: VersionVector | None = None
    error: ErrorCode | None = None
    message: str = ""


async def push_ws(
    url: str,
    doc_id: str,
    changes: bytes,
    *,
    client_id: str = "writer",
    token: str = "",
    protocol_version: int = PROTOCOL_VERSION,
    since: bytes = b"",
) -> Outcome:
    """One WebSocket session: Hello, Subscribe, Push; the Ack or the first error."""
    session = ClientSession()
    async with ws_connect(url.replace("http://", "ws://") + "/v1/sync", max_size=None) as ws:
        if protocol_version == PROTOCOL_VERSION:
            session.send(Hello(client_id, token))
            frames = session.data_to_send()
        else:  # the event class only speaks our version: write the Envelope by hand
            env = pb.Envelope(seq=1)
            env.hello.protocol_version = protocol_version
            env.hello.client_id = client_id
            frames = [env.SerializeToString()]
        for out in frames:
            await ws.send(out)
        pushed = False
        while True:
            frame = await ws.recv()
            assert isinstance(frame, bytes), frame
            for event in session.receive(frame) if protocol_version == PROTOCOL_VERSION else []:
                match event:
                    case Welcome():
                        session.send(Subscribe(doc_id, since))
                    case Subscribed() if not pushed:
                        session.send(Push(doc_id, session.next_batch_id(), changes))
                        pushed = True
                    case Ack():
                        return Outcome(VersionVector.decode(event.server_version))
                    case Error():
                        return Outcome(error=event.code, message=event.message)
                    case _:
                        pass
            if protocol_version != PROTOCOL_VERSION:
                env = pb.Envelope.FromString(frame)
                return Outcome(error=ErrorCode(env.error.code), message=env.error.message)
            if session.error is not None:
                return Outcome(error=session.error.code, message=session.error.message)
            for out in session.data_to_send():
                await ws.send(out)


async def push_http(
    url: str,
    doc_id: str,
    changes: bytes,
    *,
    client_id: str = "writer",
    token: str = "",
    protocol_version: int = PROTOCOL_VERSION,
    since: bytes = b"",
) -> Outcome:
    """One HTTP sync request carrying ``changes``."""
    body = encode_http_request(
        HttpSyncRequest(client_id, token, since, changes, protocol_version=protocol_version)
    )
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{url}/v1/docs/{doc_id}/sync", content=body, timeout=10)
    answer = decode_http_answer(response.content, ok=response.status_code == 200)
    assert answer is not None, response.content
    if isinstance(answer, Error):
        return Outcome(error=answer.code, message=answer.message)
    return Outcome(VersionVector.decode(answer.server_version))


def author_of(changes: bytes) -> str:
    """The first client id of a change set (who wrote it, for the usual one-author push)."""
    try:
        clients = changes_pb2.ChangeSet.FromString(changes).clients
    except Exception:  # not a change set: a test of bad bytes
        return "writer"
    return clients[0] if clients else "writer"


async def push(transport: str, url: str, doc_id: str, changes: bytes, **kw: object) -> Outcome:
    """Push ``changes`` as their author (``client_id=`` says otherwise)."""
    send = push_ws if transport == "websocket" else push_http
    kw.setdefault("client_id", author_of(changes))
    return await send(url, doc_id, changes, **kw)  # type: ignore[arg-type]


async def view(url: str, doc_id: str, token: str = "") -> tuple[int, object]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/v1/docs/{doc_id}", headers=headers, timeout=10)
    return response.status_code, response.json()


@contextlib.asynccontextmanager
async def serving(
    store: object,
    *,
    limits: Limits | None = None,
    authenticate: Authenticator | None = None,
    authorize: Authorizer | None = None,
) -> AsyncIterator[str]:
    app = create_app(store, limits=limits, authenticate=authenticate, authorize=authorize)  # type: ignore[arg-type]
    async with running(app) as url:
        yield url


def chain() -> tuple[bytes, bytes, Document]:
    """Two changes where the second depends on the first: (first, second, a doc with both)."""
    a = Document("a")
    a.get_list("l").append("first")
    first = a.changes()
    b = Document("b")
    b.apply(first)
    b.get_list("l").insert(0, "second")  # its origin is a's item
    second = b.changes(since=a.version())
    return first, second, b


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_change_waiting_for_its_predecessor_is_stored_not_dropped(
    tmp_path: Path, transport: str
) -> None:
    first, second, both = chain()
    data = tmp_path / "srv"
    async with serving(data) as url:
        got = await push(transport, url, "d", second)
        # Acknowledged, and the server's version does not claim the change it cannot apply.
        assert got.error is None and got.version == VersionVector()
    async with serving(data) as url:  # a restart: only storage carries the change over
        got = await push(transport, url, "d", first)
        assert got.version == both.version()
        assert await view(url, "d") == (200, both.to_json())


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_authentication_guards_pushes_and_the_json_view(
    tmp_path: Path, transport: str
) -> None:
    doc = Document("w")
    doc.set("secret", 42)
    async with serving(tmp_path / "srv", authenticate=lambda c, t: t == "s3cret") as url:
        refused = await push(transport, url, "d", doc.changes(), token="guess")
        assert refused.error is ErrorCode.AUTH_FAILED
        assert await view(url, "d", "s3cret") == (
            404,
            {"error": "NOT_FOUND", "message": "no document 'd'"},
        )
        ok = await push(transport, url, "d", doc.changes(), token="s3cret")
        assert ok.version == doc.version()
        status, body = await view(url, "d")
        assert status == 401 and body == {
            "error": "AUTH_FAILED",
            "message": "authentication failed: token refused",
        }
        assert await view(url, "d", "s3cret") == (200, {"secret": 42})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_authorization_separates_readers_from_writers(tmp_path: Path, transport: str) -> None:
    def authorize(principal: Principal, doc_id: str, action: str) -> bool:
        return action == "read" or principal.id == "editor"

    mine, theirs = Document("r"), Document("w")
    mine.set("x", 0)
    theirs.set("x", 1)
    async with serving(
        tmp_path / "srv", authenticate=lambda c, t: Principal(t), authorize=authorize
    ) as url:
        denied = await push(transport, url, "d", mine.changes(), token="reader")
        assert denied.error is ErrorCode.PERMISSION_DENIED
        assert "principal 'reader' may not write" in denied.message
        assert (await view(url, "d"))[0] == 404  # nothing was stored
        ok = await push(transport, url, "d", theirs.changes(), token="editor")
        assert ok.version == theirs.version()
        assert await view(url, "d") == (200, {"x": 1})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_another_protocol_version_is_refused(tmp_path: Path, transport: str) -> None:
    async with serving(tmp_path / "srv") as url:
        got = await push(transport, url, "d", b"", protocol_version=PROTOCOL_VERSION + 1)
        assert got.error is ErrorCode.PROTOCOL_VERSION
        assert f"protocol version {PROTOCOL_VERSION + 1} is not supported" in got.message


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_document_size_limit_refuses_the_push_and_keeps_the_rest(
    tmp_path: Path, transport: str
) -> None:
    small, big = Document("s"), Document("b")
    small.set("ok", True)
    big.get_text("t").insert(0, "x" * 5000)
    async with serving(tmp_path / "srv", limits=Limits(max_doc_bytes=2000)) as url:
        assert (await push(transport, url, "d", small.changes())).error is None
        refused = await push(transport, url, "d", big.changes())
        assert refused.error is ErrorCode.DOC_TOO_LARGE and "'d'" in refused.message
        assert await view(url, "d") == (200, {"ok": True})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_bad_changes_are_refused_and_nothing_is_stored(
    tmp_path: Path, transport: str
) -> None:
    async with serving(tmp_path / "srv") as url:
        got = await push(transport, url, "d", b"\x0a\x03junk")
        assert got.error is ErrorCode.BAD_CHANGES
        assert (await view(url, "d"))[0] == 404


class FlakyStore(MemoryStore):
    """A memory store whose commits fail while ``failing`` is set (a full disk, say)."""

    failing = False

    def append_many(self, batches: Sequence[tuple[str, bytes]]) -> None:
        if self.failing:
            raise StorageError("disk full")
        super().append_many(batches)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_nothing_is_acknowledged_that_storage_did_not_commit(transport: str) -> None:
    store = FlakyStore()
    doc = Document("w")
    doc.set("x", 1)
    async with serving(store) as url:
        store.failing = True
        got = await push(transport, url, "d", doc.changes())
        assert got.error is ErrorCode.INTERNAL and "disk full" in got.message
        store.failing = False
        assert store.load("d") is None
        assert (await view(url, "d"))[0] == 404  # memory did not keep what storage refused
        again = await push(transport, url, "d", doc.changes())
        assert again.version == doc.version()
        assert store.load("d") is not None
