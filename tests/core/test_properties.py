"""Property tests of the core: replicas converge whatever the network does.

Replicas run on deterministic, skewed clocks and make random operations of every kind
(fields, counters, sets, lists, texts); their changes travel as bytes through a simulated
network that loses, duplicates and reorders them. After a full exchange every replica must
show the same ``to_json()`` and the same ``version()``. Further properties check the algebra
of ``apply`` (idempotent, commutative, associative), snapshots, the minimality of
``changes(since)`` and the merge rules of each type.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synckit import Document, VersionVector
from synckit.v1 import changes_pb2

# Examples per property: 100 in the default run (the whole file in about 25 s on 2 cores);
# SYNCKIT_PROPERTY_EXAMPLES=2000 for a thorough run (docs/testing.md).
settings.register_profile(
    "synckit-core",
    max_examples=int(os.environ.get("SYNCKIT_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("synckit-core")

JSON = Any  # a JSON value as the public API takes and returns it

# ---------------------------------------------------------------------------- strategies

# Text without lone surrogates (they are not encodable as UTF-8), non-ASCII included.
_chars = st.characters(codec="utf-8")
texts = st.text(alphabet=_chars, max_size=6)
scalars: st.SearchStrategy[JSON] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values: st.SearchStrategy[JSON] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=8,
)
# Set members that Python equates but JSON does not: 1, 1.0 and True stay distinct.
SET_MEMBERS: tuple[JSON, ...] = (1, 1.0, True, 0, 0.0, False, None, "1", "é", -7, 2.5, "日本")
TEXT_SNIPPETS = ("a", "héllo", "日本語", "🙂x", "e\u0301", "ab\ncd", "Ωμέγα", "z")

KINDS = (
    "set",
    "update",
    "delete",
    "inc",
    "dec",
    "add",
    "remove",
    "insert",
    "append",
    "move",
    "ldelete",
    "tinsert",
    "tdelete",
)


@dataclass(frozen=True)
class Edit:
    """One abstract local operation, interpreted against the replica's current state."""

    kind: str
    name: int
    a: int
    b: int
    value: JSON
    text: str


edits = st.builds(
    Edit,
    kind=st.sampled_from(KINDS),
    name=st.integers(0, 1),
    a=st.integers(0, 40),
    b=st.integers(0, 40),
    value=json_values,
    text=st.one_of(st.sampled_from(TEXT_SNIPPETS), texts.filter(bool)),
)


def do_edit(doc: Document, e: Edit) -> None:
    """Perform ``e`` on ``doc`` (indexes are taken modulo the current length)."""
    n = e.name
    k = e.kind
    if k == "set":
        doc.set(f"f{n}", e.value)
    elif k == "update":
        doc.update({f"f{n}": e.value, f"f{n + 1}": e.a})
    elif k == "delete":
        doc.delete(f"f{n}")
    elif k == "inc":
        doc.get_counter(f"c{n}").increment(e.a - 20)
    elif k == "dec":
        doc.get_counter(f"c{n}").decrement(e.b)
    elif k == "add":
        doc.get_set(f"s{n}").add(SET_MEMBERS[e.a % len(SET_MEMBERS)])
    elif k == "remove":
        s = doc.get_set(f"s{n}")
        member = SET_MEMBERS[e.a % len(SET_MEMBERS)]
        if member in s:
            s.remove(member)
        else:
            s.discard(member)
    elif k in ("insert", "append", "move", "ldelete"):
        lst = doc.get_list(f"l{n}")
        size = len(lst)
        if k == "insert":
            lst.insert(e.a % (size + 1), e.value)
        elif k == "append" or size == 0:
            lst.append(e.value)
        elif k == "move":
            lst.move(e.a % size, e.b % size)
        else:
            lst.delete(e.a % size)
    elif k in {"tinsert", "tdelete"}:
        t = doc.get_text(f"t{n}")
        size = len(t)
        if k == "tinsert" or size == 0:
            t.insert(e.a % (size + 1), e.text)
        else:
            pos = e.a % size
            t.delete(pos, min(e.b % 4 + 1, size - pos))
    else:  # pragma: no cover - KINDS is closed
        raise AssertionError(k)


