"""What one participant may cost the others, on the hub without sockets: the handshake
deadline, subscriptions per connection, connections per principal, push bytes per second, and
what the server logs about it."""

from __future__ import annotations

import logging
import os

import pytest
from peer import Peer

from synckit.core import Document, VersionVector
from synckit.errors import AuthError
from synckit.protocol import (
    ClientSession,
    Error,
    ErrorCode,
    Hello,
    HttpSyncRequest,
    Push,
    ServerHttpExchange,
    State,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    encode_http_request,
)
from synckit.server import Hub, Limits, MemoryStore, Principal, parse_grants
from synckit.server._quota import Quotas, TokenBucket


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def authenticate(client_id: str, token: str) -> Principal:
    if not token or token.startswith("bad"):
        raise AuthError("token refused")
    return Principal(token, parse_grants({"*": "write"}))


def errors(peer: Peer) -> list[Error]:
    return [e for e in peer.received() if isinstance(e, Error)]


_viewers = iter(range(1_000_000))


def stored(hub: Hub, doc_id: str) -> object:
    # (A principal of its own each time: a view's catch-up costs its principal loop time.)
    return hub.doc_json(doc_id, token=f"viewer-{next(_viewers)}")


def big_change(author: str, size: int) -> bytes:
    doc = Document(author)
    doc.set("blob", os.urandom(size // 2).hex())
    return doc.changes()


def test_a_websocket_without_a_hello_is_closed_after_the_handshake_timeout() -> None:
    clock = Ticker()
    hub = Hub(MemoryStore(), limits=Limits(handshake_timeout=5), monotonic=clock)
    silent = hub.connect()
    honest = Peer(hub, "a")
    clock.now += 4.9
    hub.tick()
    assert not silent.closed
    clock.now += 0.2
    hub.tick()
    assert silent.closed
    [frame] = silent.take_frames()
    [error] = ClientSession().receive(frame)
    assert isinstance(error, Error)
    assert error.code is ErrorCode.HANDSHAKE_TIMEOUT and error.fatal
    assert "within 5 s" in error.message
    assert silent not in hub.connections
    # A connection that completed its handshake has no deadline.
    assert honest.session.state is State.OPEN and honest.conn in hub.connections
    honest.subscribe("d")


def test_the_handshake_deadline_counts_a_hello_still_being_decided_as_unfinished() -> None:
    # Claims of a client id wait for storage: a Hello stuck there times out like none at all.
    clock = Ticker()
    hub = Hub(None, authenticate=authenticate, monotonic=clock)
    waiting = Peer(hub, "c", "alice", welcome=False)
    assert waiting.received() == []
    clock.now += hub.limits.handshake_timeout + 1
    hub.tick()
    assert waiting.conn.closed


def test_subscriptions_per_connection_are_bounded() -> None:
    hub = Hub(MemoryStore(), limits=Limits(max_subscriptions=3))
    peer = Peer(hub, "a")
    for doc_id in ("d1", "d2", "d3"):
        peer.subscribe(doc_id)
    peer.send(Subscribe("d4"))
    [refused] = errors(peer)
    assert refused.code is ErrorCode.TOO_MANY and refused.doc_id == "d4"
    assert not refused.fatal and "max_subscriptions" in refused.message
    assert peer.session.state is State.OPEN
    assert "d4" not in hub.open_doc_ids
    peer.subscribe("d2")  # subscribing again to one it holds is no new subscription
    peer.send(Unsubscribe("d1"))
    peer.subscribe("d4")
    # Another connection has its own count.
    Peer(hub, "b").subscribe("d5")


def test_connections_per_principal_are_bounded_and_freed_on_close() -> None:
    hub = Hub(
        MemoryStore(), authenticate=authenticate, limits=Limits(max_connections_per_principal=2)
    )
    first, _second = Peer(hub, "a1", "alice"), Peer(hub, "a2", "alice")
    third = Peer(hub, "a3", "alice", welcome=False)
    [refused] = errors(third)
    assert refused.code is ErrorCode.TOO_MANY and refused.fatal and refused.retryable
    assert refused.retry_after_ms > 0
    assert "'alice'" in refused.message and "max_connections_per_principal" in refused.message
    assert third.session.state is State.CLOSED
    Peer(hub, "b1", "bob")  # another principal is not affected
    hub.disconnect(first.conn)
    Peer(hub, "a3", "alice")
    assert hub.quotas.connections_of("alice") == 2


def test_re_authenticating_does_not_count_the_connection_twice() -> None:
    hub = Hub(
        MemoryStore(), authenticate=authenticate, limits=Limits(max_connections_per_principal=1)
    )
    peer = Peer(hub, "a1", "alice")
    peer.send(Hello("a1", "alice"))
    assert any(isinstance(e, Welcome) for e in peer.received())
    assert hub.quotas.connections_of("alice") == 1


def test_an_open_server_does_not_limit_its_anonymous_clients() -> None:
    hub = Hub(MemoryStore(), limits=Limits(max_connections_per_principal=1))
    peers = [Peer(hub, f"p{i}") for i in range(3)]
    assert all(p.session.state is State.OPEN for p in peers)


def test_push_bytes_per_principal_are_rate_limited_with_a_retry_after() -> None:
    clock = Ticker()
    limits = Limits(
        max_frame_bytes=64 * 1024, push_bytes_per_second=1000, push_burst_bytes=64 * 1024
    )
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    # Two connections of one principal share one budget.
    one, two = Peer(hub, "m1", "mallory"), Peer(hub, "m2", "mallory")
    one.subscribe("d")
    two.subscribe("d")
    one.push("d", big_change("m1", 40_000))
    assert [type(e).__name__ for e in one.received()] == ["Ack"]
    before = stored(hub, "d")
    two.push("d", big_change("m2", 40_000))
    [refused] = errors(two)
    assert refused.code is ErrorCode.RATE_LIMITED and refused.retryable and not refused.fatal
    assert refused.doc_id == "d" and refused.batch_id == two.batch
    # About 16 s of budget are missing at 1,000 bytes per second.
    assert 10_000 < refused.retry_after_ms < 30_000
    assert stored(hub, "d") == before  # nothing stored changed
    assert two.session.state is State.OPEN
    # An honest principal on the same document is not affected.
    honest = Peer(hub, "h", "honest")
    honest.subscribe("d")
    honest.push("d", big_change("h", 40_000))
    assert [type(e).__name__ for e in honest.received() if not isinstance(e, Push)][-1] == "Ack"
    # Once the budget refilled, the same push is accepted.
    clock.now += refused.retry_after_ms / 1000
    two.push("d", big_change("m2", 40_000))
    assert "Ack" in [type(e).__name__ for e in two.received()]


def test_http_pushes_draw_on_the_same_budget() -> None:
    clock = Ticker()
    limits = Limits(
        max_frame_bytes=64 * 1024, push_bytes_per_second=1000, push_burst_bytes=64 * 1024
    )
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    ws = Peer(hub, "m1", "mallory")
    ws.subscribe("d")
    ws.push("d", big_change("m1", 60_000))
    ws.received()
    body = encode_http_request(HttpSyncRequest("m2", "mallory", changes=big_change("m2", 30_000)))
    result = hub.exchange(ServerHttpExchange("d", body, max_body_bytes=limits.max_frame_bytes))
    assert isinstance(result, Error) and result.code is ErrorCode.RATE_LIMITED
    assert result.retry_after_ms > 0


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=100.0, level=100.0, at=0.0)
    assert bucket.take(100, 0.0) == 0.0
    assert bucket.take(10, 0.0) == pytest.approx(1.0)
    assert bucket.take(10, 1.0) == 0.0
    assert bucket.take(50, 1000.0) == 0.0  # refilled, but never past the burst
    assert bucket.take(60, 1000.0) == pytest.approx(1.0)


def test_limits_refuse_values_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="handshake_timeout"):
        Limits(handshake_timeout=0)
    with pytest.raises(ValueError, match="push_burst_bytes"):
        Limits(max_frame_bytes=1 << 20, push_burst_bytes=1000)
    with pytest.raises(ValueError, match="max_subscriptions"):
        Limits(max_subscriptions=0)


