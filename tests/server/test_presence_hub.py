"""Presence on the Hub without a network: coalescing per tick, no echo, the joiner's snapshot,
timeouts, limits and the attacks (someone else's identity, a document not subscribed to or no
longer readable, floods, many rooms), and the relay between servers."""

from __future__ import annotations

import json

import pytest

from synckit.protocol import (
    PRESENCE,
    ClientSession,
    Error,
    ErrorCode,
    Event,
    Hello,
    Presence,
    PresenceEntry,
    PresenceSet,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    decode_frame,
    encode_frame,
    encode_presence_body,
    encode_presence_entry,
)
from synckit.server import AccessChange, Hub, Limits, MemoryStore, PresenceTable, Principal
from synckit.server._principal import Grant


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Member:
    """A client session with the presence capability on one hub connection."""

    def __init__(self, hub: Hub, name: str, *, presence: bool = True) -> None:
        self.hub = hub
        self.session = ClientSession()
        self.conn = hub.connect()
        self.send(Hello(name, name, (PRESENCE,) if presence else ()))
        [welcome] = self.received()
        assert isinstance(welcome, Welcome), welcome
        self.welcome = welcome

    def send(self, event: Event) -> None:
        self.session.send(event)
        for frame in self.session.data_to_send():
            self.hub.receive(self.conn, frame)

    def received(self) -> list[Event]:
        events: list[Event] = []
        for frame in self.conn.take_frames():
            events.extend(self.session.receive(frame))
        return events

    def join(self, doc_id: str) -> list[Event]:
        self.send(Subscribe(doc_id))
        events = self.received()
        assert isinstance(events[0], Subscribed)
        return events[1:]

    def set(self, doc_id: str, **state: object) -> None:
        self.send(PresenceSet(doc_id, json.dumps(state).encode()))

    def presence(self) -> list[Presence]:
        return [e for e in self.received() if isinstance(e, Presence)]


def states(frame: Presence) -> dict[str, object]:
    return {e.key: None if e.removed else json.loads(e.state) for e in frame.entries}


def grants_all(client_id: str, token: str) -> Principal:
    return Principal(token or client_id, (Grant("*", "write"),))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_hub(clock: Clock, **limits: object) -> Hub:
    return Hub(
        MemoryStore(),
        authenticate=grants_all,
        monotonic=clock,
        limits=Limits(**limits),  # type: ignore[arg-type]
    )


def test_welcome_announces_presence_and_its_limits(clock: Clock) -> None:
    hub = make_hub(clock, max_presence_bytes=100, presence_timeout=3.0)
    alice = Member(hub, "alice")
    assert PRESENCE in alice.welcome.capabilities
    assert alice.welcome.max_presence_bytes == 100
    assert alice.welcome.presence_timeout_ms == 3000
    assert alice.session.presence


def test_one_frame_per_member_per_tick_with_every_change_and_never_its_own(clock: Clock) -> None:
    hub = make_hub(clock)
    members = [Member(hub, f"u{i}") for i in range(5)]
    for m in members:
        m.join("d")
    hub.presence.flush()
    for m in members:
        m.received()
    # Everyone moves its cursor many times within one tick.
    for step in range(100):
        for i, m in enumerate(members[:3]):
            m.set("d", x=step, who=i)
    assert all(m.presence() == [] for m in members)  # nothing before the tick
    hub.presence.flush()
    keys = {m: hub.presence.key_of(m.conn) for m in members}
    for m in members:
        frames = m.presence()
        assert len(frames) == 1  # one frame, whatever the number of sets
        seen = states(frames[0])
        assert keys[m] not in seen  # never the receiver's own state back
        movers = {keys[o] for o in members[:3] if o is not m}
        assert set(seen) == movers
        assert all(s == {"x": 99, "who": members.index(o)} for o, s in _by_member(seen, keys))
    hub.presence.flush()
    assert all(m.presence() == [] for m in members)  # nothing changed: nothing sent


def _by_member(seen: dict[str, object], keys: dict[Member, str]) -> list[tuple[Member, object]]:
    return [(m, seen[k]) for m, k in keys.items() if k in seen]