skews = st.integers(min_value=0, max_value=10**7)


def make_replicas(skew_list: Sequence[int]) -> list[Document]:
    return [Document(f"r{i}", clock=FakeClock(s, step=7)) for i, s in enumerate(skew_list)]


def full_exchange(docs: Sequence[Document]) -> None:
    """Every replica pulls what it lacks from every other, twice round (so all reach all)."""
    for _ in range(2):
        for a in docs:
            for b in docs:
                if a is not b:
                    b.apply(a.changes(b.version()))


def assert_converged(docs: Sequence[Document]) -> None:
    first = docs[0]
    for d in docs[1:]:
        assert d.version() == first.version(), (d.client_id, d.version(), first.version())
        assert d.to_json() == first.to_json(), d.client_id


def state(doc: Document) -> tuple[VersionVector, dict[str, JSON]]:
    return doc.version(), doc.to_json()


# ---------------------------------------------------------------------------- a network


@dataclass
class Network:
    """In-flight messages between replicas: delivered in any order, lost, or duplicated."""

    docs: list[Document]
    # (destination, bytes)
    in_flight: list[tuple[int, bytes]] = field(default_factory=list)
    # known[r][s]: the version of s that r last heard of (a stale guess is fine)
    known: list[list[VersionVector]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.docs)
        self.known = [[VersionVector() for _ in range(n)] for _ in range(n)]

    def send(self, r: int, s: int) -> None:
        src = self.docs[r]
        self.in_flight.append((s, src.changes(self.known[r][s])))

    def deliver(self, k: int, mode: int) -> None:
        """Deliver message ``k``; mode 0 = once, 1 = and keep a duplicate, 2 = lose it."""
        if not self.in_flight:
            return
        dest, data = self.in_flight[k % len(self.in_flight)]
        if mode != 1:
            del self.in_flight[k % len(self.in_flight)]
        if mode != 2:
            self.docs[dest].apply(data)

    def ack(self, r: int, s: int) -> None:
        self.known[r][s] = self.docs[s].version()


_op_step = st.tuples(st.just("op"), st.integers(0, 4), edits)
steps = st.one_of(
    _op_step,
    _op_step,
    _op_step,
    st.tuples(st.just("send"), st.integers(0, 4), st.integers(0, 4)),
    st.tuples(st.just("deliver"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("ack"), st.integers(0, 4), st.integers(0, 4)),
    st.tuples(st.just("trim"), st.integers(0, 4)),
)


def run_schedule(net: Network, schedule: Sequence[tuple[Any, ...]]) -> None:
    n = len(net.docs)
    for step in schedule:
        if step[0] == "op":
            do_edit(net.docs[step[1] % n], step[2])
        elif step[0] == "send":
            r, s = step[1] % n, step[2] % n
            if r != s:
                net.send(r, s)
        elif step[0] == "deliver":
            net.deliver(step[1], step[2])
        elif step[0] == "trim":
            # Forgetting spent dependencies changes nothing a replica shows.
            doc = net.docs[step[1] % n]
            before = state(doc)
            doc.trim_history()
            assert state(doc) == before
        else:
            net.ack(step[1] % n, step[2] % n)


# ---------------------------------------------------------------------------- convergence


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=5),
    schedule=st.lists(steps, min_size=10, max_size=80),
    late=st.randoms(use_true_random=False),
)
def test_replicas_converge_over_a_lossy_duplicating_reordering_network(
    skew_list: list[int], schedule: list[tuple[Any, ...]], late: random.Random
) -> None:
    net = Network(make_replicas(skew_list))
    run_schedule(net, schedule)
    # Whatever is still in flight arrives late, in any order, some of it twice.
    leftovers = net.in_flight * 2
    late.shuffle(leftovers)
    for dest, data in leftovers:
        net.docs[dest].apply(data)
    # Lost messages are retried: a full exchange of what each lacks.
    full_exchange(net.docs)
    assert_converged(net.docs)
    # Counters count every increment exactly once, whatever the network did.
    totals = [0, 0]
    for step in schedule:
        if step[0] == "op" and step[2].kind in ("inc", "dec"):
            e = step[2]
            totals[e.name] += e.a - 20 if e.kind == "inc" else -e.b
    view = net.docs[0].to_json()
    assert [view.get("c0", 0), view.get("c1", 0)] == totals
    # Converged replicas have nothing left to tell each other.
    for a in net.docs:
        for b in net.docs:
            assert ops_in(a.changes(b.version())) == 0


