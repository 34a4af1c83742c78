"""The hub's trust rules without sockets: who owns a client id, live changes of access, token
expiry during a session."""

from __future__ import annotations

from pathlib import Path

from peer import Peer

from synckit.core import Document
from synckit.errors import AuthError, TokenExpiredError
from synckit.protocol import (
    Error,
    ErrorCode,
    Hello,
    HttpSyncAnswer,
    HttpSyncRequest,
    ServerHttpExchange,
    State,
    Subscribe,
    Welcome,
    encode_http_request,
)
from synckit.server import (
    AccessChange,
    AccessRules,
    Hub,
    MemoryStore,
    Principal,
    SQLiteStore,
    parse_grants,
    perform_io,
)


def authenticate(client_id: str, token: str) -> Principal:
    """Tokens of the form ``NAME`` or ``NAME@EXPIRES``: principal NAME with write access to
    everything, expiring at Unix time EXPIRES."""
    name, _, expires = token.partition("@")
    if not name:
        raise AuthError("no token")
    if expires and float(expires) < 50:
        raise TokenExpiredError("token expired")
    return Principal(name, parse_grants({"*": "write"}), float(expires) if expires else None)


def errors(peer: Peer) -> list[Error]:
    return [e for e in peer.received() if isinstance(e, Error)]


def test_a_client_id_belongs_to_the_first_principal_that_used_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    hub = Hub(store, authenticate=authenticate)
    alice = Peer(hub, "phone-1", "alice")
    assert alice.welcome.principal == "alice"
    mallory = Peer(hub, "phone-1", "mallory", welcome=False)
    [refused] = errors(mallory)
    assert refused.code is ErrorCode.NOT_AUTHOR and refused.fatal
    assert "'phone-1' belongs to another principal" in refused.message
    assert mallory.session.state is State.CLOSED
    assert Peer(hub, "phone-1", "alice").welcome.principal == "alice"  # the owner again
    hub.close()
    # The registry is stored: a restarted server still knows whose id it is.
    hub = Hub(SQLiteStore(tmp_path / "s.db"), authenticate=authenticate)
    [refused] = errors(Peer(hub, "phone-1", "mallory", welcome=False))
    assert refused.code is ErrorCode.NOT_AUTHOR
    Peer(hub, "phone-1", "alice")


def test_an_open_server_registers_nothing() -> None:
    store = MemoryStore()
    hub = Hub(store)
    assert Peer(hub, "x").welcome == Welcome(
        ("http-sync", "presence", "delete", "version-deltas"),
        hub.limits.max_frame_bytes,
        max_presence_bytes=hub.limits.max_presence_bytes,
        presence_timeout_ms=int(hub.limits.presence_timeout * 1000),
        max_push_ops=hub.limits.max_push_ops,
    )
    Peer(hub, "x")
    assert store._actors == {}


def test_frames_sent_while_the_hello_is_decided_wait_for_it() -> None:
    # With storage performed by the caller (as the ASGI server does), the registration of
    # the client id takes a storage round trip; an HTTP exchange's frames wait for it.
    store = MemoryStore()
    hub = Hub(None, authenticate=authenticate)
    doc = Document("bob-1")
    doc.set("k", 1)
    body = encode_http_request(HttpSyncRequest("bob-1", "bob", changes=doc.changes()))
    exchange = ServerHttpExchange("d", body, max_body_bytes=1 << 20)
    conn = hub.start_exchange(exchange)
    assert conn is not None and conn.held  # Subscribe and Push wait for the Welcome
    while not hub.advance_exchange(exchange, conn):
        op = hub.next_io()
        assert op is not None
        hub.io_done(op, perform_io(op, store))
    assert isinstance(exchange.result, HttpSyncAnswer)
    assert store._actors == {"bob-1": "bob"}
    assert store.load("d") is not None