def test_the_log_names_who_and_why_but_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="synckit.server")
    clock = Ticker()
    hub = Hub(
        MemoryStore(),
        authenticate=authenticate,
        limits=Limits(max_subscriptions=1),
        monotonic=clock,
    )
    Peer(hub, "x", "bad-s3cr3t", welcome=False)
    peer = Peer(hub, "a1", "alice")
    peer.subscribe("d1")
    peer.send(Subscribe("d2"))
    hub.connect()
    clock.now += 60
    hub.tick()
    events = [getattr(r, "synckit", {}) for r in caplog.records]
    by_event = {e.get("event"): e for e in events}
    assert by_event["auth_failed"]["code"] == "AUTH_FAILED"
    assert by_event["auth_failed"]["client"] == "x"
    assert by_event["connected"]["principal"] == "alice"
    limit_codes = {e["code"] for e in events if e.get("event") == "limit"}
    assert limit_codes == {"TOO_MANY", "HANDSHAKE_TIMEOUT"}
    too_many = next(e for e in events if e.get("code") == "TOO_MANY")
    assert too_many["doc"] == "d2" and too_many["principal"] == "alice"
    assert "s3cr3t" not in caplog.text


def test_one_connection_logs_a_bounded_number_of_refusals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="synckit.server")
    hub = Hub(MemoryStore(), authorize=lambda p, d, a: a == "read")
    peer = Peer(hub, "a")
    peer.subscribe("d")
    for _ in range(200):
        peer.push("d", Document("a").changes())
    assert len(errors(peer)) == 200
    lines = [r for r in caplog.records if r.name == "synckit.server"]
    assert len(lines) == 21  # 20 refusals, then one line saying the rest are not logged
    assert lines[-1].__dict__["synckit"]["event"] == "quiet"