def ops_in(data: bytes) -> int:
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(data)
    return sum(len(ch.kinds) for ch in msg.changes)


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=5),
    schedule=st.lists(steps, min_size=10, max_size=70),
    rnd=st.randoms(use_true_random=False),
)
def test_full_changes_in_random_order_converge(
    skew_list: list[int], schedule: list[tuple[Any, ...]], rnd: random.Random
) -> None:
    net = Network(make_replicas(skew_list))
    run_schedule(net, schedule)
    fulls = [d.changes() for d in net.docs]
    for d in net.docs:
        order = fulls.copy()
        rnd.shuffle(order)
        for data in order:
            d.apply(data)
    assert_converged(net.docs)
    # And a newcomer given the full changes of all, shuffled, sees the same.
    fresh = Document("newcomer")
    order = fulls.copy()
    rnd.shuffle(order)
    for data in order:
        fresh.apply(data)
    assert state(fresh) == state(net.docs[0])


def record_deltas(docs: list[Document], schedule: Sequence[tuple[Any, ...]]) -> list[bytes]:
    """Run ``schedule``, syncing peers directly; return change sets any replica may apply.

    Those are the delta of every local operation (``changes(before)`` right after it: only
    the author's new operations, which wait wherever their predecessors are missing) and,
    at every sync, the full ``changes()`` of the receiver. (A ``changes(since)`` made for
    a peer at ``since`` is only meant for replicas holding ``since``: it may mark writes
    that lost to one ``since`` holds as skipped rather than carry them.)
    """
    deltas: list[bytes] = []
    n = len(docs)
    for step in schedule:
        if step[0] == "op":
            d = docs[step[1] % n]
            before = d.version()
            do_edit(d, step[2])
            if d.version() != before:
                deltas.append(d.changes(before))
        elif step[0] in ("send", "ack"):
            r, s = step[1] % n, step[2] % n
            if r != s:
                before = docs[s].version()
                docs[s].apply(docs[r].changes(before))
                if docs[s].version() != before and step[0] == "send":
                    deltas.append(docs[s].changes())
    return deltas


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=5),
    schedule=st.lists(steps, min_size=10, max_size=70),
    rnd=st.randoms(use_true_random=False),
)
def test_per_step_deltas_shuffled_wait_as_pending_then_converge(
    skew_list: list[int], schedule: list[tuple[Any, ...]], rnd: random.Random
) -> None:
    docs = make_replicas(skew_list)
    deltas = record_deltas(docs, schedule)
    full_exchange(docs)
    target = state(docs[0])
    shuffled = deltas.copy()
    rnd.shuffle(shuffled)
    fresh = Document("observer")
    seen = VersionVector()
    for data in shuffled:
        fresh.apply(data)
        v = fresh.version()
        # Versions only grow, and never past what exists.
        assert v.compare(seen).value in ("after", "equal")
        assert target[0].dominates(v)
        seen = v
    assert state(fresh) == target


# ---------------------------------------------------------------------------- apply algebra


def three_deltas(
    skew_list: list[int], schedule: list[tuple[Any, ...]]
) -> tuple[list[Document], list[bytes]]:
    docs = make_replicas(skew_list)
    deltas = record_deltas(docs, schedule)
    return docs, deltas


