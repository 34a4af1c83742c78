"""Lists keep each replica's run of inserts together.

A run is what one replica inserts item after item, each right after the one before (typing
todo items, pasting rows). Replicas that insert runs at one place while apart must not see
them alternate after the merge; the keys that make this so are tested here too.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synckit import Document
from synckit.core._fractional import DIGITS, key_after, key_between, operation_suffix
from synckit.v1 import changes_pb2


def sync(*docs: Document) -> None:
    for _ in range(2):
        for a in docs:
            for b in docs:
                if a is not b:
                    b.apply(a.changes(b.version()))


def items(doc: Document, name: str = "l") -> list[Any]:
    return list(doc.get_list(name))


def assert_contiguous(values: list[Any], run: list[Any]) -> None:
    """``run`` appears in ``values`` as one slice, in order."""
    start = values.index(run[0])
    assert values[start : start + len(run)] == run, (run, values)


def test_two_people_appending_while_apart_keep_their_items_together() -> None:
    alice, bob = Document("alice"), Document("bob")
    alice.get_list("l").append("x")
    sync(alice, bob)
    for i in range(4):
        alice.get_list("l").append(f"a{i}")
        bob.get_list("l").append(f"b{i}")
    sync(alice, bob)
    assert items(alice) == items(bob)
    merged = items(alice)
    assert merged[0] == "x"
    assert merged[1:] in (
        ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"],
        ["b0", "b1", "b2", "b3", "a0", "a1", "a2", "a3"],
    )


def test_runs_inserted_concurrently_in_the_middle_stay_together() -> None:
    docs = [Document(n) for n in ("ann", "ben", "cat")]
    for v in "xyz":
        docs[0].get_list("l").append(v)
    sync(*docs)
    for d in docs:  # everyone inserts five items between x and y
        for i in range(5):
            d.get_list("l").insert(1 + i, f"{d.client_id}{i}")
    sync(*docs)
    merged = items(docs[0])
    assert all(items(d) == merged for d in docs)
    assert merged[0] == "x" and merged[-2:] == ["y", "z"]
    for d in docs:
        assert_contiguous(merged, [f"{d.client_id}{i}" for i in range(5)])


def test_runs_of_todo_maps_stay_together() -> None:
    alice, bob = Document("alice"), Document("bob")
    for doc, who in ((alice, "a"), (bob, "b")):
        todos = doc.get_list("todos")
        for i in range(3):
            todos.insert_map(len(todos)).set("title", f"{who}{i}")
    sync(alice, bob)
    titles = [alice.get_list("todos").get_map(i)["title"] for i in range(6)]
    assert titles in (["a0", "a1", "a2", "b0", "b1", "b2"], ["b0", "b1", "b2", "a0", "a1", "a2"])
    assert alice.to_json() == bob.to_json()


def test_inserting_inside_ones_own_earlier_run_starts_a_new_run() -> None:
    """Going back into an earlier run and typing there, concurrently with another replica
    typing at the same place, still keeps both new runs whole."""
    alice, bob = Document("alice"), Document("bob")
    lst = alice.get_list("l")
    for i in range(4):
        lst.append(f"old{i}")
    sync(alice, bob)
    for i in range(3):
        alice.get_list("l").insert(1 + i, f"a{i}")
        bob.get_list("l").insert(1 + i, f"b{i}")
    sync(alice, bob)
    merged = items(alice)
    assert merged == items(bob)
    assert_contiguous(merged, ["a0", "a1", "a2"])
    assert_contiguous(merged, ["b0", "b1", "b2"])
    assert merged[0] == "old0" and merged[-3:] == ["old1", "old2", "old3"]


def test_a_run_continues_after_a_reload_and_after_a_move_without_failing() -> None:
    doc = Document("a")
    lst = doc.get_list("l")
    for i in range(3):
        lst.append(i)
    lst.move(2, 0)  # the last inserted item moved: the next insert after it starts afresh
    lst.insert(1, "after-moved")
    assert items(doc) == [2, "after-moved", 0, 1]
    again = Document.load(doc.save(), client_id="a")
    again.get_list("l").insert(2, "after-reload")
    again.get_list("l").insert(3, "and-on")
    assert items(again) == [2, "after-moved", "after-reload", "and-on", 0, 1]


def test_a_long_run_keeps_keys_short() -> None:
    """Appending 10,000 items in one run: keys grow by a digit per few dozen items, not per
    item (the run's first key, a step, the operation's suffix)."""
    doc = Document("a")
    lst = doc.get_list("l")
    for i in range(10_000):
        lst.append(i)
    keys = [item.key for _, item in doc._lists["l"].visible_items()]
    assert keys == sorted(keys)
    assert max(map(len, keys)) <= 24
    assert items(doc) == list(range(10_000))


def test_forged_duplicate_keys_do_not_stop_local_inserts() -> None:
    """A client forging an insert whose key equals an existing item's key leaves two items
    with one key; inserting between them must still work (it lands just after them)."""
    alice, mallory = Document("alice"), Document("mallory")
    alice.get_list("l").append("x")
    alice.get_list("l").append("y")
    sync(alice, mallory)
    key = alice._lists["l"].item_at(0)[1].key
    mallory.get_list("l").insert(1, "forged")
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(mallory.changes(alice.version()))
    (change,) = msg.changes
    assert len(change.strs) == 1  # the position key of the one insert
    change.strs[0] = key
    alice.apply(msg.SerializeToString())
    values = items(alice)
    assert sorted(map(str, values)) == ["forged", "x", "y"]
    for index in range(len(values) + 1):
        alice.get_list("l").insert(index, f"n{index}")
    assert len(items(alice)) == 7


# --------------------------------------------------------------------- the property


def _round(docs: list[Document], rng: random.Random, runs: list[list[str]], tag: int) -> None:
    """Every replica, apart from the others, deletes or moves a few items and types one or
    two runs at random places (the second not inside the first); then the changes reach
    every replica in a random order."""
    base = {d.client_id: d.version() for d in docs}
    for k, d in enumerate(docs):
        lst = d.get_list("l")
        for _ in range(rng.randint(0, 2)):
            if len(lst) > 1 and rng.random() < 0.5:
                lst.move(rng.randrange(len(lst)), rng.randrange(len(lst)))
            elif len(lst) > 1:
                lst.delete(rng.randrange(len(lst)))
        typed: tuple[int, int] = (0, 0)  # where this replica's previous run is
        for r in range(rng.randint(1, 2)):
            at = rng.randint(0, len(lst))
            if typed[0] < at < typed[1]:  # not inside its own run, which would split it
                at = typed[1]
            run = [f"t{tag}-{k}-{r}-{i}" for i in range(rng.randint(1, 6))]
            for i, v in enumerate(run):
                if rng.random() < 0.3:
                    lst.insert_map(at + i).set("v", v)
                else:
                    lst.insert(at + i, v)
            runs.append(run)
            typed = (at, at + len(run))
    sets = [(d, d.changes(base[d.client_id])) for d in docs]
    for d in docs:
        for src, data in rng.sample(sets, len(sets)):
            if src is not d:
                d.apply(data)


def _flat(doc: Document) -> list[Any]:
    return [v["v"] if isinstance(v, dict) else v for v in doc.get_list("l")]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), replicas=st.integers(2, 4))
def test_every_run_stays_contiguous_in_any_merge_order(seed: int, replicas: int) -> None:
    rng = random.Random(seed)
    docs = [Document(f"r{k}") for k in range(replicas)]
    for i in range(rng.randint(0, 5)):
        docs[0].get_list("l").append(f"base{i}")
    sync(*docs)
    for tag in range(3):
        runs: list[list[str]] = []
        _round(docs, rng, runs, tag)
        merged = _flat(docs[0])
        assert all(_flat(d) == merged for d in docs)
        assert all(d.to_json() == docs[0].to_json() for d in docs)
        for run in runs:
            assert_contiguous(merged, run)


# ------------------------------------------------------------------------- the keys


def _keys() -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=1, max_size=6).filter(lambda s: s[-1] != "0")


@settings(max_examples=400, deadline=None)
@given(a=_keys(), b=_keys(), anchor=st.integers(0, 8), seq=st.integers(1, 10**6))
def test_key_after_is_strictly_between_and_keeps_the_anchor(
    a: str, b: str, anchor: int, seq: int
) -> None:
    suffix = operation_suffix("c", seq)
    lo, hi = min(a, b), max(a, b)
    key = key_after(lo, hi if hi != lo else None, anchor, suffix)
    assert key[-1] != "0" and set(key) <= set(DIGITS)
    assert lo < key
    if hi != lo:
        assert key < hi
    assert key.startswith(lo[: min(anchor, len(lo))])
    assert key_after(lo, hi, 0, suffix) == (
        key_between(lo, hi, suffix) if lo < hi else lo + key_between(None, None, suffix)
    )


@pytest.mark.parametrize("anchor", [0, 1, 3])
def test_key_after_without_neighbours(anchor: int) -> None:
    suffix = operation_suffix("c", 1)
    assert key_after(None, None, anchor, suffix) == key_between(None, None, suffix)
    assert key_after(None, "V", anchor, suffix) < "V"
    assert key_after("V", None, anchor, suffix) > "V"
