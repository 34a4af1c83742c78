"""Changes waiting for what a document lacks are looked at again only when a merge may give
them something (``_remote.Awaited``): a merge that cannot wake them plans its own changes
alone, whatever waits; one that can (or local edits that already did) plans them all."""

from __future__ import annotations

from typing import Any

import pytest

import synckit.core._ops as K
from synckit import Document
from synckit.core import _remote
from synckit.core._codec import ChangeSetWriter


def waiting(author: str, on: str, seq: int, count: int) -> bytes:
    """``count`` field writes of ``author``, the first depending on ``on``:``seq``."""
    writer = ChangeSetWriter([author, on])
    for i in range(count):
        writer.add(0, 1 + i, {1: seq} if i == 0 else {}, [(K.FIELD_SET, 1 + i, f"w{i}", 5, i)])
    return writer.to_bytes()


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many waiting changes each plan of a merge was given."""
    sizes: list[int] = []
    plan = _remote._plan

    def counting(doc: Any, pending: Any, incoming: Any) -> Any:
        sizes.append(len(pending))
        return plan(doc, pending, incoming)

    monkeypatch.setattr(_remote, "_plan", counting)
    return sizes


def test_a_merge_that_cannot_wake_them_leaves_the_waiting_changes_alone(
    planned: list[int],
) -> None:
    doc = Document("reader")
    doc.apply(waiting("mallory", "ghost", 1_000_000, 50))
    assert doc.waiting == 50
    honest = Document("honest")
    for i in range(3):
        since = honest.version()
        honest.set("k", i)
        planned.clear()
        doc.apply(honest.changes(since))
        assert planned == [0] and doc.get("k") == i and doc.waiting == 50


def test_what_they_wait_for_wakes_them() -> None:
    author = Document("early")
    author.set("x", 1)
    doc = Document("reader")
    doc.apply(waiting("late", "early", 1, 3))  # waits for early:1
    other = Document("other")
    other.set("y", 2)
    doc.apply(other.changes())  # wakes nothing
    assert doc.waiting == 3 and doc.get("w0") is None
    doc.apply(author.changes())  # early:1 arrives: all three apply
    assert doc.waiting == 0 and [doc.get(f"w{i}") for i in range(3)] == [0, 1, 2]
    assert doc.get("x") == 1 and doc.get("y") == 2


def test_local_edits_that_give_them_what_they_lack_are_seen_at_the_next_merge() -> None:
    # A change waiting for this replica's own next seq (only a restored or hostile replica
    # makes one): once local edits reach that seq, the next merge, about anything, applies it.
    doc = Document("me")
    doc.apply(waiting("peer", "me", 2, 1))
    assert doc.waiting == 1
    doc.set("a", 1)
    doc.set("b", 2)  # me:2 now
    other = Document("other")
    other.set("z", 3)
    doc.apply(other.changes())
    assert doc.waiting == 0 and doc.get("w0") == 0


def test_a_repeat_of_what_waits_adds_nothing() -> None:
    doc = Document("reader")
    data = waiting("mallory", "ghost", 1_000_000, 5)
    doc.apply(data)
    pending = doc._pending
    doc.apply(data)
    assert doc._pending is pending and doc.waiting == 5