def test_http_requests_do_not_take_connection_slots() -> None:
    hub = Hub(
        MemoryStore(), authenticate=authenticate, limits=Limits(max_connections_per_principal=1)
    )
    ws = Peer(hub, "a1", "alice")
    ws.subscribe("d")
    body = encode_http_request(HttpSyncRequest("a2", "alice"))
    result = hub.exchange(ServerHttpExchange("d", body, max_body_bytes=1 << 20))
    assert not isinstance(result, Error), result
    assert hub.doc_json("d", token="alice") is None
    assert hub.quotas.connections_of("alice") == 1


def test_a_subscribe_naming_too_many_client_ids_is_refused_and_the_connection_stays() -> None:
    hub = Hub(MemoryStore(), limits=Limits(max_version_entries=1_000))
    peer = Peer(hub, "a")
    huge = VersionVector({f"x{i:05d}": 1 for i in range(1_001)})
    peer.send(Subscribe("d", huge.encode()))
    [err] = peer.received()
    assert isinstance(err, Error) and err.code is ErrorCode.BAD_CHANGES and not err.fatal
    assert "1001 client ids" in err.message and "1000 allowed" in err.message
    assert not peer.conn.closed
    at_limit = VersionVector({f"x{i:05d}": 1 for i in range(1_000)})
    peer.send(Subscribe("d", at_limit.encode()))
    [answer] = peer.received()
    assert isinstance(answer, Subscribed)


def scattered_inserts(author: str, count: int, seed: int = 1) -> bytes:
    """``count`` single characters inserted at random places of a text: each its own item,
    the costliest shape to merge per byte pushed."""
    import random

    doc = Document(author)
    text = doc.get_text("t")
    rng = random.Random(seed)
    for _ in range(count):
        text.insert(rng.randrange(len(text) + 1), "x")
    return doc.changes()


def test_merge_time_per_principal_is_limited_with_a_retry_after() -> None:
    """A push that is cheap in bytes but dear to merge (scattered single-character inserts:
    a quarter of a megabyte takes the event loop about a quarter of a second, measured with
    the real clock here) puts its principal in debt; its next push is refused until the
    debt is repaid, while another principal pushes on."""
    import time

    offset = [0.0]

    def clock() -> float:  # the real clock, moved forward by hand to wait
        return time.monotonic() + offset[0]

    # (One push of 20,000 operations: more than max_push_ops allows by default.)
    limits = Limits(loop_share=0.1, loop_burst=0.02, max_push_ops=20_000)
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    one, two = Peer(hub, "m1", "mallory"), Peer(hub, "m2", "mallory")
    one.subscribe("d")
    two.subscribe("d")
    dear = scattered_inserts("m1", 20_000)
    assert len(dear) < 300_000  # well within the byte budget (16 MiB at once)
    started = time.monotonic()
    one.push("d", dear)
    took = time.monotonic() - started
    assert [type(e).__name__ for e in one.received()] == ["Ack"]
    assert took > 0.02  # (a few times that on any machine this runs on)
    before = stored(hub, "d")
    two.push("d", big_change("m2", 100))  # another connection of the same principal
    [refused] = errors(two)
    assert refused.code is ErrorCode.RATE_LIMITED and refused.retryable and not refused.fatal
    assert refused.doc_id == "d" and refused.batch_id == two.batch
    assert "loop_share" in refused.message and "'mallory'" in refused.message
    # The debt (the merge's time less the burst) repaid at a tenth of a second per second.
    assert (took - 0.02) / 0.1 * 1000 * 0.5 < refused.retry_after_ms < took / 0.1 * 1000 + 50
    assert stored(hub, "d") == before
    assert two.session.state is State.OPEN
    # Another principal is not affected.
    honest = Peer(hub, "h", "honest")
    honest.subscribe("d")
    honest.push("d", big_change("h", 100))
    assert "Ack" in [type(e).__name__ for e in honest.received()]
    # Once repaid, the same push is accepted.
    offset[0] += refused.retry_after_ms / 1000
    two.push("d", big_change("m2", 100))
    assert "Ack" in [type(e).__name__ for e in two.received()]


