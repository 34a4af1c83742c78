"""``Document.version()`` keeps the vector it built until the document's version changes:
after every kind of change, the vector it returns must be the one built afresh."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from synckit.core import Document, VersionVector


def fresh(doc: Document) -> VersionVector:
    """The version built from the document's columns, without the memo."""
    return VersionVector(dict(zip(doc._clients, doc._vv, strict=True)))


def edit(doc: Document, kind: int, n: int) -> None:
    if kind == 0:
        doc.set(f"f{n % 3}", n)
    elif kind == 1:
        doc.delete(f"f{n % 3}")
    elif kind == 2:
        doc.get_counter("c").increment(n)
    elif kind == 3:
        doc.get_set("s").add(n % 4)
    elif kind == 4:
        items = doc.get_list("l")
        items.insert(n % (len(items) + 1), n)
    elif kind == 5:
        text = doc.get_text("t")
        text.insert(n % (len(text) + 1), "ab"[: 1 + n % 2])
    elif kind == 6:
        text = doc.get_text("t")
        if len(text):
            text.delete(n % len(text), 1)
    elif kind == 7:
        doc.get_map("m").set(f"k{n % 2}", n)
    else:
        doc.update({"u": n, "v": -n})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 1), st.integers(0, 50)),
        min_size=1,
        max_size=40,
    )
)
def test_version_follows_every_change(steps: list[tuple[int, int, int]]) -> None:
    docs = [Document("alice"), Document("bob")]
    for kind, who, n in steps:
        doc, other = docs[who], docs[1 - who]
        held = doc.version()  # the memo is filled before each change
        if kind <= 8:
            edit(doc, kind, n)
        elif kind == 9:
            doc.apply(other.changes(held))
        elif kind == 10:
            doc.compact()
        elif kind == 11:
            docs[who] = doc = Document.load(doc.save(), client_id=doc.client_id)
        else:
            doc.merge(other)
        assert doc.version() == fresh(doc)
        assert other.version() == fresh(other)
    docs[0].merge(docs[1])
    docs[1].merge(docs[0])
    assert docs[0].version() == docs[1].version() == fresh(docs[0])


def test_a_remembered_version_is_not_changed_by_later_edits() -> None:
    doc = Document("alice")
    doc.set("a", 1)
    before = doc.version()
    assert doc.version() is before  # kept while nothing changed
    doc.set("a", 2)
    after = doc.version()
    assert before["alice"] == 1 and after["alice"] == 2
    other = Document("bob")
    other.get_text("t").insert(0, "hi")
    doc.apply(other.changes())
    assert doc.version()["bob"] == 2 and after == VersionVector({"alice": 2})


def test_a_few_risen_entries_update_the_remembered_vector() -> None:
    """Many clients, a few of them writing between calls: version() copies the last vector
    with the risen entries (new clients last, in client order), and equals a fresh one."""
    doc = Document("reader")
    writers = [Document(f"w{i:02d}") for i in range(40)]
    for w in writers:
        w.set(w.client_id, 0)
        doc.apply(w.changes())
    for step in range(30):
        held = doc.version()
        for w in writers[step % 5 :: 17]:  # two or three of the forty
            before = w.version()
            w.set(w.client_id, step)
            doc.apply(w.changes(before))
        if step % 7 == 0:  # and now and then a client never seen before
            newcomer = Document(f"new{step}")
            newcomer.set("n", step)
            doc.apply(newcomer.changes())
        now = doc.version()
        assert now == fresh(doc) and now != held
        assert list(now) == [c for c, s in zip(doc._clients, doc._vv, strict=True) if s]
    assert doc.version() is doc.version()
