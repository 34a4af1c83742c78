"""``Document.trim_history``: forgetting the dependencies of operations a document no
longer holds (``synckit.core._spent``).

Under writers that keep overwriting the same fields, a document remembered one dependency
checkpoint per change received for its whole life: the soak saw a server's documents grow
by about a quarter of a KiB per edit. Trimming must bound that, and change nothing any
replica shows, now or after any further exchange, whatever order changes then arrive in.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_checkpoint_growth import _drive
from test_properties import (
    KINDS,
    TEXT_SNIPPETS,
    Edit,
    Network,
    assert_converged,
    full_exchange,
    make_replicas,
    run_schedule,
    state,
)

from synckit.core import Document, VersionVector
from synckit.core._document import _heads_of


def _checkpoints(doc: Document) -> int:
    return sum(map(len, doc._checkpoints))


def _churned(edits: int, seed: int = 3) -> Document:
    server = Document("server")
    _drive(server, edits, random.Random(seed), {"sessions": 0, "pushed": 0})
    return server


def test_trimming_a_churned_document_bounds_what_it_keeps() -> None:
    server = _churned(1200)
    before = (server.version(), server.to_json())
    heads = _heads_of(server)
    cps, saved, changes = _checkpoints(server), len(server.save()), len(server.changes())
    dropped = server.trim_history()
    assert dropped > 0
    assert _checkpoints(server) == cps - dropped
    # Far fewer records: what is left is each client's newest and those of live values.
    assert _checkpoints(server) * 4 < cps
    assert len(server.save()) * 2 < saved
    assert len(server.changes()) * 3 < changes
    # Nothing shown changed, nor the heads a next local operation would depend on.
    assert (server.version(), server.to_json()) == before
    assert _heads_of(server) == heads
    # Trimming again finds nothing more.
    assert server.trim_history() == 0


def test_a_trimmed_document_still_syncs_everyone() -> None:
    server = _churned(800)
    untrimmed = Document.load(server.save(), "twin")
    server.trim_history()
    # A fresh replica, from changes and from a snapshot.
    for fresh in (Document("fresh"), Document.load(server.save(), "loaded")):
        fresh.apply(server.changes(fresh.version()))
        assert fresh.to_json() == untrimmed.to_json()
        assert fresh.version() == untrimmed.version()
    # A replica that had part of the history catches up from the trimmed one.
    partial = Document("partial")
    partial.apply(untrimmed.changes())
    later = Document.load(server.save(), "later-writer")
    later.set("late", 1)
    server.apply(later.changes(server.version()))
    server.trim_history()
    partial.apply(server.changes(partial.version()))
    assert partial.to_json() == server.to_json()
    assert partial.version() == server.version()


def test_trimmed_changes_apply_in_any_order() -> None:
    """c writes, d depends on it, c writes again having seen d, and both of c's writes are
    overwritten: c's spent range must not wait for d (who waits for c) - no deadlock,
    whatever order the separate changes arrive in."""
    c, d = Document("c"), Document("d")
    c.set("x", 1)
    d.apply(c.changes())
    d.set("y", 1)
    c.apply(d.changes())
    c.set("x", 2)  # depends on d's write
    c.set("z", 1)  # c's newest: stays
    d.apply(c.changes(d.version()))
    d.set("x", 3)  # overwrites both of c's writes to x
    d.set("y", 2)
    for _ in range(2):
        c.apply(d.changes(c.version()))
        d.apply(c.changes(d.version()))
    assert c.to_json() == d.to_json()
    c.trim_history()
    # Each client's changes one by one (every seq its own change), in every order.
    full = dict(c.version().items())
    pieces = [
        c.changes(VersionVector({**full, author: seq - 1}), VersionVector({**full, author: seq}))
        for author in ("c", "d")
        for seq in range(1, full[author] + 1)
    ]
    for order in itertools.permutations(range(len(pieces))):
        fresh = Document("fresh")
        for k in order:
            fresh.apply(pieces[k])
        assert fresh.waiting == 0
        assert fresh.to_json() == c.to_json()


def test_a_compacted_document_stays_compacted() -> None:
    server = _churned(300)
    server.compact()
    assert server.trim_history() == 0
    assert server.compacted


def test_ranges_that_hold_text_or_list_operations_keep_their_dependencies() -> None:
    a, b = Document("a"), Document("b")
    t = a.get_text("t")
    t.insert(0, "hello")
    b.apply(a.changes())
    b.get_text("t").insert(5, " world")
    b.get_list("l").append(1)
    a.apply(b.changes(a.version()))
    a.get_text("t").insert(0, ">")  # refers to nothing of b's, but comes after it
    a.set("f", 1)
    b.apply(a.changes(b.version()))
    b.set("f", 2)
    a.apply(b.changes(a.version()))
    snap = a.save()
    a.trim_history()
    for since in (Document("fresh"), Document.load(snap, "old")):
        since.apply(a.changes(since.version()))
        assert since.to_json() == a.to_json()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    trims=st.lists(st.integers(0, 2_000), max_size=6),
)
def test_trimming_at_any_moment_keeps_replicas_converging(seed: int, trims: list[int]) -> None:
    """Churning writers against a server that trims at arbitrary points: a replica fed the
    trimmed server's changes in one go, and one that took every change as it came, agree."""
    rng = random.Random(seed)
    server = Document("server")
    follower = Document("follower")
    state = {"sessions": 0, "pushed": 0}
    marks = sorted(set(trims))
    done = 0
    for mark in [*marks, 2_000]:
        _drive(server, (mark - done) // 20 + 1, rng, state)
        done = mark
        follower.apply(server.changes(follower.version()))
        server.trim_history()
    fresh = Document("fresh")
    fresh.apply(server.changes())
    assert fresh.to_json() == server.to_json() == follower.to_json()
    assert fresh.version() == server.version() == follower.version()
    assert fresh.waiting == 0


def _schedule(rng: random.Random, n: int, steps: int) -> list[tuple[Any, ...]]:
    """Field-heavy edits (so that writes are overwritten and ranges get spent) with every
    other kind mixed in, sends, deliveries (some lost, some duplicated), acks and trims."""
    out: list[tuple[Any, ...]] = []
    for _ in range(steps):
        r, k = rng.randrange(n), rng.random()
        if k < 0.45:
            kind = rng.choice(("set", "set", "set", "update", "delete", *KINDS))
            edit = Edit(
                kind,
                rng.randrange(2),
                rng.randrange(41),
                rng.randrange(41),
                rng.randrange(9),
                rng.choice(TEXT_SNIPPETS),
            )
            out.append(("op", r, edit))
        elif k < 0.65:
            out.append(("send", r, rng.randrange(n)))
        elif k < 0.88:
            out.append(
                ("deliver", rng.randrange(50), 0 if rng.random() < 0.7 else rng.randrange(3))
            )
        elif k < 0.95:
            out.append(("ack", r, rng.randrange(n)))
        else:
            out.append(("trim", r))
    return out


def _lossy_run(seed: int) -> int:
    """One seeded run (see the test below); how many checkpoints the final trims dropped."""
    rng = random.Random(seed)
    n = rng.randint(2, 5)
    net = Network(make_replicas([rng.randrange(10**7) for _ in range(n)]))
    run_schedule(net, _schedule(rng, n, 300))
    leftovers = net.in_flight * 2
    rng.shuffle(leftovers)
    for dest, data in leftovers:
        net.docs[dest].apply(data)
    dropped = sum(doc.trim_history() for doc in net.docs)
    full_exchange(net.docs)
    assert_converged(net.docs)
    # A newcomer from each replica's changes, and from its snapshot, sees the same.
    for doc in net.docs:
        fresh = Document("newcomer")
        fresh.apply(doc.changes())
        assert fresh.waiting == 0
        assert state(fresh) == state(doc)
        assert state(Document.load(doc.save(), "loaded")) == state(doc)
    return dropped


@pytest.mark.parametrize("seed", range(30))
def test_replicas_that_trim_converge_over_a_lossy_network(seed: int) -> None:
    _lossy_run(seed)


def test_the_lossy_network_schedules_do_spend_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedules above exercise trimming: checkpoints do get dropped mid-run."""
    from synckit.core import _spent

    dropped: list[int] = []
    real = _spent.drop_spent

    def counted(doc: Document) -> int:
        dropped.append(real(doc))
        return dropped[-1]

    monkeypatch.setattr(_spent, "drop_spent", counted)
    for seed in range(3):
        _lossy_run(seed)
    assert sum(dropped) >= 10


def test_stored_snapshots_are_trimmed() -> None:
    """Server and client compact a document's log through ``LoggedDocument``: the snapshot
    they store, on the event loop or built elsewhere, is of the trimmed document."""
    from synckit._logged import LoggedDocument, build_snapshot

    server = _churned(600)
    untrimmed = server.save()
    trimmed = Document.load(untrimmed, "server")
    trimmed.trim_history()
    logged = LoggedDocument(server)
    snapshot, _, _ = logged.snapshot()
    assert snapshot == trimmed.save()
    assert len(snapshot) * 4 < len(untrimmed) * 3
    built, _ = build_snapshot(None, [Document.load(untrimmed, "x").changes()])
    assert len(built) * 4 < len(untrimmed) * 3
    assert Document.load(built, "y").to_json() == server.to_json()