def test_a_refused_push_costs_merge_time_too() -> None:
    # Bytes that fail the merge's checks took the loop's time all the same.
    clock = SteppingClock()
    limits = Limits(loop_share=0.5, loop_burst=1.0)
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    peer = Peer(hub, "m1", "mallory")
    peer.subscribe("d")
    clock.merge_cost = 3.0  # each merge takes 3 s of this clock
    peer.push("d", b"\x08\x63")  # a format this server does not read
    [bad] = errors(peer)
    assert bad.code is ErrorCode.BAD_CHANGES
    peer.push("d", big_change("m1", 100))
    [refused] = errors(peer)
    assert refused.code is ErrorCode.RATE_LIMITED
    # 3 s taken, 1 s of burst: 2 s owed at half a second per second.
    assert refused.retry_after_ms == 4000


def test_an_open_server_does_not_limit_merge_time() -> None:
    clock = SteppingClock()
    hub = Hub(MemoryStore(), limits=Limits(loop_burst=0.0), monotonic=clock)
    peer = Peer(hub, "a")
    peer.subscribe("d")
    clock.merge_cost = 100.0
    doc = Document("a")
    for i in range(3):
        since = doc.version()
        doc.set("k", i)
        peer.push("d", doc.changes(since))
        assert [type(e).__name__ for e in peer.received()] == ["Ack"]


class SteppingClock(Ticker):
    """A hand-moved clock that also moves by ``merge_cost`` while the hub merges a push and
    by ``catch_up_cost`` while it computes a subscription's catch-up: its reading right
    after the one taken before either is that much later."""

    def __init__(self) -> None:
        super().__init__()
        self.merge_cost = 0.0
        self.catch_up_cost = 0.0

    def __call__(self) -> float:
        import sys

        caller = sys._getframe(1)
        name, names = caller.f_code.co_name, caller.f_locals
        if name == "_commit" and "merging" in names:
            self.now += self.merge_cost
        elif name == "_on_subscribe" and "started" in names:
            self.now += self.catch_up_cost
        return self.now


def test_catching_a_subscription_up_costs_loop_time_and_is_refused_in_debt() -> None:
    # A Subscribe of a few bytes can ask for a large document's whole history: what that
    # costs the loop counts like a merge, and a principal in debt may not subscribe either.
    clock = SteppingClock()
    limits = Limits(loop_share=0.25, loop_burst=1.0)
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    writer = Peer(hub, "w1", "writer")
    writer.subscribe("d")
    mine = Document("w1")
    mine.set("k", 1)
    writer.push("d", mine.changes())
    reader = Peer(hub, "r1", "reader")
    clock.catch_up_cost = 2.0
    reader.subscribe("d", VersionVector({"nobody": 1}))  # not a version anyone has: all of it
    reader.send(Subscribe("e"))
    [refused] = errors(reader)
    assert refused.code is ErrorCode.RATE_LIMITED and refused.retryable
    assert refused.doc_id == "e" and "subscribe is refused" in refused.message
    assert refused.retry_after_ms == 4000  # 1 s owed at a quarter of a second per second
    assert "e" not in reader.conn.levels
    # Its pushes wait too; the writer's do not.
    reader.push("d", big_change("r1", 100))
    [refused] = errors(reader)
    assert refused.code is ErrorCode.RATE_LIMITED and refused.batch_id == reader.batch
    clock.catch_up_cost = 0.0
    since = mine.version()
    mine.set("k", 2)
    writer.push("d", mine.changes(since))
    assert not errors(writer)
    # Once repaid, it subscribes (after the writer's broadcast to it).
    clock.now += 4.0
    reader.send(Subscribe("e"))
    assert [type(e).__name__ for e in reader.received()] == ["Broadcast", "Subscribed"]


