"""What one push may cost the server's event loop, against a real uvicorn server on loopback:
pushes of more operations than ``max_push_ops`` are refused before they are decoded (and the
SDK client sends a long backlog in parts that fit, over WebSocket and over HTTP), and merges
whose work grows faster than their operations (inserts naming the same two origins, a delete
spanning very many items) are stopped at ``max_merge_work``, nothing stored, the document
loaded again, while everyone else keeps syncing."""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from live import ServerProcess, ServerThread, eventually

import synckit.core._ops as K
from synckit.client import Client, connect
from synckit.core import Document
from synckit.core._codec import ChangeSetWriter
from synckit.protocol import (
    Ack,
    Error,
    ErrorCode,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
)
from synckit.protocol._frames import decode_frame, encode_frame
from synckit.server import Limits
from synckit.testing import RawConnection

MAX_OPS = 200
MAX_WORK = 5_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    limits = Limits(max_push_ops=MAX_OPS, max_merge_work=MAX_WORK)
    srv = ServerThread(tmp_path_factory.mktemp("merge-bounds"), limits=limits).start()
    try:
        yield srv
    finally:
        srv.stop()


def fast(url: str, **options: Any) -> Client:
    options.setdefault("poll_interval", 0.05)
    return connect(url, backoff_base=0.02, backoff_max=0.2, **options)


