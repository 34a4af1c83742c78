"""Screening received changes: summaries, clocks, and equivocation (no false alarms)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from fakeclock import FakeClock
from hypothesis import given
from hypothesis import strategies as st
from test_properties import PROFILE, Edit, do_edit, edits

from synckit import Document
from synckit.core import ChangeReview, ChangeSummary, Equivocation
from synckit.errors import DecodeError


@dataclass(frozen=True, slots=True)
class Seen:
    changes: list[ChangeSummary]
    found: Equivocation | None

    def equivocation(self) -> Equivocation | None:
        return self.found


def review_of(doc: Document, data: bytes) -> Seen:
    """Apply ``data`` with a screen that records its review and refuses (nothing changes)."""
    seen: list[Seen] = []

    class StopError(Exception):
        pass

    def screen(review: ChangeReview) -> None:
        seen.append(Seen(review.changes, review.equivocation()))
        raise StopError

    before = (doc.version(), doc.to_json())
    with pytest.raises(StopError):
        doc.apply(data, screen=screen)
    assert (doc.version(), doc.to_json()) == before
    return seen[0]


def test_summaries_name_author_seqs_and_largest_clock() -> None:
    a = Document("a", clock=lambda: 1000)
    a.set("x", 1)
    a.get_text("t").insert(0, "hello")
    a.get_list("l").append(2)
    b = Document("b", clock=lambda: 5000)
    b.apply(a.changes())
    b.get_counter("c").increment(3)
    [ca] = review_of(Document("z"), a.changes()).changes
    assert (ca.client, ca.start, ca.end) == ("a", 1, 7)
    assert ca.max_clock >> 16 == 1000
    summaries = review_of(Document("z"), b.changes()).changes
    assert {(s.client, s.start, s.end) for s in summaries} == {("a", 1, 7), ("b", 1, 1)}
    assert [s.max_clock for s in summaries if s.client == "b"] == [0]  # counters: no clock


def test_a_refusing_screen_leaves_new_client_ids_unknown() -> None:
    doc = Document("z")
    other = Document("newcomer")
    other.set("k", 1)
    review_of(doc, other.changes())
    assert "newcomer" not in doc.version()
    doc.apply(other.changes())
    assert doc.to_json() == {"k": 1}


def test_bad_bytes_never_reach_the_screen() -> None:
    called: list[object] = []
    with pytest.raises(DecodeError):
        Document("z").apply(b"\xff\x00garbage", screen=called.append)
    assert called == []


@PROFILE
@given(
    plan=st.lists(st.tuples(st.integers(0, 2), edits, st.integers(0, 2)), max_size=40),
    resend=st.integers(0, 2),
)
def test_honest_repeats_are_never_equivocation(
    plan: Sequence[tuple[int, Edit, int]], resend: int
) -> None:
    docs = [Document(f"r{i}", clock=FakeClock(i * 1000, step=7)) for i in range(3)]
    sent: list[bytes] = []
    for who, edit, to in plan:
        do_edit(docs[who], edit)
        if to != who:
            data = docs[who].changes(docs[to].version())
            docs[to].apply(data)
            sent.append(data)
    sent.append(docs[resend].changes())
    for doc in docs:
        for data in sent:
            assert review_of(doc, data).equivocation() is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda d: d.set("f", 1), lambda d: d.set("f", 2)),
        (lambda d: d.set("f", 1), lambda d: d.get_counter("c").increment(1)),
        (lambda d: d.get_text("t").insert(0, "abc"), lambda d: d.get_text("t").insert(0, "abd")),
        (lambda d: d.get_list("l").append("x"), lambda d: d.get_list("l").append("y")),
        (lambda d: d.get_set("s").add(1), lambda d: d.get_set("s").add(2)),
        (lambda d: d.get_map("m").set("k", 1), lambda d: d.get_map("m").set("k", 2)),
        (lambda d: d.get_map("m").get_list("k"), lambda d: d.get_map("m").get_text("k")),
        (lambda d: d.get_map("m").set("k", 1), lambda d: d.get_map("m").delete("k")),
        (lambda d: d.get_list("l").insert_map(0), lambda d: d.get_list("l").insert_list(0)),
    ],
)
def test_two_operations_under_one_id_and_seq_are_found(first: object, second: object) -> None:
    original, impostor = Document("dup", clock=lambda: 10), Document("dup", clock=lambda: 10)
    first(original)  # type: ignore[operator]
    second(impostor)  # type: ignore[operator]
    server = Document("server")
    server.apply(original.changes())
    found = review_of(server, impostor.changes()).equivocation()
    assert found is not None and found.client == "dup"
    assert found == Equivocation("dup", found.seq) and 1 <= found.seq <= 3


def test_the_largest_clock_does_not_make_a_document_unwritable() -> None:
    hostile = Document("zz-hostile")
    peer = Document("peer")
    writer = Document("a-honest")
    # A field write stamped with the largest clock the format carries.
    hostile._hlc = 2**62 - 2
    hostile.set("title", "mine forever?")
    assert hostile.version()["zz-hostile"] == 1
    for doc in (peer, writer):
        doc.apply(hostile.changes())
    writer.set("title", "still writable")
    writer.set("other", 1)
    peer.apply(writer.changes(peer.version()))  # decodes: every clock is in range
    hostile.apply(writer.changes(hostile.version()))
    assert peer.to_json() == writer.to_json() == hostile.to_json()
    assert peer.to_json()["other"] == 1