def test_merge_bucket_goes_into_debt_and_reports_what_is_owed() -> None:
    bucket = TokenBucket(rate=0.5, burst=1.0, level=1.0, at=0.0)
    assert bucket.owed(0.0) == 0.0
    bucket.spend(3.0, 0.0)
    assert bucket.owed(0.0) == pytest.approx(4.0)
    assert bucket.owed(2.0) == pytest.approx(2.0)
    assert bucket.owed(4.0) == 0.0
    bucket.spend(0.5, 10.0)  # refilled to the burst (1.0), then 0.5 taken
    assert bucket.level == pytest.approx(0.5) and bucket.owed(10.0) == 0.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loop_share", 0.0),
        ("loop_share", 1.5),
        ("loop_share", "0.25"),
        ("loop_burst", -1.0),
        ("loop_burst", 1e9),
        ("read_share", 0.0),
        ("read_share", True),
        ("read_burst", -0.5),
    ],
)
def test_merge_limits_refuse_values_that_cannot_work(field: str, value: object) -> None:
    from synckit.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match=f"Limits.{field}"):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_a_version_holding_half_or_less_is_answered_with_the_kept_whole_changes() -> None:
    # Nothing of the document's is in such a version: what it lacks is everything, the very
    # bytes an empty version gets (encoded once per document version, not per subscribe).
    hub = Hub(MemoryStore(), authenticate=authenticate)
    writer = Peer(hub, "w1", "writer")
    writer.subscribe("d")
    mine = Document("w1")
    for i in range(5):
        since = mine.version()
        mine.set(f"k{i}", i)
        writer.push("d", mine.changes(since))
    empty = Peer(hub, "r1", "reader").subscribe("d")
    strangers = Peer(hub, "r2", "reader").subscribe("d", VersionVector({"nobody": 7, "x": 1}))
    assert strangers.changes == empty.changes
    room = hub.rooms.get("d")
    assert room is not None and room.whole is not None and room.whole.data == empty.changes
    # Holding more than half of it: what it lacks, computed for it.
    partial = Peer(hub, "r3", "reader").subscribe("d", VersionVector({"w1": 3, "nobody": 7}))
    replica = Document("r3")
    replica.apply(mine.changes(None, VersionVector({"w1": 3})))
    replica.apply(partial.changes)
    assert replica.to_json() == mine.to_json() and len(partial.changes) < len(empty.changes)
    # Holding half or less (long behind, or a version made up to cost the server a large
    # document's history): the whole changes, which bring it to the same state.
    behind = Peer(hub, "r4", "reader").subscribe("d", VersionVector({"w1": 2}))
    assert behind.changes == empty.changes
    replica = Document("r4")
    replica.apply(mine.changes(None, VersionVector({"w1": 2})))
    replica.apply(behind.changes)
    assert replica.to_json() == mine.to_json() and replica.version() == mine.version()


def test_loop_buckets_of_principals_idle_long_enough_are_forgotten() -> None:
    from synckit.server._quota import _IDLE_BUCKET_SECONDS

    quotas = Quotas(Limits(loop_share=0.5, loop_burst=1.0))
    quotas.charge_loop("busy", 3.0, 0.0)
    quotas.charge_loop("repaid", 0.5, 0.0)
    assert quotas.loop_debt("busy", 0.0) is not None
    # The sweep runs with a byte charge, at most every _IDLE_BUCKET_SECONDS.
    quotas.charge("other", 1, _IDLE_BUCKET_SECONDS)
    assert set(quotas._loop) == set()  # both repaid and refilled long ago
    quotas.charge_loop("busy", 3.0, _IDLE_BUCKET_SECONDS)
    quotas.charge("other", 1, 2 * _IDLE_BUCKET_SECONDS - 1)  # (not yet time to sweep)
    quotas.charge("other", 1, 2 * _IDLE_BUCKET_SECONDS + 1)
    assert set(quotas._loop) == set()
    quotas.charge_loop("busy", 1000.0, 3 * _IDLE_BUCKET_SECONDS)
    quotas.charge("other", 1, 4 * _IDLE_BUCKET_SECONDS)  # still 1,000 s in debt: kept
    assert set(quotas._loop) == {"busy"}