def test_the_only_mover_gets_nothing_and_the_entry_names_its_principal(clock: Clock) -> None:
    hub = make_hub(clock)
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    alice.join("d")
    bob.join("d")
    # A state claiming another identity changes nothing about who it is shown as.
    alice.set("d", name="bob", principal="bob", key="x")
    hub.presence.flush()
    assert alice.presence() == []
    [frame] = bob.presence()
    [entry] = frame.entries
    assert entry.principal == "alice" and entry.client_id == "alice"
    assert entry.key == hub.presence.key_of(alice.conn)
    assert json.loads(entry.state)["principal"] == "bob"  # only inside its own state


def test_a_joiner_gets_everyone_once_right_after_subscribed(clock: Clock) -> None:
    hub = make_hub(clock)
    early = [Member(hub, f"u{i}") for i in range(3)]
    for i, m in enumerate(early):
        m.join("d")
        m.set("d", i=i)
    hub.presence.flush()
    late = Member(hub, "late")
    late.send(Subscribe("d"))
    events = late.received()
    assert isinstance(events[0], Subscribed)
    [snapshot] = events[1:]
    assert isinstance(snapshot, Presence)
    assert sorted(s["i"] for s in states(snapshot).values()) == [0, 1, 2]  # type: ignore[index]
    hub.presence.flush()
    assert late.presence() == []  # once


def test_unchanged_renewals_are_not_passed_on_and_silence_times_out(clock: Clock) -> None:
    hub = make_hub(clock, presence_timeout=10.0)
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    alice.join("d")
    bob.join("d")
    alice.set("d", x=1)
    hub.presence.flush()
    assert len(bob.presence()) == 1
    for _ in range(3):  # renewals within the timeout
        clock.now += 6
        alice.set("d", x=1)
        hub.tick()
        hub.presence.flush()
        assert bob.presence() == []
    clock.now += 9
    hub.tick()
    hub.presence.flush()
    assert bob.presence() == []  # renewed 9 s ago: still there
    clock.now += 2
    hub.tick()
    hub.presence.flush()
    [frame] = bob.presence()
    [entry] = frame.entries
    assert entry.removed and entry.key == hub.presence.key_of(alice.conn)
    assert hub.presence.entries("d") == {}


@pytest.mark.parametrize("how", ["unsubscribe", "disconnect", "clear"])
def test_leaving_removes_the_entry(clock: Clock, how: str) -> None:
    hub = make_hub(clock)
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    alice.join("d")
    bob.join("d")
    alice.set("d", x=1)
    hub.presence.flush()
    bob.received()
    if how == "unsubscribe":
        alice.send(Unsubscribe("d"))
    elif how == "disconnect":
        hub.disconnect(alice.conn)
    else:
        alice.send(PresenceSet("d", b""))
    hub.presence.flush()
    [frame] = bob.presence()
    assert [e.removed for e in frame.entries] == [True]
    assert hub.presence.entries("d") == {}


def test_revoked_read_access_removes_the_entry() -> None:
    readable = {"d": True}
    hub = Hub(
        MemoryStore(),
        authenticate=grants_all,
        authorize=lambda principal, doc_id, action: readable.get(doc_id, False),
    )
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    alice.join("d")
    bob.join("d")
    alice.set("d", x=1)
    hub.presence.flush()
    bob.received()
    readable["d"] = False
    hub.access_changed(AccessChange("alice"))
    hub.access_changed(AccessChange("bob"))  # bob loses it too: no frame for him either
    readable["d"] = True
    assert [e.code for e in alice.received() if isinstance(e, Error)] == [
        ErrorCode.PERMISSION_CHANGED
    ]
    assert hub.presence.entries("d") == {}
    # A state sent after the subscription ended (past the client session's own check, as an
    # attacker would) is refused, and no entry appears.
    hub.receive(alice.conn, encode_frame(PresenceSet("d", b'{"x":2}')))
    [refusal] = _raw(alice)
    assert refusal.code is ErrorCode.ILLEGAL_STATE
    assert not refusal.doc_id and not refusal.fatal
    assert hub.presence.entries("d") == {}


def test_presence_for_a_document_not_subscribed_to_is_refused(clock: Clock) -> None:
    hub = make_hub(clock)
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    bob.join("secret")
    alice.join("d")
    # Past the client session's own check (an unnumbered frame), as an attacker would.
    hub.receive(alice.conn, encode_frame(PresenceSet("secret", b'{"x":1}')))
    [refusal] = _raw(alice)
    assert refusal.code is ErrorCode.ILLEGAL_STATE and "not subscribed" in refusal.message
    hub.presence.flush()
    assert bob.presence() == []
    assert hub.presence.entries("secret") == {}
    assert not alice.conn.closed