def pick(deltas: list[bytes], idx: int) -> bytes:
    return deltas[idx % len(deltas)] if deltas else b""


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=4),
    schedule=st.lists(steps, min_size=10, max_size=60),
    picks=st.lists(st.integers(0, 200), min_size=1, max_size=6),
)
def test_apply_is_idempotent(
    skew_list: list[int], schedule: list[tuple[Any, ...]], picks: list[int]
) -> None:
    _, deltas = three_deltas(skew_list, schedule)
    once = Document("x")
    twice = Document("x")
    for p in picks:
        data = pick(deltas, p)
        if not data:
            continue
        once.apply(data)
        twice.apply(data)
        twice.apply(data)
        assert state(twice) == state(once)
        assert twice.changes() == once.changes()
    # Once everything has arrived, duplicates leave no trace even in the snapshot.
    for data in deltas:
        once.apply(data)
        twice.apply(data)
        twice.apply(data)
    assert state(twice) == state(once)
    assert twice.save() == once.save()


def test_duplicates_of_a_waiting_change_do_not_pile_up() -> None:
    """A change waiting for its predecessors, delivered again and again, is kept once.

    (Otherwise a network that duplicates grows the pending queue, and the snapshot, without
    bound.)
    """
    a = Document("a", clock=FakeClock(0, step=7))
    a.set("x", 1)
    v = a.version()
    a.set("x", 2)
    waiting = a.changes(v)
    once, many = Document("b"), Document("b")
    once.apply(waiting)
    for _ in range(50):
        many.apply(waiting)
    assert state(many) == state(once) == (VersionVector(), {})
    assert many.save() == once.save()


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=4),
    schedule=st.lists(steps, min_size=10, max_size=60),
    i=st.integers(0, 200),
    j=st.integers(0, 200),
    base=st.integers(0, 200),
)
def test_apply_is_commutative(
    skew_list: list[int], schedule: list[tuple[Any, ...]], i: int, j: int, base: int
) -> None:
    _, deltas = three_deltas(skew_list, schedule)
    if not deltas:
        return
    x, y, b = pick(deltas, i), pick(deltas, j), pick(deltas, base)
    left, right = Document("obs"), Document("obs")
    left.apply(b)
    right.apply(b)
    left.apply(x)
    left.apply(y)
    right.apply(y)
    right.apply(x)
    assert state(left) == state(right)


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=4),
    schedule=st.lists(steps, min_size=10, max_size=60),
    ijk=st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 200)),
)
def test_apply_is_associative(
    skew_list: list[int], schedule: list[tuple[Any, ...]], ijk: tuple[int, int, int]
) -> None:
    _, deltas = three_deltas(skew_list, schedule)
    if not deltas:
        return
    x, y, z = (pick(deltas, i) for i in ijk)
    # (x . y) . z  -- merge() also passes on what waits for predecessors
    left = Document("obs")
    xy = Document("tmp1")
    xy.apply(x)
    xy.apply(y)
    left.merge(xy)
    left.apply(z)
    # x . (y . z)
    right = Document("obs")
    yz = Document("tmp2")
    yz.apply(y)
    yz.apply(z)
    right.apply(x)
    right.merge(yz)
    assert state(left) == state(right)
    # And both equal applying the three in a row.
    flat = Document("obs")
    for d in (x, y, z):
        flat.apply(d)
    assert state(flat) == state(left)


# ---------------------------------------------------------------------------- snapshots


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=4),
    schedule=st.lists(steps, min_size=10, max_size=60),
    more=st.lists(edits, min_size=1, max_size=5),
    since_step=st.integers(0, 200),
)
def test_save_load_round_trips(
    skew_list: list[int],
    schedule: list[tuple[Any, ...]],
    more: list[Edit],
    since_step: int,
) -> None:
    docs = make_replicas(skew_list)
    net = Network(docs)
    # Leave some messages undelivered so some replicas hold pending changes.
    run_schedule(net, schedule)
    for src in docs:
        snap = src.save()
        loaded = Document.load(snap, client_id=src.client_id, clock=FakeClock(10**7, step=7))
        assert state(loaded) == state(src)
        assert loaded.save() == snap
        # Subsequent changes behave the same: everything, and from another replica's version.
        other = docs[since_step % len(docs)]
        for since in (None, other.version(), VersionVector()):
            a, b = Document("cmp"), Document("cmp")
            a.apply(src.changes(since))
            b.apply(loaded.changes(since))
            assert state(a) == state(b)
        # Pending changes survive the snapshot: delivering what is in flight to both agrees.
        twin = Document.load(snap, client_id=src.client_id)
        for dest, data in net.in_flight:
            if docs[dest] is src:
                twin.apply(data)
                loaded.apply(data)
        assert state(twin) == state(loaded)
    # Continuing with the writer's id: its seq continues, never reused.
    writer = docs[0]
    writer_seq = writer.version()[writer.client_id]
    cont = Document.load(writer.save(), client_id=writer.client_id)
    for e in more:
        do_edit(cont, e)
    cont.set("after_load", writer_seq)
    assert cont.version()[writer.client_id] > writer_seq
    # Replicas holding the writer's old ops accept every new one (no seq was reused).
    full_exchange(docs)
    for d in docs:
        d.apply(cont.changes(d.version()))
    cont.apply(docs[0].changes(cont.version()))
    assert_converged([*docs, cont])