def test_a_room_compacted_in_memory_drops_its_kept_whole_changes() -> None:
    # Kept, the whole changes would hold as much as the document live_docs keeps encoded.
    hub = Hub(MemoryStore(), limits=Limits(live_docs=1))
    writer = Peer(hub, "w")
    for doc_id in ("d1", "d2"):
        writer.subscribe(doc_id)
    mine = Document("w")
    mine.set("k", 1)
    writer.push("d1", mine.changes())
    Peer(hub, "r").subscribe("d1")
    room = hub.rooms.get("d1")
    assert room is not None and room.whole is not None
    writer.push("d2", mine.changes())  # d2 is used last: d1 is compacted
    assert room.whole is None and room.extended is None
    assert Peer(hub, "r2").subscribe("d1").changes == mine.changes()


def test_catch_up_bytes_per_principal_are_limited_with_a_retry_after() -> None:
    # A Subscribe of a few bytes with an empty version is answered with the whole document:
    # what a principal is sent counts against catch_up_bytes_per_second, and while it owes
    # bytes its next subscribe is refused; its pushes and other principals go on.
    clock = Ticker()
    limits = Limits(catch_up_bytes_per_second=10_000, catch_up_burst_bytes=20_000)
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    writer = Peer(hub, "w1", "writer")
    writer.subscribe("big")
    writer.push("big", big_change("w1", 15_000))
    assert "Ack" in [type(e).__name__ for e in writer.received()]
    reader = Peer(hub, "r1", "reader")
    reader.subscribe("small")
    first = reader.subscribe("big")  # ~15 KB of the 20 KB burst
    reader.send(Unsubscribe("big"))
    second = reader.subscribe("big")  # taken whatever the level: ~10 KB owed now
    assert first.changes == second.changes and len(first.changes) > 15_000
    reader.send(Unsubscribe("big"))
    reader.send(Subscribe("big"))
    [refused] = errors(reader)
    assert refused.code is ErrorCode.RATE_LIMITED and refused.retryable and not refused.fatal
    assert refused.doc_id == "big" and "catch_up_bytes_per_second" in refused.message
    owed = 2 * len(first.changes) - 20_000
    assert refused.retry_after_ms == pytest.approx(owed / 10, abs=2)  # at 10 bytes per ms
    # Another principal is caught up meanwhile; the reader still pushes.
    assert Peer(hub, "o1", "other").subscribe("big").changes == first.changes
    reader.push("small", big_change("r1", 10))
    assert [type(e).__name__ for e in reader.received()] == ["Ack"]
    clock.now += refused.retry_after_ms / 1000
    assert reader.subscribe("big").changes == first.changes


def test_an_open_server_does_not_limit_catch_up_bytes() -> None:
    hub = Hub(MemoryStore(), limits=Limits(catch_up_bytes_per_second=1, catch_up_burst_bytes=1))
    writer = Peer(hub, "w")
    writer.subscribe("d")
    writer.push("d", big_change("w", 1000))
    reader = Peer(hub, "r")
    for _ in range(3):
        assert len(reader.subscribe("d").changes) > 1000
        reader.send(Unsubscribe("d"))


def waiting_change(author: str, seq: int) -> bytes:
    """A field write of ``author`` at ``seq`` that depends on an operation nobody will ever
    send (client "ghost", seq 1,000,000): it waits inside the document for good."""
    from synckit.core import _ops as K
    from synckit.core._codec import ChangeSetWriter

    writer = ChangeSetWriter([author, "ghost"])
    writer.add(0, seq, {1: 1_000_000}, [(K.FIELD_SET, seq, f"w{seq}", 1, seq)])
    return writer.to_bytes()


def test_changes_that_would_wait_are_refused_past_max_waiting_changes() -> None:
    # Every merge into a document looks at what waits in it: changes depending on
    # operations that never come would make every later push dear, and for good.
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=Limits(max_waiting_changes=3))
    mallory, honest = Peer(hub, "m1", "mallory"), Peer(hub, "h1", "honest")
    mallory.subscribe("d")
    honest.subscribe("d")
    for seq in (1, 2, 3):  # the first waits for "ghost", the next for the one before
        mallory.push("d", waiting_change("m1", seq))
        assert [type(e).__name__ for e in mallory.received()] == ["Ack"]
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None and room.logged.doc.waiting == 3
    mallory.push("d", waiting_change("m1", 4))
    [refused] = errors(mallory)
    assert refused.code is ErrorCode.TOO_MANY and refused.retryable and not refused.fatal
    assert refused.retry_after_ms == 1000 and "max_waiting_changes" in refused.message
    assert room.logged.doc.waiting == 3
    # A push that waits for nothing goes on as ever.
    honest.push("d", big_change("h1", 100))
    assert "Ack" in [type(e).__name__ for e in honest.received()]


