"""Cursors on list items: a place in a list that follows its item on every replica."""

from __future__ import annotations

import random

import pytest

from synckit import Cursor, Document
from synckit.errors import InvalidTypeError, InvalidValueError, PositionError


def sync(*docs: Document) -> None:
    for _ in range(2):
        for a in docs:
            for b in docs:
                if a is not b:
                    b.apply(a.changes(b.version()))


def todos(doc: Document, *titles: str) -> None:
    lst = doc.get_list("todos")
    for t in titles:
        lst.insert_map(len(lst)).set("title", t)


def title(doc: Document, index: int) -> object:
    return doc.get_list("todos").get_map(index)["title"]


def test_a_selected_item_stays_selected_while_others_edit() -> None:
    alice, bob = Document("alice"), Document("bob")
    todos(alice, "milk", "bread", "eggs")
    sync(alice, bob)
    selected = alice.get_list("todos").cursor(1)  # Alice selects "bread"
    bob.get_list("todos").insert_map(0).set("title", "coffee")
    bob.get_list("todos").move(3, 1)  # "eggs" before "milk"
    sync(alice, bob)
    for doc in (alice, bob):
        at = doc.get_list("todos").position(selected)
        assert at is not None and title(doc, at) == "bread"
    # The cursor travels as bytes or JSON and resolves the same on the other replica.
    assert Cursor.decode(selected.encode()) == selected
    assert Cursor.from_json(selected.to_json()) == selected


def test_a_cursor_follows_its_item_when_it_is_moved() -> None:
    doc = Document("a")
    lst = doc.get_list("l")
    for v in "abcde":
        lst.append(v)
    c = lst.cursor(1)
    lst.move(1, 4)
    assert lst.position(c) == 4 and lst[4] == "b"
    after = lst.cursor(2, bind="previous")  # right after item 1 ("c")
    assert lst.position(after) == 2
    lst.insert(2, "new")  # inserted exactly at the cursor: after a "previous" cursor
    assert lst.position(after) == 2 and lst[1] == "c"


def test_a_cursor_on_a_deleted_item_stays_where_it_was() -> None:
    doc = Document("a")
    lst = doc.get_list("l")
    for v in "abcde":
        lst.append(v)
    nxt, prev = lst.cursor(2), lst.cursor(3, bind="previous")  # both at item "c"
    lst.delete(2)
    assert list(lst) == ["a", "b", "d", "e"]
    assert lst.position(nxt) == 2 and lst.position(prev) == 2
    lst.delete(0)
    assert lst.position(nxt) == 1


def test_the_ends_of_a_list() -> None:
    doc = Document("a")
    lst = doc.get_list("l")
    end, start = lst.cursor(0), lst.cursor(0, bind="previous")
    assert end.client is None and start.client is None
    for v in range(3):
        lst.append(v)
    assert lst.position(end) == 3 and lst.position(start) == 0
    assert lst.position(lst.cursor(3)) == 3


def test_cursors_on_nested_lists_and_unknown_items() -> None:
    alice, bob = Document("alice"), Document("bob")
    inner = alice.get_map("board").get_list("cards")
    for v in "xyz":
        inner.append(v)
    c = inner.cursor(2)
    assert c.text.startswith("\x00")
    assert bob.get_map("board").get_list("cards").position(c) is None  # not arrived yet
    sync(alice, bob)
    assert bob.get_map("board").get_list("cards").position(c) == 2
    with pytest.raises(InvalidValueError, match="belongs to"):
        alice.get_list("other").position(c)


def test_bad_cursor_arguments_name_what_is_wrong() -> None:
    lst = Document("a").get_list("l")
    lst.append(1)
    with pytest.raises(PositionError, match="out of range"):
        lst.cursor(2)
    with pytest.raises(InvalidTypeError, match="int"):
        lst.cursor("0")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="bind"):
        lst.cursor(0, bind="left")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="Cursor"):
        lst.position((0, 1))  # type: ignore[arg-type]


def test_cursors_resolve_the_same_on_every_replica_after_random_edits() -> None:
    rng = random.Random(5)
    docs = [Document(n) for n in ("a", "b", "c")]
    for i in range(20):
        docs[0].get_list("l").append(i)
    sync(*docs)
    cursors = [
        docs[0].get_list("l").cursor(i, bind=rng.choice(["next", "previous"]))
        for i in range(0, 21, 3)
    ]
    for _ in range(40):
        lst = rng.choice(docs).get_list("l")
        op = rng.random()
        if op < 0.4 or len(lst) < 2:
            lst.insert(rng.randint(0, len(lst)), "n")
        elif op < 0.7:
            lst.move(rng.randrange(len(lst)), rng.randrange(len(lst)))
        else:
            lst.delete(rng.randrange(len(lst)))
        if rng.random() < 0.3:
            sync(*docs)
    sync(*docs)
    for c in cursors:
        places = {d.get_list("l").position(c) for d in docs}
        assert len(places) == 1
        (place,) = places
        assert place is not None and 0 <= place <= len(docs[0].get_list("l"))