def test_access_changes_reach_open_connections() -> None:
    store = MemoryStore()
    rules = AccessRules()
    hub = Hub(store, authenticate=authenticate, authorize=rules)
    rules.feed.subscribe(hub.access_changed)
    alice, bob = Peer(hub, "a", "alice"), Peer(hub, "b", "bob")
    alice.subscribe("d")
    bob.subscribe("d")
    rules.set("alice", {"d": "read"})
    [changed] = errors(alice)
    assert changed.code is ErrorCode.PERMISSION_CHANGED and changed.doc_id == "d"
    assert "from write to read" in changed.message and not changed.fatal
    assert bob.received() == []  # another principal: untouched
    alice.subscribe("d")  # read access remains
    doc = Document("a")
    doc.set("k", 1)
    alice.push("d", doc.changes())
    [denied] = errors(alice)
    assert denied.code is ErrorCode.PERMISSION_DENIED and denied.batch_id == alice.batch
    assert store.load("d") is None  # nothing stored
    rules.set("alice", {})
    [revoked] = errors(alice)
    assert revoked.code is ErrorCode.PERMISSION_CHANGED and "from read to none" in revoked.message
    alice.send(Subscribe("d"))
    [refused] = errors(alice)
    assert refused.code is ErrorCode.PERMISSION_DENIED
    rules.set("alice", None)  # back to the token's grants: write
    hub.access_changed(AccessChange("alice"))
    assert alice.received() == []  # not subscribed to anything: nothing to tell
    alice.subscribe("d")
    alice.push("d", doc.changes())
    assert errors(alice) == []
    assert store.load("d") is not None


def test_a_token_that_expires_during_the_session_ends_it_unless_renewed() -> None:
    hub = Hub(MemoryStore(), authenticate=authenticate, wall_clock=lambda: 0.0)
    keeper, lapser = Peer(hub, "k", "keeper@100"), Peer(hub, "l", "lapser@100")
    assert keeper.welcome.token_expires_ms == 100_000
    hub.tick(99.0)
    assert keeper.received() == [] and lapser.received() == []
    keeper.send(Hello("k", "keeper@200"))
    [renewed] = keeper.received()
    assert isinstance(renewed, Welcome) and renewed.token_expires_ms == 200_000
    hub.tick(101.0)
    assert keeper.received() == []
    [expired] = errors(lapser)
    assert expired.code is ErrorCode.TOKEN_EXPIRED and expired.fatal
    assert lapser.conn not in hub.connections and keeper.conn in hub.connections


def test_renewing_with_another_principals_token_is_refused() -> None:
    hub = Hub(MemoryStore(), authenticate=authenticate)
    peer = Peer(hub, "k", "alice")
    peer.send(Hello("k", "bob"))
    [refused] = errors(peer)
    assert refused.code is ErrorCode.AUTH_FAILED and refused.fatal
    assert "same principal ('alice')" in refused.message


def test_an_expired_token_is_refused_at_hello() -> None:
    hub = Hub(MemoryStore(), authenticate=authenticate)
    [refused] = errors(Peer(hub, "k", "alice@10", welcome=False))
    assert refused.code is ErrorCode.TOKEN_EXPIRED and refused.fatal


def test_access_rules_survive_a_restart(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.set_access_rules("alice", AccessRules.encode({"team-*": "read"}))
    store.close()
    rules = AccessRules()
    seen: list[AccessChange] = []
    rules.feed.subscribe(seen.append)
    rules.load(SQLiteStore(tmp_path / "s.db").access_rules())
    assert seen == [AccessChange("alice")]
    alice = Principal("alice", parse_grants({"*": "admin"}))
    assert rules(alice, "team-1", "read") and not rules(alice, "team-1", "write")
    assert not rules(alice, "other", "read")  # the rules replace the token's grants
    assert rules(Principal("bob", parse_grants({"*": "write"})), "other", "write")


def test_views_do_not_register_their_client_id(tmp_path: Path) -> None:
    # A JSON view cannot write, so its client id ("viewer" by default) belongs to no one:
    # every principal may view with it.
    hub = Hub(SQLiteStore(tmp_path / "s.db"), authenticate=authenticate)
    author = Peer(hub, "w", "writer")
    author.subscribe("d")
    doc = Document("w")
    doc.set("x", 1)
    author.push("d", doc.changes())
    assert hub.doc_json("d", token="alice") == {"x": 1}
    assert hub.doc_json("d", token="bob") == {"x": 1}
    # A request that writes registers its id as before.
    Peer(hub, "viewer", "carol")
    [refused] = errors(Peer(hub, "viewer", "dave", welcome=False))
    assert refused.code is ErrorCode.NOT_AUTHOR
