"""``Document.compact()``: a document kept as its snapshot bytes behaves exactly like a live one.

Compaction swaps the object's class and drops its decoded state; any use decodes it again in
place. The property test runs the same random schedule twice, once compacting replicas at
random points, and requires every replica to match its never-compacted twin after every step.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakeclock import FakeClock
from hypothesis import given
from hypothesis import strategies as st
from test_properties import (
    PROFILE,
    Network,
    assert_converged,
    full_exchange,
    make_replicas,
    run_schedule,
    skews,
    state,
    steps,
)

from synckit import DecodeError, Document, VersionVector
from synckit.core import ChangeEvent

_compact_step = st.tuples(st.just("compact"), st.integers(0, 4))


@PROFILE
@given(
    skew_list=st.lists(skews, min_size=2, max_size=4),
    schedule=st.lists(st.one_of(steps, _compact_step), min_size=10, max_size=80),
)
def test_compacting_at_any_point_changes_nothing(
    skew_list: list[int], schedule: list[tuple[Any, ...]]
) -> None:
    plain = Network(make_replicas(skew_list))
    compacted = Network(make_replicas(skew_list))
    n = len(skew_list)
    for step in schedule:
        if step[0] == "compact":
            doc = compacted.docs[step[1] % n]
            doc.compact()
            assert doc.compacted
            continue
        run_schedule(plain, [step])
        run_schedule(compacted, [step])
        for live, twin in zip(plain.docs, compacted.docs, strict=True):
            assert state(twin) == state(live)
    # Compacted replicas keep their pending changes and continue their own sequences.
    for doc in compacted.docs:
        doc.compact()
    for net in (plain, compacted):
        full_exchange(net.docs)
        assert_converged(net.docs)
    assert state(compacted.docs[0]) == state(plain.docs[0])


def test_handles_subscribers_and_clock_survive(clock: FakeClock) -> None:
    clock.step = 5
    doc = Document("a", clock=clock)
    text, items, tally, tags = (
        doc.get_text("t"),
        doc.get_list("l"),
        doc.get_counter("c"),
        doc.get_set("s"),
    )
    text.insert(0, "héllo")
    items.append(1)
    tally.increment(3)
    tags.add("x")
    events: list[ChangeEvent] = []
    doc.subscribe(events.append)
    before = doc.to_json()
    doc.compact()
    assert doc.compacted
    assert isinstance(doc, Document)
    assert doc.client_id == "a" and doc.compacted  # reading the id does not decode
    # Handles taken before compacting keep working and see the same state.
    assert str(text) == "héllo" and not doc.compacted
    for edit in (
        lambda: text.insert(5, "!"),
        lambda: items.insert(0, 0),
        lambda: tally.decrement(1),
        lambda: tags.add("y"),
    ):
        doc.compact()
        edit()
        assert not doc.compacted
    assert doc.to_json() == {**before, "t": "héllo!", "l": [0, 1], "c": 2, "s": ["x", "y"]}
    assert len(events) == 4 and all(e.local for e in events)
    doc.compact()
    reads = clock.reads
    doc.set("f", 1)  # a field write reads the clock given before compacting
    assert clock.reads == reads + 1 and not doc.compacted


def test_save_of_a_compacted_document_does_not_decode_it() -> None:
    doc = Document("a")
    doc.update({"x": 1, "y": "two"})
    doc.get_text("t").insert(0, "abc")
    doc.compact()
    snap = doc.save()
    assert doc.compacted
    loaded = Document.load(snap, client_id="b")
    assert loaded.to_json() == doc.to_json() == {"x": 1, "y": "two", "t": "abc"}
    doc.compact()
    doc.compact()  # compacting twice is harmless
    assert doc.save() == snap


def test_compacted_writer_continues_its_sequence_and_peers_accept_it() -> None:
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    b.apply(a.changes())
    seq = a.version()["a"]
    a.compact()
    a.set("x", 2)
    assert a.version()["a"] == seq + 1
    b.apply(a.changes(b.version()))
    assert b.get("x") == 2 and b.version() == a.version()


def test_pending_changes_survive_compaction() -> None:
    a, b, c = Document("a"), Document("b"), Document("c")
    a.set("x", 1)
    b.apply(a.changes())
    b.set("y", 2)  # depends on a's write
    c.apply(b.changes(VersionVector({"a": 1})))  # waits: c lacks a's write
    assert c.get("y") is None
    c.compact()
    c.apply(a.changes())
    assert c.to_json() == {"x": 1, "y": 2}


def test_a_subclass_is_left_live() -> None:
    class Mine(Document):
        __slots__ = ()

    doc = Mine("a")
    doc.set("x", 1)
    doc.compact()
    assert not doc.compacted and type(doc) is Mine and doc.get("x") == 1


def test_compacting_from_a_subscriber_loses_nothing() -> None:
    """A callback may compact the document it is told about, local edit or remote apply."""
    a, b = Document("a"), Document("b")
    for doc in (a, b):

        def compact(_event: ChangeEvent, doc: Document = doc) -> None:
            doc.compact()

        doc.subscribe(compact)
    a.set("x", 1)
    a.get_text("t").insert(0, "hi")
    a.get_list("l").append(1)
    assert a.compacted
    b.apply(a.changes())
    assert b.compacted
    b.get_counter("c").increment(2)
    a.apply(b.changes(a.version()))
    assert a.to_json() == b.to_json() == {"x": 1, "t": "hi", "l": [1], "c": 2}


def test_deleting_anothers_characters_as_they_arrive_saves_a_snapshot_that_loads() -> None:
    """A run of deletes that spans two dependency checkpoints: B deletes A's first character
    knowing only it, then A's second once it arrives. B's delete log keeps them as one run;
    each delete must be checked against what it depended on, not the run's first."""
    a, b = Document("a"), Document("b")
    ta, tb = a.get_text("t"), b.get_text("t")
    ta.insert(0, "p")
    b.apply(a.changes())
    tb.delete(0, 1)  # b:1 deletes a:1, depending on a:1
    since = a.version()
    ta.insert(1, "q")
    b.apply(a.changes(since))
    tb.delete(0, 1)  # b:2 deletes a:2, depending on a:2
    loaded = Document.load(b.save())
    assert str(loaded.get_text("t")) == "" and loaded.version() == b.version()
    # And what it sends from the loaded state is accepted as the original's would be.
    c = Document("c")
    c.apply(loaded.changes())
    assert c.version() == b.version() and str(c.get_text("t")) == ""


def test_a_snapshot_whose_delete_run_claims_more_than_it_depended_on_is_refused() -> None:
    """The other side: the same two deletes, but the snapshot says B's second one depended
    only on A's first character; the load check must still refuse it."""
    a, b = Document("a"), Document("b")
    ta, tb = a.get_text("t"), b.get_text("t")
    ta.insert(0, "p")
    b.apply(a.changes())
    tb.delete(0, 1)
    since = a.version()
    ta.insert(1, "q")
    b.apply(a.changes(since))
    tb.delete(0, 1)
    me, other = b._clients.index("b"), b._clients.index("a")
    assert b._checkpoints[me][-1] == (2, {other: 2})
    b._checkpoints[me][-1] = (2, {other: 1})  # a forged claim: a:2 unseen at b:2
    with pytest.raises(DecodeError, match="did not depend on"):
        Document.load(b.save())