def test_a_review_counts_the_changes_that_would_wait() -> None:
    from synckit.core import ChangeReview

    held = Document("h")
    held.set("a", 1)
    author = Document("x")
    author.apply(held.changes())
    author.set("b", 1)  # depends on h:1, held
    author.set("c", 2)  # its own previous one, in the same batch
    later = Document("y")
    later.set("z", 1)
    author.apply(later.changes())
    author.set("d", 3)  # depends on y:1, which the reader does not hold
    author.set("e", 4)  # and so waits behind it
    counts: list[int] = []

    def screen(review: ChangeReview) -> None:
        counts.append(review.waiting())

    reader = Document("r")
    reader.apply(held.changes())
    # x's operations only: the reader lacks y:1, which the last two depend on.
    reader.apply(author.changes(held.version().merge(later.version())), screen=screen)
    assert counts and counts[0] >= 1 and reader.waiting == counts[0]
    assert reader.get("d") is None and reader.get("e") is None
    reader.apply(later.changes())  # y:1 arrives: nothing waits any more
    assert reader.waiting == 0 and reader.get("e") == 4


def test_a_push_naming_many_new_client_ids_is_refused_before_they_are_added() -> None:
    # Every client id a push's table names is kept with the document for good, used or not.
    from synckit.v1 import changes_pb2

    hub = Hub(MemoryStore(), authenticate=authenticate, limits=Limits(max_new_clients=3))
    peer = Peer(hub, "m1", "mallory")
    peer.subscribe("d")
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    known = list(room.logged.doc._clients)  # (the server's replica's own id)
    mine = Document("m1")
    mine.set("k", 1)
    message = changes_pb2.ChangeSet()
    message.ParseFromString(mine.changes())
    message.clients.extend(f"junk-{i}" for i in range(4))  # 4 new besides the writer's own
    peer.push("d", message.SerializeToString())
    [refused] = errors(peer)
    assert refused.code is ErrorCode.TOO_MANY and refused.retryable and not refused.fatal
    assert "max_new_clients" in refused.message and refused.retry_after_ms == 1000
    assert room.logged.doc._clients == known and room.logged.doc.version() == VersionVector()
    del message.clients[-1]  # 3 new: within the limit, but no change uses them
    peer.push("d", message.SerializeToString())
    [refused] = errors(peer)
    assert refused.code is ErrorCode.BAD_CHANGES and not refused.retryable
    assert (
        "'junk-0'" in refused.message and "neither the author nor a dependency" in refused.message
    )
    assert room.logged.doc._clients == known and room.logged.doc.version() == VersionVector()
    peer.push("d", mine.changes())  # the same change, its table as a writer makes it
    assert [type(e).__name__ for e in peer.received()] == ["Ack"]


def test_client_ids_no_change_uses_are_refused_however_often_they_come() -> None:
    # Up to max_new_clients made-up ids a push, each kept for good, added up without bound:
    # 200 pushes of 64 grew a document to 12,802 client ids (a 196 KB snapshot of one field).
    from synckit.v1 import changes_pb2

    hub = Hub(MemoryStore(), authenticate=authenticate)
    peer = Peer(hub, "m1", "mallory")
    peer.subscribe("d")
    room = hub.rooms.get("d")
    assert room is not None and room.logged is not None
    mine = Document("m1")
    for r in range(50):
        before = mine.version()
        mine.set("k", r)
        message = changes_pb2.ChangeSet()
        message.ParseFromString(mine.changes(before))
        message.clients.extend(f"fake-{r}-{i}" for i in range(64))
        peer.push("d", message.SerializeToString())
        [refused] = errors(peer)
        assert refused.code is ErrorCode.BAD_CHANGES
    assert len(room.logged.doc._clients) <= 2  # (the server's own id and maybe m1's)
    # An id a change depends on is new and honest (its author wrote elsewhere): taken, and
    # the change waits for it.
    other = Document("elsewhere")
    other.set("o", 1)
    mine.apply(other.changes())
    mine.set("after", 1)  # (m1's own changes only: elsewhere's are not m1's to send)
    peer.push("d", mine.changes(room.logged.doc.version().merge(other.version())))
    assert [type(e).__name__ for e in peer.received()] == ["Ack"]
    assert "elsewhere" in room.logged.doc._clients and room.logged.doc.waiting >= 1