def _raw(member: Member) -> list[Error]:
    """The errors queued for ``member``, read without its session."""
    return [e for f in member.conn.take_frames() if isinstance(e := decode_frame(f), Error)]


def test_a_state_over_the_limit_or_not_an_object_is_refused_and_the_subscription_stays(
    clock: Clock,
) -> None:
    hub = make_hub(clock, max_presence_bytes=64)
    alice, bob = Member(hub, "alice"), Member(hub, "bob")
    alice.join("d")
    bob.join("d")
    alice.set("d", x=1)
    alice.send(PresenceSet("d", json.dumps({"x": "y" * 100}).encode()))
    alice.send(PresenceSet("d", b"[1, 2]"))
    alice.send(PresenceSet("d", b"\xff not json"))
    alice.send(PresenceSet("d", '{"x":1}'.encode("utf-16")))  # JSON, but not UTF-8
    alice.send(PresenceSet("d", b'{"a":' * 8 + b"1" + b"}" * 8))  # fits, nested: fine
    errors = [e for e in alice.received() if isinstance(e, Error)]
    assert [e.code for e in errors] == [
        ErrorCode.PRESENCE_TOO_LARGE,
        ErrorCode.BAD_PRESENCE,
        ErrorCode.BAD_PRESENCE,
        ErrorCode.BAD_PRESENCE,
    ]
    assert "max_presence_bytes" in errors[0].message and "64" in errors[0].message
    assert all(e.doc_id == "d" and not e.fatal for e in errors)
    assert alice.session.doc_state("d") is not None  # still subscribed
    alice.set("d", x=1)
    hub.presence.flush()
    [frame] = bob.presence()
    assert list(states(frame).values()) == [{"x": 1}]  # the last good state stands


