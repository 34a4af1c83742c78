"""A text loaded from trusted bytes (a snapshot with a verifying tag, or ``compact``) is
decoded on first use (``TextState.decode_later``): reading its text needs no decoding, and
everything else behaves exactly as on a text decoded at load."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synckit import Document, SnapshotKey
from synckit.core._text import TextState

KEY = SnapshotKey(b"d" * 32)


def _authors(authors: int, steps: int, seed: int) -> Document:
    """Authors typing and backspacing into their own replicas, merged through a hub, one
    text nested in a map too."""
    rng = random.Random(seed)
    hub = Document("hub")
    docs = [Document(f"a{a}") for a in range(authors)]
    for i in range(steps):
        doc = docs[rng.randrange(authors)]
        text = doc.get_text("t") if i % 3 else doc.get_map("m").get_text("inner")
        n = len(text)
        if n and rng.random() < 0.3:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.randint(1, 4), n - pos))
        else:
            text.insert(rng.randrange(n + 1), "".join(rng.choices("ab xy", k=rng.randint(1, 4))))
        if i % 4 == 3:
            for d in docs:
                hub.apply(d.changes(hub.version()))
            for d in docs:
                d.apply(hub.changes(d.version()))
    for d in docs:
        hub.apply(d.changes(hub.version()))
    return hub


def _tagged(data: bytes, client_id: str) -> Document:
    return Document.load(data, client_id, key=KEY, tag=KEY.tag(data))


def _state(doc: Document) -> TextState:
    state = doc._texts["t"]
    assert isinstance(state, TextState)
    return state


def test_reading_a_tagged_text_does_not_decode_it_and_an_edit_does() -> None:
    data = _authors(3, 120, 1).save()
    checked = Document.load(data, "r")
    tagged = _tagged(data, "r")
    state = _state(tagged)
    assert state._lazy is not None
    assert str(tagged.get_text("t")) == str(checked.get_text("t"))
    assert len(tagged.get_text("t")) == len(checked.get_text("t"))
    assert state._lazy is not None  # still not decoded
    assert repr(state) == repr(_state(checked))  # (repr looks at the blocks: decodes)
    assert state._lazy is None
    assert tagged.save() == checked.save()


def test_decode_deferred_decodes_every_deferred_text_now_and_changes_nothing() -> None:
    """``Document.decode_deferred`` decodes each text a tagged load deferred, nested ones
    too, so that the first edit finds it decoded (the server calls it off its event loop);
    a second call finds nothing left."""
    data = _authors(3, 120, 3).save()
    checked = Document.load(data, "r")
    tagged = _tagged(data, "r")
    states = list(tagged._texts.values())
    assert len(states) == 2 and all(state._lazy is not None for state in states)
    assert tagged.decode_deferred() == 2
    assert all(state._lazy is None for state in states)
    assert tagged.decode_deferred() == 0
    assert tagged.to_json() == checked.to_json() and tagged.save() == checked.save()
    tagged.get_text("t").insert(0, "x")
    checked.get_text("t").insert(0, "x")
    assert str(tagged.get_text("t")) == str(checked.get_text("t"))


def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    tagged = _tagged(_authors(2, 30, 2).save(), "r")
    state = _state(tagged)
    with pytest.raises(AttributeError, match="no_such_field"):
        state.no_such_field  # type: ignore[attr-defined]  # noqa: B018
    assert state._lazy is not None  # (an unknown name does not decode)


# One step on both replicas: (kind, a, b) with kind 0 insert, 1 delete, 2 a remote change
# from a third replica, 3 a cursor, 4 changes since an earlier version, 5 save and reload.
_STEP = st.tuples(st.integers(0, 5), st.integers(0, 10_000), st.integers(1, 6))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(0, 10_000), st.lists(_STEP, max_size=25))
def test_a_tagged_load_behaves_as_a_checked_load(
    authors: int, seed: int, steps: list[tuple[int, int, int]]
) -> None:
    source = _authors(authors, 60, seed)
    data = source.save()
    docs = [Document.load(data, "me"), _tagged(data, "me")]
    other = Document.load(data, "other")
    for kind, a, b in steps:
        if kind == 2:
            text = other.get_text("t")
            text.insert(a % (len(text) + 1), "r" * b)
        views: list[object] = []
        for i, doc in enumerate(docs):
            text = doc.get_text("t") if a % 2 else doc.get_map("m").get_text("inner")
            n = len(text)
            if kind == 0:
                text.insert(a % (n + 1), "z" * b)
            elif kind == 1 and n:
                pos = a % n
                text.delete(pos, min(b, n - pos))
            elif kind == 2:
                doc.apply(other.changes(doc.version()))
            elif kind == 3 and n:
                views.append(text.position(text.cursor(a % n)))
            elif kind == 4:
                views.append(doc.changes(source.version()))
            elif kind == 5:
                docs[i] = _tagged(doc.save(), "me") if i else Document.load(doc.save(), "me")
        if views:
            assert views[0] == views[1]
        checked, tagged = docs
        assert str(tagged.get_text("t")) == str(checked.get_text("t"))
        assert tagged.to_json() == checked.to_json()
        assert tagged.version() == checked.version()
    checked, tagged = docs
    assert tagged.save() == checked.save()
    assert tagged.changes() == checked.changes()
    # The replicas still merge: each one's changes reach the other.
    other.apply(tagged.changes(other.version()))
    checked.apply(other.changes(checked.version()))
    assert str(other.get_text("t")) == str(checked.get_text("t"))


def test_compacted_text_decodes_on_use() -> None:
    doc = _authors(3, 90, 3)
    want = str(doc.get_text("t"))
    doc.compact()
    assert str(doc.get_text("t")) == want
    doc.get_text("t").insert(0, "x")
    assert str(doc.get_text("t")) == "x" + want
    peer = Document.load(doc.save(), "peer")
    assert str(peer.get_text("t")) == "x" + want


def test_saving_an_undecoded_text_gives_back_its_columns() -> None:
    """A document of several texts, loaded tagged, one edited: the others are saved from
    the columns they were loaded from, without decoding, into the same bytes."""
    doc = _authors(3, 150, 4)
    for k in range(3):
        doc.get_text(f"other{k}").insert(0, f"text number {k} " * 40)
    data = doc.save()
    tagged = _tagged(data, "r")
    checked = Document.load(data, "r")
    assert tagged.save() == checked.save()
    assert all(s._lazy is not None for s in tagged._texts.values())
    for d in (tagged, checked):
        d.get_text("t").insert(0, "edit ")
    assert tagged.save() == checked.save()
    lazy = [name for name, s in tagged._texts.items() if s._lazy is not None]
    assert len(lazy) == 4 and "t" not in lazy  # (the nested text and the others)
    again = Document.load(tagged.save(), "s")
    assert {str(again.get_text(f"other{k}")) for k in range(3)} == {
        str(checked.get_text(f"other{k}")) for k in range(3)
    }