def view(url: str, doc_id: str) -> Any:
    response = httpx.get(f"{url}/v1/docs/{doc_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def writer(server: ServerThread) -> AsyncIterator[Client]:
    async with fast(server.url, client_id="honest-1") as client:
        yield client


async def scattered(client: Client, doc_id: str, n: int, seed: int) -> str:
    """``n`` single characters inserted at random places of ``doc_id``'s text "t", each
    its own operation; the text, once the server has all of it."""
    doc = await client.open(doc_id, wait=True)
    text = doc.get_text("t")
    rng = random.Random(seed)
    for i in range(n):
        text.insert(rng.randrange(len(text) + 1), chr(97 + i % 26))
    await client.wait_synced(timeout=60)
    return str(text)


def crafted(pusher: str, target: Document, ops: list[Any]) -> bytes:
    """A change of ``pusher`` (its first) holding ``ops``, depending on everything
    ``target`` holds (so that it applies at once on the server)."""
    version = target.version()
    others = [c for c in version if c != pusher]
    writer = ChangeSetWriter([pusher, *others])
    writer.add(0, 1, {i + 1: version[c] for i, c in enumerate(others)}, ops)
    return writer.to_bytes()


async def test_the_client_takes_the_limit_from_the_welcome(server: ServerThread) -> None:
    async with fast(server.url, client_id="looker-1") as client:
        await client.open("welcome-doc", wait=True)
        assert client._engine is not None and client._engine.max_push_ops == MAX_OPS


async def test_a_backlog_of_more_operations_than_a_push_holds_goes_in_parts(
    server: ServerThread, writer: Client
) -> None:
    # 1,000 operations made at once, at most 200 a push: five pushes or more, all stored.
    text = await scattered(writer, "backlog", 1000, seed=1)
    assert writer.rejections() == {}
    assert view(server.url, "backlog")["t"] == text


async def test_over_http_the_client_finds_the_limit_by_halving(server: ServerThread) -> None:
    async with fast(server.url, client_id="poller-1", transport="http") as client:
        text = await scattered(client, "backlog-http", 700, seed=2)
        assert client.rejections() == {}
        assert client._engine is not None and 0 < client._engine.max_push_ops <= MAX_OPS
    assert view(server.url, "backlog-http")["t"] == text


async def test_a_push_of_too_many_operations_is_refused_before_decoding(
    server: ServerThread, writer: Client
) -> None:
    text = await scattered(writer, "too-many", 50, seed=3)
    raw = await RawConnection.open(server.url, "bulk-1")
    try:
        base = Document()
        base.apply((await raw.subscribe("too-many")).changes)
        ops = [(K.FIELD_SET, 1 + i, f"f{i}", 1 + i, i) for i in range(MAX_OPS + 1)]
        await raw.send(Push("too-many", 1, crafted("bulk-1", base, ops)))
        answer = await raw.recv()
        assert isinstance(answer, Error) and answer.code is ErrorCode.TOO_MANY
        assert f"{MAX_OPS + 1} operations" in answer.message and "max_push_ops" in answer.message
        assert not answer.fatal and answer.batch_id == 1
        # One fewer is taken.
        await raw.send(Push("too-many", 2, crafted("bulk-1", base, ops[:MAX_OPS])))
        ack = await raw.recv()
        assert isinstance(ack, Ack) and ack.batch_id == 2
    finally:
        await raw.close()
    stored = view(server.url, "too-many")
    assert stored["t"] == text and len([k for k in stored if k.startswith("f")]) == MAX_OPS


async def hostile_push(
    server: ServerThread, doc_id: str, name: str, ops: Callable[[Document], list[Any]]
) -> Error:
    """Push ``ops(document as the server holds it)`` as ``name``'s first change to
    ``doc_id``; the server's answer."""
    raw = await RawConnection.open(server.url, name)
    try:
        base = Document()
        base.apply((await raw.subscribe(doc_id)).changes)
        await raw.send(Push(doc_id, 1, crafted(name, base, ops(base))))
        while True:
            answer = await raw.recv()
            if isinstance(answer, Error):
                return answer
            assert not isinstance(answer, Ack), "the hostile push was taken"
    finally:
        await raw.close()


async def test_inserts_into_one_gap_are_stopped_and_nothing_is_stored(
    server: ServerThread, writer: Client
) -> None:
    # 200 inserts all naming the same two origins: the YATA scan walks every earlier one,
    # about 20,000 steps, past the limit of 5,000.
    doc = await writer.open("gap", wait=True)
    text = doc.get_text("t")
    text.insert(0, "ab")
    await writer.wait_synced(timeout=10)
    async with fast(server.url, client_id="bystander-1") as other:
        elsewhere = await other.open("elsewhere", wait=True)
        me = writer._engine.actor_id  # type: ignore[union-attr]

        def ops(base: Document) -> list[Any]:
            index = 1 + [c for c in base.version() if c != "gapper-1"].index(me)
            left, right = (index, 1), (index, 2)
            return [(K.TEXT_INSERT, 1 + i, "t", left, right, "z") for i in range(MAX_OPS)]

        error = await hostile_push(server, "gap", "gapper-1", ops)
        assert error.code is ErrorCode.TOO_MANY and "max_merge_work" in error.message
        assert "nothing stored" in error.message
        # The writer was disconnected with the reloaded document, reconnects and goes on.
        text.insert(1, "-")
        await writer.wait_synced(timeout=20)
        elsewhere.set("still", "served")
        await other.wait_synced(timeout=10)
    assert view(server.url, "gap")["t"] == "a-b" == str(text)
    assert view(server.url, "elsewhere") == {"still": "served"}


async def test_a_delete_spread_over_many_items_is_stopped(
    server: ServerThread, writer: Client
) -> None:
    # One operation deleting a run of the writer's ids that lies in 600 places: 16 steps
    # an item beyond the first, past the limit.
    text = await scattered(writer, "spread", 600, seed=4)
    me = writer._engine.actor_id  # type: ignore[union-attr]

    def ops(base: Document) -> list[Any]:
        index = 1 + [c for c in base.version() if c != "eraser-1"].index(me)
        return [(K.TEXT_DELETE, 1, "t", index, 1, base.version()[me])]

    error = await hostile_push(server, "spread", "eraser-1", ops)
    assert error.code is ErrorCode.TOO_MANY and "max_merge_work" in error.message

    async def intact() -> bool:
        return bool(view(server.url, "spread")["t"] == text)

    await eventually(intact)


def test_the_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_push_ops"):
        Limits(max_push_ops=0)
    with pytest.raises(ValueError, match="max_merge_work"):
        Limits(max_merge_work=-1)


def test_the_welcome_carries_the_limit() -> None:
    frame = encode_frame(Welcome(max_push_ops=123))
    assert decode_frame(frame) == Welcome(max_push_ops=123)


SECRET = "c" * 64
CATCH_UP_CONFIG = """
jwt_secret = "{secret}"

[limits]
catch_up_bytes_per_second = 200000
catch_up_burst_bytes = 600000
"""


def token(sub: str) -> str:
    claims = {"sub": sub, "exp": int(time.time() + 600), "synckit": {"docs": {"*": "write"}}}
    return jwt.encode(claims, SECRET, "HS256")


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("catch-up")
    proc = ServerProcess.with_config(root, CATCH_UP_CONFIG.format(secret=SECRET))
    try:
        yield proc
    finally:
        proc.terminate()


async def test_whole_documents_sent_to_one_principal_are_limited(
    jwt_server: ServerProcess,
) -> None:
    # A document of about 250 KB; a few bytes of Subscribe with an empty version get all
    # of it. The principal "scraper" may be sent 600 KB at once, then 200 KB a second.
    async with connect(jwt_server.url, token=token("writer"), client_id="writer-1") as writer:
        doc = await writer.open("big", wait=True)
        for i in range(25):
            doc.set(f"k{i}", os.urandom(5_000).hex())
        await writer.wait_synced(timeout=30)
    raw = await RawConnection.open(jwt_server.url, "scraper-1", token=token("scraper"))
    try:
        answers: list[object] = []
        for _ in range(4):
            await raw.send(Subscribe("big", b""))
            answer = await raw.recv()
            answers.append(answer)
            if isinstance(answer, Error):
                break
            assert isinstance(answer, Subscribed) and len(answer.changes) > 200_000
            await raw.send(Unsubscribe("big"))
        refused = answers[-1]
        assert isinstance(refused, Error) and refused.code is ErrorCode.RATE_LIMITED
        assert "catch_up_bytes_per_second" in refused.message and refused.retry_after_ms > 0
        assert len(answers) == 4  # three whole documents (the third into debt), then refused
    finally:
        await raw.close()
    # Its JSON views too (429, Retry-After); another principal's are served.
    headers = {"authorization": f"Bearer {token('scraper')}"}
    refused_view = httpx.get(f"{jwt_server.url}/v1/docs/big", headers=headers, timeout=10)
    assert refused_view.status_code == 429 and int(refused_view.headers["retry-after"]) >= 1
    other = {"authorization": f"Bearer {token('reader')}"}
    assert httpx.get(f"{jwt_server.url}/v1/docs/big", headers=other, timeout=10).status_code == 200
    # The SDK client of the refused principal waits as told, then gets the document.
    async with connect(jwt_server.url, token=token("scraper"), client_id="scraper-2") as client:
        late = await client.open("big", wait=True, timeout=30)
        assert late.get("k24") is not None