def test_load_with_new_client_id_starts_its_own_sequence() -> None:
    a = Document("a", clock=FakeClock(100, step=7))
    a.set("x", 1)
    a.get_counter("c").increment(2)
    b = Document.load(a.save(), client_id="b")
    b.set("x", 2)
    assert b.version() == VersionVector({"a": 2, "b": 1})
    a.apply(b.changes(a.version()))
    assert a.to_json() == {"x": 2, "c": 2}
    anon = Document.load(a.save())
    assert anon.client_id not in ("a", "b")
    assert anon.to_json() == a.to_json()


# ---------------------------------------------------------------------------- minimal changes


def seq_ranges(data: bytes) -> list[tuple[str, int, int]]:
    """(client, first seq, last seq) covered by each change in a ChangeSet."""
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(data)
    out: list[tuple[str, int, int]] = []
    ints_per_kind: dict[int, int] = {
        changes_pb2.OP_KIND_FIELD_SET: 1,
        changes_pb2.OP_KIND_FIELD_DELETE: 1,
        changes_pb2.OP_KIND_COUNTER_ADD: 2,
        changes_pb2.OP_KIND_SET_ADD: 1,
        changes_pb2.OP_KIND_LIST_INSERT: 1,
        changes_pb2.OP_KIND_LIST_MOVE: 3,
        changes_pb2.OP_KIND_LIST_DELETE: 3,
        changes_pb2.OP_KIND_TEXT_INSERT: 6,
        changes_pb2.OP_KIND_TEXT_DELETE: 4,
        changes_pb2.OP_KIND_SKIP: 1,
    }
    strs_per_kind: dict[int, int] = {
        changes_pb2.OP_KIND_LIST_INSERT: 1,
        changes_pb2.OP_KIND_LIST_MOVE: 1,
    }
    for ch in msg.changes:
        ints, strs = list(ch.ints), list(ch.strs)
        ii = si = 0
        width = 0
        for kind in ch.kinds:
            if kind == changes_pb2.OP_KIND_SET_REMOVE:
                n = ints[ii + 1]
                ii += 2 + 2 * n
                width += 1
            elif kind == changes_pb2.OP_KIND_TEXT_INSERT:
                width += ints[ii + 5]
                ii += 6
            elif kind == changes_pb2.OP_KIND_TEXT_DELETE:
                width += abs(ints[ii + 3])
                ii += 4
            elif kind == changes_pb2.OP_KIND_SKIP:
                width += ints[ii]
                ii += 1
            else:
                ii += ints_per_kind[kind]
                si += strs_per_kind.get(kind, 0)
                width += 1
        assert ii == len(ints) and si == len(strs)
        out.append((msg.clients[ch.client], ch.start, ch.start + width - 1))
    return out


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=3, max_size=4),
    before=st.lists(steps, min_size=5, max_size=40),
    after=st.lists(steps, min_size=5, max_size=40),
    who=st.integers(0, 3),
)
def test_changes_since_is_minimal(
    skew_list: list[int],
    before: list[tuple[Any, ...]],
    after: list[tuple[Any, ...]],
    who: int,
) -> None:
    docs = make_replicas(skew_list)
    record_deltas(docs, before)
    src = docs[who % len(docs)]
    snap = src.save()
    since = src.version()
    record_deltas(docs, after)
    # A replica at `since` (the source's own earlier state) moves exactly to the source.
    earlier = Document.load(snap, client_id="late")
    data = src.changes(since)
    earlier.apply(data)
    assert state(earlier) == state(src)
    # The delta holds each missing seq exactly once and nothing already held.
    now = src.version()
    covered: dict[str, list[tuple[int, int]]] = {}
    for client, lo, hi in seq_ranges(data):
        assert since[client] < lo <= hi <= now[client], (client, lo, hi)
        covered.setdefault(client, []).append((lo, hi))
    for client in now:
        runs = sorted(covered.get(client, []))
        want = since[client] + 1
        for lo, hi in runs:
            assert lo == want, (client, runs)
            want = hi + 1
        assert want == now[client] + 1, (client, runs, since[client], now[client])
    # Nothing at all for a replica that has everything.
    assert ops_in(src.changes(now)) == 0
    assert seq_ranges(src.changes(now)) == []


