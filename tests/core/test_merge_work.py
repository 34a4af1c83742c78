"""``Document.apply(max_ops=..., max_work=...)``: the bounds a server puts on what one push
may cost it. ``max_ops`` refuses before decoding, the document untouched; ``max_work`` stops
a merge whose work outgrows its operations (inserts into a gap that already holds very many,
a delete spread over very many items), which honest changes never come near."""

from __future__ import annotations

import random
from typing import Any

import pytest

import synckit.core._ops as K
from synckit import Document
from synckit.core._codec import ChangeSetWriter
from synckit.core._remote import count_ops
from synckit.errors import LimitExceededError, WorkLimitExceededError
from synckit.server import Limits

DEFAULT_WORK = Limits().max_merge_work


def crafted(pusher: str, base: Document, ops: list[Any]) -> bytes:
    """The first change of ``pusher``, holding ``ops``, after everything ``base`` holds
    (client table: the pusher, then ``base``'s clients in version order)."""
    version = base.version()
    others = list(version)
    writer = ChangeSetWriter([pusher, *others])
    writer.add(0, 1, {i + 1: version[c] for i, c in enumerate(others)}, ops)
    return writer.to_bytes()


def gap_inserts(base: Document, n: int) -> bytes:
    """``n`` inserts, all between the first two characters of ``base``'s text "t"."""
    me = 1 + list(base.version()).index(base.client_id)
    return crafted(
        "gapper", base, [(K.TEXT_INSERT, 1 + i, "t", (me, 1), (me, 2), "z") for i in range(n)]
    )


def base_text(text: str = "ab") -> Document:
    doc = Document()
    doc.get_text("t").insert(0, text)
    return doc


def copy(doc: Document) -> Document:
    out = Document()
    out.apply(doc.changes())
    return out


def test_inserts_into_one_gap_are_stopped_past_the_limit() -> None:
    base = base_text()
    data = gap_inserts(base, 300)  # the scan walks 0 + 1 + ... + 299 = 44,850 items
    with pytest.raises(WorkLimitExceededError, match="more than 10000 steps"):
        copy(base).apply(data, max_work=10_000)
    bounded, free = copy(base), copy(base)
    bounded.apply(data, max_work=50_000)
    free.apply(data)
    assert bounded.to_json() == free.to_json()
    assert str(bounded.get_text("t")) == "a" + "z" * 300 + "b"


def test_a_delete_spread_over_many_items_is_stopped_past_the_limit() -> None:
    author = base_text("x" * 100)
    rng = random.Random(5)
    text = author.get_text("t")
    start = author.version()[author.client_id] + 1
    for _ in range(500):
        text.insert(rng.randrange(len(text) + 1), "y")
    # One operation naming the 500 ids, which lie in about 500 places.
    me = 1 + list(author.version()).index(author.client_id)
    data = crafted("eraser", author, [(K.TEXT_DELETE, 1, "t", me, start, 500)])
    assert count_ops(data) == 1
    with pytest.raises(WorkLimitExceededError):
        copy(author).apply(data, max_work=16 * 400)
    done = copy(author)
    done.apply(data, max_work=16 * 600)
    assert str(done.get_text("t")) == "x" * 100


def test_too_many_operations_are_refused_before_anything_changes() -> None:
    base = base_text()
    data = gap_inserts(base, 20)
    assert count_ops(data) == 20
    target = copy(base)
    before = target.version()
    with pytest.raises(LimitExceededError, match="20 operations, more than the limit of 19"):
        target.apply(data, max_ops=19)
    assert target.version() == before and str(target.get_text("t")) == "ab"
    target.apply(data, max_ops=20)
    assert len(target.get_text("t")) == 22


def test_the_meter_is_only_for_the_merge_it_was_given_to() -> None:
    base = base_text()
    doc = copy(base)
    doc.apply(gap_inserts(base, 10), max_work=1_000)
    assert all(state._meter is None for state in doc._texts.values())
    # A later merge without a limit does any amount of work.
    other = base_text()
    other.get_text("t").insert(0, "q")
    doc.apply(other.changes())
    heavy = copy(base)
    heavy.apply(gap_inserts(base, 400))
    assert len(heavy.get_text("t")) == 402


def test_honest_edits_stay_a_hundred_times_below_the_servers_limit() -> None:
    # Thirty people type forty characters each at the same place while apart, then all of it
    # reaches one replica in one merge: every first character of a run scans the runs before.
    base = base_text("hello world")
    people = []
    for p in range(30):
        doc = copy(base)
        doc.get_text("t").insert(5, "".join(chr(65 + (p + i) % 26) for i in range(40)))
        people.append(doc)
    everyone = Document()
    for doc in people:
        everyone.merge(doc)
    merged = copy(base)
    merged.apply(everyone.changes(base.version()), max_work=DEFAULT_WORK // 100)
    assert merged.to_json() == everyone.to_json()
    # Deleting all of a text typed at 3,000 scattered places, one operation per item.
    author = base_text("x" * 1000)
    rng = random.Random(6)
    text = author.get_text("t")
    for _ in range(3000):
        text.insert(rng.randrange(len(text) + 1), "y")
    reader = copy(author)
    since = author.version()
    text.delete(0, len(text))
    reader.apply(author.changes(since), max_work=DEFAULT_WORK // 100, max_ops=Limits().max_push_ops)
    assert str(reader.get_text("t")) == ""