def test_a_state_nested_deeper_than_the_stack_is_refused_not_a_crash(clock: Clock) -> None:
    hub = make_hub(clock, max_presence_bytes=400_000)
    alice = Member(hub, "alice")
    alice.join("d")
    alice.send(PresenceSet("d", b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}"))
    [error] = alice.received()
    assert isinstance(error, Error) and error.code is ErrorCode.BAD_PRESENCE
    assert not alice.conn.closed
    assert hub.presence.entries("d") == {}


def test_presence_in_too_many_documents_is_refused(clock: Clock) -> None:
    hub = make_hub(clock, max_presence_docs=3)
    alice = Member(hub, "alice")
    for i in range(5):
        alice.join(f"d{i}")
    for i in range(5):
        alice.set(f"d{i}", x=i)
    errors = [e for e in alice.received() if isinstance(e, Error)]
    assert [e.doc_id for e in errors] == ["d3", "d4"]
    assert all("max_presence_docs" in e.message for e in errors)
    alice.send(PresenceSet("d0", b""))  # clearing one makes room
    alice.set("d4", x=4)
    assert alice.received() == []
    assert sorted(d for d in ("d0", "d1", "d2", "d3", "d4") if hub.presence.entries(d)) == [
        "d1",
        "d2",
        "d4",
    ]


def test_a_client_without_the_capability_gets_no_presence_and_may_send_none(
    clock: Clock,
) -> None:
    hub = make_hub(clock)
    old, alice = Member(hub, "old", presence=False), Member(hub, "alice")
    old.join("d")
    alice.join("d")
    alice.set("d", x=1)
    hub.presence.flush()
    assert old.received() == []
    hub.receive(old.conn, encode_frame(PresenceSet("d", b'{"x":1}')))
    [refusal] = _raw(old)
    assert refusal.code is ErrorCode.ILLEGAL_STATE and refusal.fatal
    assert "capability" in refusal.message


def test_relays_between_two_tables_and_a_dead_server_times_out(clock: Clock) -> None:
    hubs = [make_hub(clock, presence_timeout=9.0) for _ in range(2)]
    wires: list[list[bytes]] = [[], []]
    for i, hub in enumerate(hubs):
        hub.presence.on_relay = wires[i].append

    def deliver() -> None:
        for i, hub in enumerate(hubs):
            for relay in wires[1 - i]:
                hub.presence.merge_relay(relay, clock.now)
            wires[1 - i].clear()

    alice, bob = Member(hubs[0], "alice"), Member(hubs[1], "bob")
    alice.join("d")
    bob.join("d")
    alice.set("d", x=1)
    hubs[0].presence.flush()
    deliver()
    hubs[1].presence.flush()
    [frame] = bob.presence()
    [entry] = frame.entries
    assert entry.principal == "alice" and json.loads(entry.state) == {"x": 1}
    assert entry.key == hubs[0].presence.key_of(alice.conn)
    # A relay cannot touch another server's entries (here: bob's, named by key).
    forged = {
        "o": "evil",
        "full": False,
        "rooms": {"d": [[hubs[1].presence.key_of(bob.conn), "mallory", "m", '{"x":9}']]},
    }
    bob.set("d", x=2)
    hubs[1].presence.merge_relay(json.dumps(forged).encode(), clock.now)
    hubs[1].presence.flush()
    assert hubs[1].presence.entries("d")[hubs[1].presence.key_of(bob.conn)].principal == "bob"
    # Server 0 relays in full every third of the timeout, then dies.
    for _ in range(4):
        clock.now += 3
        hubs[0].tick()
        hubs[1].tick()
        alice.set("d", x=1)
        bob.set("d", x=2)
        deliver()
    hubs[1].presence.flush()
    bob.received()
    assert entry.key in hubs[1].presence.entries("d")
    wires[0].clear()
    hubs[0].presence.on_relay = None  # server 0 is gone: it relays nothing more
    clock.now += 8
    hubs[1].tick()
    assert entry.key in hubs[1].presence.entries("d")
    clock.now += 2
    hubs[1].tick()
    hubs[1].presence.flush()
    assert entry.key not in hubs[1].presence.entries("d")
    [frame] = bob.presence()
    assert [(e.key, e.removed) for e in frame.entries] == [(entry.key, True)]


def test_a_full_relay_mends_a_lost_removal(clock: Clock) -> None:
    table = PresenceTable(Limits(), server_id="me")
    remote = {"o": "other", "full": False, "rooms": {"d": [["other:1", "p", "c", '{"a":1}']]}}
    table.merge_relay(json.dumps(remote).encode(), clock.now)
    assert set(table.entries("d")) == {"other:1"}
    # The removal was lost; the next full relay no longer holds it.
    table.merge_relay(json.dumps({"o": "other", "full": True, "rooms": {}}).encode(), clock.now)
    assert table.entries("d") == {}
    table.merge_relay(b"not json", clock.now)  # ignored (logged)
    assert table.room_count in (0, 1)


def test_presence_entries_round_trip_as_frames() -> None:
    entries = (PresenceEntry("s:1", "alice", "c1", b'{"x":1}'), PresenceEntry("s:2", removed=True))
    body = encode_presence_body("d", [encode_presence_entry(e) for e in entries])
    assert decode_frame(body) == Presence("d", entries)
    assert decode_frame(encode_frame(Presence("d", entries))) == Presence("d", entries)


def test_a_presence_flood_is_refused_by_the_principals_byte_rate(clock: Clock) -> None:
    """Tiny states sent as fast as a socket allows cost at least PRESENCE_FRAME_COST bytes
    each from the principal's push budget: past it they are refused RATE_LIMITED (nothing
    changes), and once the budget refills they pass again."""
    from synckit.server._hub import PRESENCE_FRAME_COST

    hub = make_hub(
        clock,
        push_bytes_per_second=64 * 1024,
        push_burst_bytes=64 * 1024,
        max_frame_bytes=64 * 1024,
    )
    flooder, other = Member(hub, "flooder"), Member(hub, "other")
    flooder.join("d")
    other.join("d")
    allowed = 64 * 1024 // PRESENCE_FRAME_COST
    for n in range(allowed + 50):
        flooder.set("d", n=n)
    refused = [
        e for e in flooder.received() if isinstance(e, Error) and e.code is ErrorCode.RATE_LIMITED
    ]
    assert len(refused) == 50
    assert "presence update of 'd'" in refused[0].message and refused[0].retry_after_ms > 0
    assert refused[0].doc_id == ""  # the subscription stays
    hub.presence.flush()
    [frame] = other.presence()
    assert list(states(frame).values()) == [{"n": allowed - 1}]  # the last one let through
    clock.now += 1.0
    flooder.set("d", n=-1)
    assert not [e for e in flooder.received() if isinstance(e, Error)]