# ---------------------------------------------------------------------------- LWW semantics


def hlc_of(clock_ms: int) -> int:
    """What a fresh replica's first write carries on a clock reading ``clock_ms``."""
    return max(1, clock_ms << 16)


@PROFILE
@given(
    ahead=st.integers(min_value=1, max_value=10**12),
    values=st.tuples(json_values, json_values),
    delete=st.booleans(),
)
def test_a_write_that_has_seen_another_wins_even_with_a_clock_far_behind(
    ahead: int, values: tuple[JSON, JSON], delete: bool
) -> None:
    fast = Document("zzz", clock=FakeClock(ahead))  # largest id too: ties would favour it
    slow = Document("aaa", clock=FakeClock(0))
    fast.set("f", values[0])
    slow.apply(fast.changes())
    if delete:
        slow.delete("f")
    else:
        slow.set("f", values[1])
    third = Document("mmm", clock=FakeClock(ahead * 2))
    for order in ((fast, slow), (slow, fast)):
        for d in order:
            third.apply(d.changes())
    fast.apply(slow.changes(fast.version()))
    for d in (fast, slow, third):
        if delete:
            assert "f" not in d.to_json()
            assert d.get("f", "gone") == "gone"
        else:
            assert d.to_json() == {"f": values[1]}


@PROFILE
@given(
    clocks=st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9)),
    ids=st.permutations(["alice", "bob", "carol"]),
    ops=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    values=st.tuples(json_values, json_values, json_values),
    equal_clocks=st.booleans(),
)
def test_concurrent_writes_resolve_by_hlc_then_client_id(
    clocks: tuple[int, int, int],
    ids: list[str],
    ops: tuple[bool, bool, bool],
    values: tuple[JSON, JSON, JSON],
    equal_clocks: bool,
) -> None:
    if equal_clocks:
        clocks = (clocks[0],) * 3
    docs = [Document(cid, clock=FakeClock(t)) for cid, t in zip(ids, clocks, strict=True)]
    writes = []
    for d, t, is_delete, v in zip(docs, clocks, ops, values, strict=True):
        if is_delete:
            d.delete("f")
        else:
            d.set("f", v)
        writes.append(((hlc_of(t), d.client_id), is_delete, v))
    _, winner_deleted, winner_value = max(writes, key=lambda w: w[0])
    full_exchange(docs)
    assert_converged(docs)
    for d in docs:
        if winner_deleted:
            assert d.to_json() == {}
        else:
            assert d.to_json() == {"f": winner_value}


def test_deletes_obey_the_same_rule() -> None:
    a = Document("a", clock=FakeClock(5_000))
    b = Document("b", clock=FakeClock(10))
    a.set("x", 1)
    b.delete("x")  # concurrent, earlier clock: loses
    full_exchange([a, b])
    assert a.to_json() == b.to_json() == {"x": 1}
    b.delete("x")  # has seen a's write now: wins despite its clock
    full_exchange([a, b])
    assert a.to_json() == b.to_json() == {}
    a.set("x", 2)  # a write after the delete brings it back
    full_exchange([a, b])
    assert a.get("x") == b.get("x") == 2