def test_a_merge_stopped_part_way_costs_its_principal_the_whole_loop_burst() -> None:
    # Stopping a merge reloads the document and disconnects its subscribers: a principal
    # whose push did that may not push again until its whole burst is repaid.
    from synckit.core import _ops as K
    from synckit.core._codec import ChangeSetWriter

    clock = Ticker()
    limits = Limits(max_merge_work=1_000, loop_share=0.25, loop_burst=2.0)
    hub = Hub(MemoryStore(), authenticate=authenticate, limits=limits, monotonic=clock)
    writer, mallory = Peer(hub, "w1", "writer"), Peer(hub, "m1", "mallory")
    writer.subscribe("d")
    base = Document("w1")
    base.get_text("t").insert(0, "ab")
    writer.push("d", base.changes())
    assert "Ack" in [type(e).__name__ for e in writer.received()]
    mallory.subscribe("d")
    table = ChangeSetWriter(["m1", "w1"])
    gap = [(K.TEXT_INSERT, 1 + i, "t", (1, 1), (1, 2), "z") for i in range(100)]
    table.add(0, 1, {1: 2}, gap)  # ~5,000 scan steps
    mallory.push("d", table.to_bytes())
    stopped = errors(mallory)[0]
    assert stopped.code is ErrorCode.TOO_MANY and "max_merge_work" in stopped.message
    assert writer.conn.closed  # the document was reloaded: its subscribers reconnect
    retry = Peer(hub, "m2", "mallory")
    retry.send(Subscribe("d"))
    [refused] = errors(retry)
    assert refused.code is ErrorCode.RATE_LIMITED
    assert refused.retry_after_ms >= 8000  # the 2 s burst owed, at a quarter second a second
    assert Peer(hub, "w2", "writer").subscribe("d").changes  # others go on


def test_subscriptions_per_principal_are_limited_over_its_connections() -> None:
    # Each subscription holds a room open: max_subscriptions bounds one connection, this
    # bounds the principal over all of them (otherwise 1,000 x 100 connections).
    hub = Hub(
        MemoryStore(), authenticate=authenticate, limits=Limits(max_subscriptions_per_principal=3)
    )
    one, two = Peer(hub, "m1", "mallory"), Peer(hub, "m2", "mallory")
    one.subscribe("a")
    one.subscribe("b")
    two.subscribe("c")
    two.subscribe("c")  # (again: no more rooms held)
    two.send(Subscribe("d"))
    [refused] = errors(two)
    assert refused.code is ErrorCode.TOO_MANY and not refused.fatal and refused.doc_id == "d"
    assert "max_subscriptions_per_principal" in refused.message
    Peer(hub, "o1", "other").subscribe("d")  # another principal is not concerned
    one.send(Unsubscribe("a"))
    assert two.subscribe("d").doc_id == "d"
    hub.disconnect(one.conn)  # its subscriptions go with the connection
    two.subscribe("e")


def test_an_open_server_does_not_limit_subscriptions_per_principal() -> None:
    hub = Hub(MemoryStore(), limits=Limits(max_subscriptions_per_principal=1))
    peer = Peer(hub, "a")
    for doc_id in ("x", "y", "z"):
        peer.subscribe(doc_id)


def test_reading_time_is_counted_per_principal_and_per_anonymous_connection() -> None:
    quotas = Quotas(Limits(read_share=0.25, read_burst=0.5))
    # Within the burst: read on; past it, stop reading until the time is repaid at 25 %.
    assert quotas.charge_read("mallory", 0.4, 0.0) == 0.0
    assert quotas.charge_read("mallory", 0.3, 0.0) == pytest.approx(0.8)
    # One principal's connections share one budget; another principal has its own.
    assert quotas.charge_read("mallory", 0.0, 0.4) == pytest.approx(0.4)
    assert quotas.charge_read("alice", 0.3, 0.4) == 0.0
    # Anonymous connections (an open server's) are counted one by one.
    assert quotas.charge_read(7, 0.6, 0.4) == pytest.approx(0.4)
    assert quotas.charge_read(8, 0.1, 0.4) == 0.0
    assert quotas.charge_read("mallory", 0.0, 0.8) == 0.0  # repaid


def test_a_hub_charges_what_a_connection_sends_to_its_principal() -> None:
    now = [0.0]
    hub = Hub(None, limits=Limits(read_share=0.5, read_burst=0.1), monotonic=lambda: now[0])
    first, second = hub.connect(), hub.connect()
    assert hub.charge_read(first, 0.3) == pytest.approx(0.4)  # anonymous: its own budget
    assert hub.charge_read(second, 0.05) == 0.0
