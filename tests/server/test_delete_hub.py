"""Deleting documents in the Hub (real sessions, real SQLite, frames moved by hand) and in the
stores: admin only, tombstones that outlive a restart, nothing stored after one, every
subscriber told; and the client stores' local tombstones, listing and clearing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from peer import Peer

from synckit import Document, client
from synckit.errors import DocumentDeletedError
from synckit.protocol import (
    DELETE,
    Ack,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    HttpSyncAnswer,
    HttpSyncRequest,
    Push,
    ServerHttpExchange,
    Subscribe,
    Unsubscribe,
    encode_http_request,
)
from synckit.server import (
    Grant,
    Hub,
    Limits,
    MemoryStore,
    Principal,
    SQLiteStore,
    StoredDoc,
    perform_io,
)


def _changes(writer: str, **fields: int) -> bytes:
    doc = Document(writer)
    for key, value in fields.items():
        doc.set(key, value)
    return doc.changes()


def _by_token(client_id: str, token: str) -> Principal:
    level = {"admin-token": "admin", "write-token": "write"}[token]
    return Principal(token.split("-", maxsplit=1)[0], (Grant("*", level),))  # type: ignore[arg-type]


def _errors(peer: Peer) -> list[Error]:
    return [e for e in peer.received() if isinstance(e, Error)]


def test_the_server_advertises_delete() -> None:
    assert DELETE in Peer(Hub(MemoryStore()), "a").welcome.capabilities


def test_only_admin_deletes_and_a_refusal_changes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    hub = Hub(store, authenticate=_by_token)
    writer = Peer(hub, "w", "write-token")
    writer.subscribe("d")
    doc = Document("w")
    doc.set("x", 1)
    writer.push("d", doc.changes())
    assert isinstance(writer.received()[0], Ack)
    writer.send(DeleteDoc("d", 1))
    [refusal] = _errors(writer)
    assert refusal.code is ErrorCode.PERMISSION_DENIED and refusal.request_id == 1
    assert "deleting needs admin access" in refusal.message
    assert not hub.is_deleted("d")
    stored = store.load("d")
    assert stored is not None and not stored.deleted and len(stored.changes) == 1
    # Its subscription carries on: a later push is acknowledged.
    before = doc.version()
    doc.set("y", 2)
    writer.push("d", doc.changes(before))
    assert isinstance(writer.received()[0], Ack)


def test_admin_deletes_subscribers_are_told_and_the_tombstone_outlives_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    hub = Hub(SQLiteStore(db), authenticate=_by_token)
    admin, watcher = Peer(hub, "a", "admin-token"), Peer(hub, "w", "write-token")
    watcher.subscribe("d")
    watcher.push("d", _changes("w", x=1))
    watcher.received()
    admin.subscribe("d")
    admin.send(DeleteDoc("d", 1))
    assert admin.received() == [DocDeleted("d", 1)]
    [told] = _errors(watcher)
    assert told.code is ErrorCode.DOC_DELETED and told.doc_id == "d" and not told.batch_id
    assert watcher.session.doc_state("d") is None
    assert hub.open_doc_ids == []
    # Its pushes and subscriptions are refused from now on; nothing is stored.
    watcher.send(Subscribe("d"))
    [again] = _errors(watcher)
    assert again.code is ErrorCode.DOC_DELETED
    hub.close()
    hub = Hub(SQLiteStore(db), authenticate=_by_token)  # a restart: only storage remembers
    mallory = Peer(hub, "m", "write-token")
    mallory.send(Subscribe("d"))
    mallory.send(Push("d", 1, _changes("m", x=2)))
    codes = {(e.code, e.batch_id) for e in _errors(mallory)}
    assert (ErrorCode.DOC_DELETED, 0) in codes
    assert hub.is_deleted("d")
    store = hub.store
    assert store is not None
    assert store.load("d") == StoredDoc(None, (), deleted=True)
    assert store.doc_ids() == []


def test_a_deleted_document_is_deleted_again_at_once_and_others_are_untouched() -> None:
    store = MemoryStore()
    hub = Hub(store)
    a, b = Peer(hub, "a"), Peer(hub, "b")
    b.subscribe("other")
    a.send(DeleteDoc("d", 1))
    assert a.received() == [DocDeleted("d", 1)]
    a.send(DeleteDoc("d", 2))
    assert a.received() == [DocDeleted("d", 2)]
    b.push("other", _changes("b", k=1))
    assert isinstance(b.received()[0], Ack)
    assert store.doc_ids() == ["other"]


def test_a_push_during_the_deletion_is_refused_to_retry_and_never_stored() -> None:
    store = MemoryStore()
    hub = Hub()  # storage driven by hand
    a, w = Peer(hub, "a"), Peer(hub, "w")
    w.send(Subscribe("d"))
    while (op := hub.next_io()) is not None:
        hub.io_done(op, None)
    w.received()
    a.send(DeleteDoc("d", 1))
    w.push("d", _changes("w", x=1))  # after the deletion was queued
    [retry] = _errors(w)
    assert retry.code is ErrorCode.INTERNAL and retry.retryable and retry.retry_after_ms
    op = hub.next_io()
    assert op is not None and type(op).__name__ == "Erase"
    store.delete_doc("d", "")
    hub.io_done(op, None)
    assert a.received() == [DocDeleted("d", 1)]
    assert [e.code for e in _errors(w)] == [ErrorCode.DOC_DELETED]
    assert store.load("d") == StoredDoc(None, (), deleted=True)


def test_a_deletion_by_another_server_reaches_the_subscribers_here() -> None:
    hub = Hub(MemoryStore())
    w = Peer(hub, "w")
    w.subscribe("d")
    hub.deleted_remote("d")
    [told] = _errors(w)
    assert told.code is ErrorCode.DOC_DELETED
    hub.deleted_remote("d")  # heard twice: told once
    assert _errors(w) == []
    hub.deleted_remote("not a valid id")  # garbage from the bus: ignored
    assert not hub.is_deleted("not a valid id")


def test_a_commit_another_server_refused_is_not_acknowledged() -> None:
    hub = Hub()
    w = Peer(hub, "w")
    w.send(Subscribe("d"))
    while (op := hub.next_io()) is not None:
        hub.io_done(op, None)
    w.received()
    w.push("d", _changes("w", x=1))
    commit = hub.next_io()
    assert commit is not None and type(commit).__name__ == "Commit"
    hub.io_done(commit, frozenset({"d"}))  # the store found the tombstone
    errors = _errors(w)
    assert {(e.code, e.batch_id) for e in errors} == {
        (ErrorCode.DOC_DELETED, 0),
        (ErrorCode.DOC_DELETED, 1),
    }
    assert hub.is_deleted("d")


def test_http_delete_needs_admin_too(tmp_path: Path) -> None:
    hub = Hub(SQLiteStore(tmp_path / "s.db"), authenticate=_by_token)

    def delete(token: str) -> HttpSyncAnswer | Error:
        body = encode_http_request(HttpSyncRequest("c", token))
        limit = hub.limits.max_frame_bytes
        return hub.exchange(ServerHttpExchange("d", body, max_body_bytes=limit, delete=True))

    refused = delete("write-token")
    assert isinstance(refused, Error) and refused.code is ErrorCode.PERMISSION_DENIED
    assert not hub.is_deleted("d")
    assert isinstance(delete("admin-token"), HttpSyncAnswer)
    assert hub.is_deleted("d")
    sync = hub.exchange(
        ServerHttpExchange(
            "d",
            encode_http_request(HttpSyncRequest("c", "write-token", b"", _changes("c", x=1))),
            max_body_bytes=hub.limits.max_frame_bytes,
        )
    )
    assert isinstance(sync, Error) and sync.code is ErrorCode.DOC_DELETED


CLIENT_STORES: dict[str, Callable[[Path], client.Store]] = {
    "memory": lambda _: client.MemoryStore(),
    "sqlite": lambda tmp: client.SQLiteStore(tmp / "c.db"),
}


@pytest.mark.parametrize("make", CLIENT_STORES.values(), ids=list(CLIENT_STORES))
def test_client_store_lists_deletes_and_clears(
    make: Callable[[Path], client.Store], tmp_path: Path
) -> None:
    store = make(tmp_path)
    actor = store.actor_id("c")
    store.append("b", b"x")
    store.append("a", b"y")
    store.compact("a", b"snap", 1)
    assert store.doc_ids() == ["a", "b"]
    store.delete_doc("b")
    assert store.doc_ids() == ["a"] and store.load("b") is None
    assert store.is_deleted("b") and not store.is_deleted("a")
    store.clear()
    assert store.doc_ids() == [] and not store.is_deleted("b")
    assert store.actor_id("c") != actor  # a new incarnation


def test_a_client_store_refuses_to_open_a_deleted_document(tmp_path: Path) -> None:
    store = client.SQLiteStore(tmp_path / "c.db")
    engine = client.SyncEngine(store, store.actor_id("c"))
    engine.open("d").set("k", 1)
    engine.drop_deleted("d", Error(ErrorCode.DOC_DELETED, "gone", doc_id="d"))
    assert engine.document("d") is None and engine.stored_doc_ids() == []
    with pytest.raises(DocumentDeletedError, match="'d'"):
        engine.open("d")
    store.close()
    again = client.SQLiteStore(tmp_path / "c.db")  # remembered across processes
    assert again.is_deleted("d")
    again.close()


def test_the_client_engine_drops_a_deleted_document_once(tmp_path: Path) -> None:
    store = client.MemoryStore()
    told: list[str] = []
    engine = client.SyncEngine(store, store.actor_id("c"), on_deleted=lambda d, e: told.append(d))
    engine.open("d").set("k", 1)
    gone = Error(ErrorCode.DOC_DELETED, "gone", doc_id="d")
    engine.drop_deleted("d", gone)
    engine.drop_deleted("d", Error(ErrorCode.DOC_DELETED, "gone", doc_id="d", batch_id=3))
    assert told == ["d"] and engine.deleted == {"d": gone}
    engine.clear_all("c")
    assert engine.deleted == {} and not store.is_deleted("d")


def test_no_snapshot_is_written_behind_the_tombstone() -> None:
    """A room that closes while its deletion is queued queues no compaction; a store asked to
    compact a deleted document writes nothing."""
    store = MemoryStore()
    hub = Hub(limits=Limits(room_linger=0))  # storage driven by hand; no compaction due
    a, w = Peer(hub, "a"), Peer(hub, "w")
    w.send(Subscribe("d"))
    w.push("d", _changes("w", x=1))
    while (op := hub.next_io()) is not None:
        hub.io_done(op, perform_io(op, store))
    w.received()
    a.send(DeleteDoc("d", 1))
    w.send(Unsubscribe("d"))  # the room closes with the deletion still queued
    ops = []
    while (op := hub.next_io()) is not None:
        ops.append(type(op).__name__)
        hub.io_done(op, perform_io(op, store))
    assert ops == ["Erase"]
    assert "d" not in store._docs and store.load("d") == StoredDoc(None, (), deleted=True)
    store.compact("d", Document("x").save(), 0)
    assert "d" not in store._docs
