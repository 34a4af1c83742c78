"""Document lifecycle against a real server (uvicorn on loopback, SQLite on both sides):
listing the local documents, closing one without closing the client, deleting one for
everyone (admin only; tombstoned for good: no client brings it back), clearing a store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from _attack import changes_by, http_attempt, ws_attempt
from live import ServerThread, eventually, free_port

from synckit.cli import main
from synckit.client import connect
from synckit.errors import (
    DocumentDeletedError,
    PermissionDeniedError,
    SyncTimeoutError,
)
from synckit.protocol import Error, ErrorCode, HttpSyncAnswer
from synckit.server import Grant, Principal


async def test_documents_lists_the_store_and_the_open_ones(
    server: ServerThread, tmp_path: Path
) -> None:
    store = tmp_path / "c.db"
    async with connect(server.url, store=store, client_id="c") as client:
        assert client.documents() == []
        (await client.open("b-notes")).set("k", 1)
        await client.open("a-empty")  # open, never edited: nothing stored yet
        assert client.documents() == ["a-empty", "b-notes"]
        await client.wait_synced(timeout=10)
    async with connect(server.url, store=store, client_id="c") as client:
        # Another process: the store's documents, opened here or not.
        assert client.documents() == ["b-notes"]
        await client.open("c-new")
        assert client.documents() == ["b-notes", "c-new"]
        client.close("c-new")
        assert client.documents() == ["b-notes"]


async def test_a_closed_document_keeps_its_unsent_edits_until_it_is_opened_again(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with connect(url, store=tmp_path / "c.db", client_id="c", backoff_max=0.2) as client:
        doc = await client.open("notes")
        doc.set("offline", "edit")  # nothing listens yet: stays in the store
        keep = await client.open("other")
        client.close("notes")
        assert client.engine.document("notes") is None
        assert client.documents() == ["notes", "other"]
        doc.set("after-close", 1)  # a closed document's object is detached: not stored
        srv = ServerThread(tmp_path / "srv", port=port).start()
        try:
            await eventually(lambda: client.online, 10, "connected")
            keep.set("x", 1)
            await client.wait_synced(timeout=10)  # waits only for open documents
            async with connect(url, client_id="reader") as reader:
                seen = await reader.open("notes", wait=True, timeout=10)
                assert seen.to_json() == {}  # closed: nothing was sent
                again = await client.open("notes")
                assert again is not doc
                assert again.to_json() == {"offline": "edit"}
                await client.wait_synced(timeout=10)
                await eventually(lambda: seen.get("offline") == "edit", 10, "sent on reopen")
                assert "after-close" not in seen.to_json()
        finally:
            srv.stop()


async def test_admin_deletes_for_everyone_and_nobody_brings_it_back(
    server: ServerThread, tmp_path: Path
) -> None:
    url = server.url
    dead = f"http://127.0.0.1:{free_port()}"
    # The returning client: synced once, then edits offline (the server never sees these).
    async with connect(url, store=tmp_path / "late.db", client_id="late") as late:
        (await late.open("plan", wait=True, timeout=10)).set("late", "before")
        await late.wait_synced(timeout=10)
    async with connect(dead, store=tmp_path / "late.db", client_id="late") as late:
        (await late.open("plan")).set("offline", "unsent edit")

    deleted: list[tuple[str, Error]] = []
    async with (
        connect(url, store=tmp_path / "a.db", client_id="admin") as admin,
        connect(url, store=tmp_path / "w.db", client_id="watcher", ping_interval=1) as watcher,
    ):
        watcher.on_deleted(lambda doc_id, error: deleted.append((doc_id, error)))
        doc = await admin.open("plan", wait=True, timeout=10)
        doc.set("title", "Apollo")
        await admin.wait_synced(timeout=10)
        seen = await watcher.open("plan", wait=True, timeout=10)
        await eventually(lambda: seen.get("title") == "Apollo", 10, "watcher synced")
        await admin.delete("plan", timeout=10)
        # The deleter's copy is gone, and the id is dead locally.
        assert admin.documents() == []
        with pytest.raises(DocumentDeletedError):
            await admin.open("plan")
        # A connected client is told and drops its copy.
        await eventually(lambda: bool(deleted), 10, "the watcher told")
        [(doc_id, error)] = deleted
        assert doc_id == "plan" and error.code is ErrorCode.DOC_DELETED
        assert watcher.documents() == [] and watcher.engine.document("plan") is None
        assert "plan" in watcher.deleted()
        await admin.delete("plan", timeout=10)  # again: nothing to do

    # Weeks later, the offline client comes back with its unsent edit.
    told: list[str] = []
    async with connect(url, store=tmp_path / "late.db", client_id="late") as late:
        late.on_deleted(lambda doc_id, error: told.append(doc_id))
        assert late.documents() == ["plan"]
        with pytest.raises(DocumentDeletedError):
            await late.open("plan", wait=True, timeout=10)
        assert told == ["plan"]
        assert late.documents() == []  # its copy and its queue are gone
        await late.wait_synced(timeout=5)  # nothing left to send
        with pytest.raises(DocumentDeletedError):
            await late.open("plan")

    # Raw attempts to bring it back: refused, nothing stored.
    old = changes_by("mallory", {"title": "resurrected"})
    attempt = await ws_attempt(url, token="", client_id="mallory", doc_id="plan", changes=old)
    assert attempt.code is ErrorCode.DOC_DELETED and not attempt.acked
    http = await http_attempt(url, "plan", token="", client_id="mallory", changes=old)
    assert http.status == 410 and http.code is ErrorCode.DOC_DELETED
    async with httpx.AsyncClient() as client:
        view = await client.get(f"{url}/v1/docs/plan", timeout=10)
    assert view.status_code == 410
    # Other documents are unaffected.
    async with connect(url, client_id="other") as other:
        (await other.open("plan-b", wait=True, timeout=10)).set("ok", True)
        await other.wait_synced(timeout=10)


def _bob_writes_alice_admins(client_id: str, token: str) -> Principal:
    if token == "alice":
        return Principal("alice", (Grant("*", "admin"),))
    if token == "bob":
        return Principal("bob", (Grant("*", "write"),))
    raise AssertionError(token)


async def test_a_non_admin_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "srv", authenticate=_bob_writes_alice_admins).start()
    try:
        async with (
            connect(srv.url, store=tmp_path / "a.db", client_id="a", token="alice") as alice,
            connect(srv.url, store=tmp_path / "b.db", client_id="b", token="bob") as bob,
        ):
            doc_a = await alice.open("shared", wait=True, timeout=10)
            doc_a.set("kept", 1)
            await alice.wait_synced(timeout=10)
            doc_b = await bob.open("shared", wait=True, timeout=10)
            await eventually(lambda: doc_b.get("kept") == 1, 10, "bob synced")
            with pytest.raises(PermissionDeniedError, match="admin"):
                await bob.delete("shared", timeout=10)
            # Nothing changed: bob's copy stays open and syncing, alice sees his next edit.
            assert bob.documents() == ["shared"] and bob.engine.document("shared") is doc_b
            assert bob.deleted() == {}
            doc_b.set("still", "syncing")
            await bob.wait_synced(timeout=10)
            await eventually(lambda: doc_a.get("still") == "syncing", 10, "bob's edit")
            # Over HTTP too (DELETE /v1/docs/{id}).
            async with connect(srv.url, client_id="b2", token="bob", transport="http") as poll:
                with pytest.raises(PermissionDeniedError):
                    await poll.delete("shared")
            async with connect(srv.url, client_id="reader", token="alice") as reader:
                doc_r = await reader.open("shared", wait=True, timeout=10)
                assert doc_r.to_json() == {"kept": 1, "still": "syncing"}
    finally:
        srv.stop()


async def test_delete_and_refusal_over_http_polling(server: ServerThread, tmp_path: Path) -> None:
    url = server.url
    async with (
        connect(url, client_id="h", transport="http", poll_interval=0.1) as poller,
        connect(url, client_id="ws") as admin,
    ):
        doc = await poller.open("polled", wait=True, timeout=10)
        doc.set("x", 1)
        await poller.wait_synced(timeout=10)
        await admin.open("polled", wait=True, timeout=10)
        await admin.delete("polled", timeout=10)
        # The polling client learns it on its next round and drops its copy.
        await eventually(lambda: "polled" in poller.deleted(), 10, "the poller told")
        assert poller.documents() == []
        # And an HTTP client deletes with DELETE /v1/docs/{id}.
        (await poller.open("polled-2", wait=True, timeout=10)).set("y", 2)
        await poller.wait_synced(timeout=10)
        await poller.delete("polled-2")
        assert poller.documents() == []
        got = await http_attempt(url, "polled-2", token="", client_id="h2")
        assert got.status == 410


async def test_delete_waits_for_a_connection_and_times_out_offline(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with connect(dead, store=tmp_path / "c.db", client_id="c", backoff_max=0.2) as client:
        (await client.open("d")).set("k", 1)
        with pytest.raises(SyncTimeoutError, match="offline"):
            await client.delete("d", timeout=0.5)
        # Withdrawn, nothing changed locally.
        assert client.documents() == ["d"]
        assert client.engine.document("d") is not None


async def test_clear_removes_all_local_data_and_the_client_carries_on(
    server: ServerThread, tmp_path: Path
) -> None:
    url = server.url
    store = tmp_path / "c.db"
    async with connect(url, store=store, client_id="c") as client:
        doc = await client.open("kept-on-server", wait=True, timeout=10)
        doc.get_list("items").append("synced")
        await client.wait_synced(timeout=10)
        old_actor = client.actor_id
        await client.open("local-only")
        await client.clear()
        assert client.documents() == []
        assert client.engine.document("kept-on-server") is None
        assert client.actor_id != old_actor  # a new actor: the old one's numbers are taken
        # Usable afterwards: the server's copy comes back, new edits sync (no equivocation).
        again = await client.open("kept-on-server", wait=True, timeout=10)
        assert list(again.get_list("items")) == ["synced"]
        again.get_list("items").append("after clear")
        await client.wait_synced(timeout=10)
        assert client.rejections() == {}
    async with connect(url, client_id="reader") as reader:
        seen = await reader.open("kept-on-server", wait=True, timeout=10)
        assert list(seen.get_list("items")) == ["synced", "after clear"]
    async with connect(url, store=store, client_id="c") as client:
        assert client.documents() == ["kept-on-server"]


async def test_a_push_racing_a_delete_is_refused_and_not_stored(
    server: ServerThread, tmp_path: Path
) -> None:
    url = server.url
    async with connect(url, client_id="admin") as admin, connect(url, client_id="w") as writer:
        doc = await writer.open("race", wait=True, timeout=10)
        await admin.open("race", wait=True, timeout=10)
        for i in range(50):  # edits in flight while the deletion is committed
            doc.set(f"k{i}", i)
        await admin.delete("race", timeout=10)
        await eventually(lambda: "race" in writer.deleted(), 10, "the writer told")
        for i in range(5):
            doc.set(f"late{i}", i)  # detached: goes nowhere
        await writer.wait_synced(timeout=5)
    got = await http_attempt(url, "race", token="", client_id="auditor")
    assert got.status == 410 and not isinstance(got.answer, HttpSyncAnswer)


async def test_the_cli_deletes_a_document(
    server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    async with connect(server.url, client_id="c") as client:
        (await client.open("by-cli", wait=True, timeout=10)).set("k", 1)
        await client.wait_synced(timeout=10)
        argv = ["delete", "--url", server.url, "by-cli"]
        assert await asyncio.to_thread(main, argv, {}) == 0
        assert "deleted by-cli" in capsys.readouterr().out
        await eventually(lambda: "by-cli" in client.deleted(), 10, "the client told")
    assert await asyncio.to_thread(main, ["delete", "--url", server.url, "bad id"], {}) == 2
    assert "document id" in capsys.readouterr().err


async def test_the_cli_reports_a_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    srv = ServerThread(tmp_path / "srv", authenticate=_bob_writes_alice_admins).start()
    try:
        argv = ["delete", "--url", srv.url, "--token", "bob", "doc"]
        assert await asyncio.to_thread(main, argv, {}) == 1
        assert "PERMISSION_DENIED" in capsys.readouterr().err
        env = {"SYNCKIT_TOKEN": "alice"}
        assert await asyncio.to_thread(main, ["delete", "--url", srv.url, "doc"], env) == 0
    finally:
        srv.stop()