# ---------------------------------------------------------------------------- containers


@PROFILE
@given(
    member=st.sampled_from(SET_MEMBERS),
    others=st.lists(st.sampled_from(SET_MEMBERS), max_size=4),
)
def test_or_set_add_wins_over_concurrent_remove(member: JSON, others: list[JSON]) -> None:
    a, b, c = (Document(n, clock=FakeClock(0, step=7)) for n in "abc")
    sa = a.get_set("s")
    sa.add(member)
    for o in others:
        sa.add(o)
    full_exchange([a, b, c])
    b.get_set("s").remove(member)  # b removes what it saw
    c.get_set("s").add(member)  # c concurrently adds it again
    full_exchange([a, b, c])
    assert_converged([a, b, c])
    for d in (a, b, c):
        assert member in d.get_set("s")
    # A remove that has seen every add does remove it.
    a.get_set("s").remove(member)
    full_exchange([a, b, c])
    for d in (a, b, c):
        assert member not in d.get_set("s")
        # 1, 1.0 and True are distinct members.
        expected = {(type(o), o) for o in others if not (type(o) is type(member) and o == member)}
        assert {(type(m), m) for m in d.get_set("s")} == expected


def test_or_set_keeps_1_1_0_and_true_apart() -> None:
    a, b = Document("a"), Document("b")
    s = a.get_set("s")
    for m in (1, 1.0, True):
        s.add(m)
    b.apply(a.changes())
    b.get_set("s").remove(1.0)
    a.apply(b.changes(a.version()))
    for d in (a, b):
        members = list(d.get_set("s"))
        assert len(members) == 2
        assert {type(m) for m in members} == {int, bool}
        assert d.to_json()["s"] == members


def test_a_set_may_hold_none_next_to_strings() -> None:
    """None and str members together: the set still iterates and shows in to_json."""
    a, b = Document("a"), Document("b")
    s = a.get_set("s")
    for m in ("x", None, 1, "", True, 2.5):
        s.add(m)
    b.apply(a.changes())
    for d in (a, b):
        members = list(d.get_set("s"))
        assert len(members) == 6 and None in members and "x" in members
        assert d.to_json()["s"] == members
    assert list(a.get_set("s")) == list(b.get_set("s"))


@PROFILE
@given(
    prefix=st.lists(st.integers(), max_size=5),
    index=st.integers(0, 5),
    n_replicas=st.integers(2, 5),
    rnd=st.randoms(use_true_random=False),
)
def test_concurrent_inserts_at_one_index_keep_all_in_one_order(
    prefix: list[int], index: int, n_replicas: int, rnd: random.Random
) -> None:
    docs = [
        Document(f"r{i}", clock=FakeClock(rnd.randrange(10**6), step=7)) for i in range(n_replicas)
    ]
    for v in prefix:
        docs[0].get_list("l").append(v)
    full_exchange(docs)
    at = index % (len(prefix) + 1)
    for i, d in enumerate(docs):
        d.get_list("l").insert(at, f"new{i}")
    order = docs.copy()
    rnd.shuffle(order)
    full_exchange(order)
    assert_converged(docs)
    result = list(docs[0].get_list("l"))
    assert len(result) == len(prefix) + n_replicas
    assert sorted(map(str, result[at : at + n_replicas])) == [f"new{i}" for i in range(n_replicas)]
    assert result[:at] == prefix[:at] and result[at + n_replicas :] == prefix[at:]


@PROFILE
@given(
    size=st.integers(2, 6),
    moves=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=5),
    delete_too=st.booleans(),
)
def test_concurrent_moves_of_one_item_leave_it_exactly_once(
    size: int, moves: list[tuple[int, int]], delete_too: bool
) -> None:
    docs = [Document(f"r{i}", clock=FakeClock(1000 * i, step=7)) for i in range(len(moves))]
    for v in range(size):
        docs[0].get_list("l").append(v)
    full_exchange(docs)
    # Every replica moves item 0 (the value 0) somewhere, concurrently.
    for d, (_, to) in zip(docs, moves, strict=True):
        d.get_list("l").move(0, to % size)
    if delete_too:
        lst = docs[-1].get_list("l")
        lst.delete(list(lst).index(0))
    full_exchange(docs)
    assert_converged(docs)
    result: list[Any] = list(docs[0].get_list("l"))
    if delete_too:
        assert sorted(result) == list(range(1, size))
    else:
        assert sorted(result) == list(range(size))
        assert result.count(0) == 1


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=2, max_size=3),
    schedule=st.lists(steps, min_size=10, max_size=50),
    name=st.sampled_from(["fresh", "c0", "s0", "l0", "t0"]),
)
def test_taking_a_handle_changes_nothing(
    skew_list: list[int], schedule: list[tuple[Any, ...]], name: str
) -> None:
    docs = make_replicas(skew_list)
    record_deltas(docs, schedule)
    d = docs[0]
    before = (d.to_json(), d.version(), d.changes())
    getters: list[Callable[[str], object]] = [d.get_counter, d.get_set, d.get_list, d.get_text]
    for getter in getters:
        try:
            handle = getter(name)
        except TypeError:
            continue  # the name is already another kind
        repr(handle)  # reading through the handle changes nothing either
        assert (d.to_json(), d.version(), d.changes()) == before
    # And what others see after syncing does not change either.
    other = Document("observer")
    other.apply(d.changes())
    assert other.to_json() == before[0]
    if name == "fresh":
        assert "fresh" not in d.to_json() and "fresh" not in other.to_json()


# ---------------------------------------------------------------------------- scale


@pytest.mark.parametrize("seed", [1, 2])
def test_a_thousand_concurrent_operations_converge(seed: int) -> None:
    rnd = random.Random(seed)
    docs = [Document(f"r{i}", clock=FakeClock(rnd.randrange(10**8), step=3)) for i in range(4)]
    values: list[JSON] = [None, True, 3, -2.5, "ü", [1, {"k": "v"}], {"a": [None]}]
    total = 0
    counter_total = 0
    for d in docs:
        for _ in range(250):
            kind = rnd.choice(KINDS)
            e = Edit(
                kind,
                rnd.randrange(2),
                rnd.randrange(41),
                rnd.randrange(41),
                rnd.choice(values),
                rnd.choice(TEXT_SNIPPETS),
            )
            if kind == "inc":
                counter_total += e.a - 20
            elif kind == "dec":
                counter_total -= e.b
            do_edit(d, e)
            total += 1
    assert total >= 1000
    # Deliver every replica's full changes to every other, in a random order.
    messages = [(dest, src.changes()) for src in docs for dest in range(4) if docs[dest] is not src]
    rnd.shuffle(messages)
    for dest, data in messages:
        docs[dest].apply(data)
    assert_converged(docs)
    # Each replica wrote 250 ops (text ops may take several seqs each).
    for d in docs:
        assert d.version()[d.client_id] >= 250
    out = docs[0].to_json()
    assert out.get("c0", 0) + out.get("c1", 0) == counter_total  # type: ignore[operator]


def test_a_thousand_operations_with_syncs_in_between_converge() -> None:
    rnd = random.Random(7)
    docs = [Document(f"r{i}", clock=FakeClock(rnd.randrange(10**8), step=5)) for i in range(4)]
    net = Network(docs)
    for i in range(1200):
        r = rnd.randrange(4)
        do_edit(
            docs[r],
            Edit(
                rnd.choice(KINDS),
                rnd.randrange(2),
                rnd.randrange(41),
                rnd.randrange(41),
                rnd.choice([1, "x", [2], {"y": None}]),
                rnd.choice(TEXT_SNIPPETS),
            ),
        )
        if i % 10 == 0:
            s = (r + 1 + rnd.randrange(3)) % 4
            net.send(r, s)
            net.ack(r, s)
        if i % 7 == 0 and net.in_flight:
            net.deliver(rnd.randrange(len(net.in_flight)), rnd.randrange(3))
    full_exchange(docs)
    assert_converged(docs)
