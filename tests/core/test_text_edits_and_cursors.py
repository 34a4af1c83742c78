"""Text edits in change events, and cursors.

An editor showing a collaborative text keeps its own copy in step by applying each
event's :class:`~synckit.TextEdit` splices, and keeps carets and anchors with
:class:`~synckit.Cursor`. The properties: a plain ``str`` mirror fed only by events always
equals the text, whatever arrives in whatever order; a cursor bound to a character
resolves to that character's index on every replica that holds it, and stays where the
character was once it is deleted.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synckit import ChangeEvent, Cursor, DecodeError, Document, TextEdit

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SNIPPETS = ("a", "héllo", "日本語", "🙂x", "e\u0301", "ab\ncd", "z", "0123456789")


class Mirror:
    """A plain-str copy of each text of a document, fed only by change events."""

    def __init__(self, doc: Document) -> None:
        self.texts: dict[str, str] = {name: str(doc.get_text(name)) for name in ("t", "u")}
        self.events: list[ChangeEvent] = []
        doc.subscribe(self.on_change)

    def on_change(self, event: ChangeEvent) -> None:
        self.events.append(event)
        assert set(event.text_edits) <= event.names
        for name, edits in event.text_edits.items():
            for edit in edits:
                text = self.texts.get(name, "")
                assert 0 <= edit.pos <= len(text)
                assert 0 <= edit.deleted <= len(text) - edit.pos
                assert edit.deleted or edit.inserted  # no empty edits
                self.texts[name] = edit.apply_to(text)


def random_edit(rng: random.Random, doc: Document) -> None:
    t = doc.get_text(rng.choice(("t", "t", "u")))
    n = len(t)
    r = rng.random()
    if n and r < 0.35:
        pos = rng.randrange(n)
        t.delete(pos, rng.randint(1, min(n - pos, 12)))
    elif n and r < 0.45:
        doc.set("f", rng.randrange(100))  # not a text: no text edits in its event
    else:
        t.insert(rng.randint(0, n), rng.choice(SNIPPETS))


@SETTINGS
@given(st.integers(0, 2**32), st.integers(2, 4), st.integers(20, 120))
def test_a_mirror_fed_by_events_equals_the_text_whatever_arrives(
    seed: int, replicas: int, steps: int
) -> None:
    """Changes arrive late, out of order, duplicated, by merge and into compacted replicas;
    every replica's mirror equals its text after every step."""
    rng = random.Random(seed)
    docs = [Document(f"c{i}") for i in range(replicas)]
    mirrors = [Mirror(d) for d in docs]
    # Every change made travels as its own message; they arrive late, out of order and
    # duplicated (so some wait inside a replica for their predecessors).
    inbox: list[list[bytes]] = [[] for _ in docs]
    for _ in range(steps):
        i = rng.randrange(replicas)
        before = docs[i].version()
        random_edit(rng, docs[i])
        msg = docs[i].changes(before)
        for j in range(replicas):
            if j != i:
                inbox[j].append(msg)
        j = rng.randrange(replicas)
        if inbox[j] and rng.random() < 0.5:
            rng.shuffle(inbox[j])
            for m in inbox[j][: rng.randint(1, len(inbox[j]))]:
                docs[j].apply(m)
                if rng.random() < 0.2:
                    docs[j].apply(m)  # a duplicate changes nothing and tells nothing
            del inbox[j][:1]
        if rng.random() < 0.1:
            a, b = rng.sample(range(replicas), 2)
            docs[a].merge(docs[b])
        if rng.random() < 0.1:
            rng.choice(docs).compact()  # woken by the next use, subscribers and all
        for d, mirror in zip(docs, mirrors, strict=True):
            for name in ("t", "u"):
                assert mirror.texts[name] == str(d.get_text(name))
    for d in docs:
        for other in docs:
            d.merge(other)
    for d, mirror in zip(docs, mirrors, strict=True):
        assert mirror.texts["t"] == str(d.get_text("t")) == str(docs[0].get_text("t"))
        assert mirror.texts["u"] == str(d.get_text("u")) == str(docs[0].get_text("u"))


def test_local_edits_are_reported_as_they_were_made() -> None:
    doc = Document("a")
    events: list[ChangeEvent] = []
    doc.subscribe(events.append)
    text = doc.get_text("t")
    text.insert(0, "héllo")
    text.delete(1, 3)
    doc.set("x", 1)
    assert [e.local for e in events] == [True, True, True]
    assert events[0].text_edits == {"t": (TextEdit(0, 0, "héllo"),)}
    assert events[1].text_edits == {"t": (TextEdit(1, 3, ""),)}
    assert dict(events[2].text_edits) == {} and events[2].names == {"x"}


def test_a_remote_change_comes_as_few_edits_in_order() -> None:
    a, b = Document("a"), Document("b")
    a.get_text("t").insert(0, "0123456789")
    b.apply(a.changes())
    start = a.version()
    ta = a.get_text("t")
    ta.insert(10, "xyz")  # typing on at the end
    ta.insert(13, "!")
    ta.delete(2, 3)  # one run, two pieces of work for the receiver
    ta.delete(2, 1)
    ta.insert(0, ">")
    events: list[ChangeEvent] = []
    b.subscribe(events.append)
    b.apply(a.changes(start))
    (event,) = events
    assert not event.local
    assert event.text_edits["t"] == (
        TextEdit(10, 0, "xyz!"),
        TextEdit(2, 4, ""),
        TextEdit(0, 0, ">"),
    )
    assert str(b.get_text("t")) == ">016789xyz!"


def test_deleting_what_is_already_deleted_reports_the_text_but_no_edit() -> None:
    a, b = Document("a"), Document("b")
    a.get_text("t").insert(0, "abc")
    b.apply(a.changes())
    va, vb = a.version(), b.version()
    a.get_text("t").delete(1, 1)
    b.get_text("t").delete(1, 1)
    b.apply(a.changes(va))
    events: list[ChangeEvent] = []
    a.subscribe(events.append)
    a.apply(b.changes(vb))
    assert events[0].names == {"t"}
    assert events[0].text_edits == {"t": ()}


def test_edits_are_not_recorded_without_subscribers_nor_after_an_unsubscribe() -> None:
    a, b = Document("a"), Document("b")
    a.get_text("t").insert(0, "abc")
    events: list[ChangeEvent] = []
    stop = b.subscribe(events.append)
    b.apply(a.changes())
    stop()
    v = a.version()
    a.get_text("t").insert(3, "d")
    b.apply(a.changes(v))
    assert len(events) == 1
    assert all(state._edits is None for state in b._texts.values())


def test_subscribers_that_do_not_read_text_edits_turn_recording_off() -> None:
    a, b = Document("a"), Document("b")
    a.get_text("t").insert(0, "abc")
    quiet: list[ChangeEvent] = []
    stop_quiet = b.subscribe(quiet.append, text_edits=False)
    b.apply(a.changes())
    assert quiet[-1].names == {"t"} and dict(quiet[-1].text_edits) == {}
    loud: list[ChangeEvent] = []
    stop_loud = b.subscribe(loud.append)
    v = a.version()
    a.get_text("t").insert(3, "d")
    b.apply(a.changes(v))
    assert loud[-1] is quiet[-1]  # one event for all, with the edits someone wanted
    assert loud[-1].text_edits == {"t": (TextEdit(3, 0, "d"),)}
    stop_loud()
    stop_quiet()
    v = a.version()
    a.get_text("t").insert(4, "e")
    b.apply(a.changes(v))
    assert len(quiet) == 2 and len(loud) == 1
    assert str(b.get_text("t")) == "abcde"


# ---------------------------------------------------------------------------- cursors


def test_a_cursor_moves_with_the_text_on_every_replica() -> None:
    a, b = Document("a"), Document("b")
    ta, tb = a.get_text("t"), b.get_text("t")
    ta.insert(0, "hello world")
    b.apply(a.changes())
    at_w = ta.cursor(6)  # right before "w"
    after_space = ta.cursor(6, "previous")  # the same place, bound to the space before it
    v = a.version()
    tb.insert(0, ">> ")
    tb.insert(9, "big ")  # exactly where both cursors are (b sees them at 9)
    a.apply(b.changes(v))
    text = str(ta)
    assert text == str(tb) == ">> hello big world"
    for t in (ta, tb):
        assert t.position(at_w) == text.index("world")  # "next": after the inserted text
        assert t.position(after_space) == text.index("big")  # "previous": before it


def test_a_cursor_whose_character_is_deleted_stays_where_it_was() -> None:
    doc = Document("a")
    t = doc.get_text("t")
    t.insert(0, "abcdef")
    c_next, c_prev = t.cursor(3), t.cursor(3, "previous")  # at "d" / after "c"
    t.delete(2, 2)  # "c" and "d" go
    assert str(t) == "abef"
    assert t.position(c_next) == 2 and t.position(c_prev) == 2
    t.insert(0, "XY")
    assert t.position(c_next) == 4 and t.position(c_prev) == 4


def test_cursors_at_the_ends_and_on_an_empty_text() -> None:
    doc = Document("a")
    t = doc.get_text("t")
    end, start = t.cursor(0), t.cursor(0, "previous")
    assert end == Cursor("t", None, 0, "next")
    t.insert(0, "abc")
    assert t.position(end) == 3 and t.position(start) == 0
    end2 = t.cursor(3)
    t.insert(3, "de")
    assert t.position(end2) == 5 and end2.client is None


def test_a_cursor_from_changes_not_yet_here_resolves_to_none() -> None:
    a, b = Document("a"), Document("b")
    b.get_text("t").insert(0, "b's text")
    a.get_text("t").insert(0, "hello")
    cursor = a.get_text("t").cursor(2)
    assert b.get_text("t").position(cursor) is None  # unknown client
    c = Document("c")
    c.apply(a.changes())
    v = a.version()
    a.get_text("t").insert(5, " there")
    later = a.get_text("t").cursor(7)
    assert c.get_text("t").position(later) is None  # known client, character not yet
    c.apply(a.changes(v))
    assert c.get_text("t").position(later) == 7


def test_cursors_survive_save_load_compact_and_encoding() -> None:
    doc = Document("a")
    t = doc.get_text("t")
    t.insert(0, "one two three")
    t.delete(0, 4)
    cursor = t.cursor(4, "previous")
    assert Cursor.decode(cursor.encode()) == cursor
    loaded = Document.load(doc.save())
    assert loaded.get_text("t").position(cursor) == 4
    doc.compact()
    assert doc.get_text("t").position(cursor) == 4


def test_bad_cursor_use_names_what_was_wrong() -> None:
    doc = Document("a")
    t = doc.get_text("t")
    t.insert(0, "abc")
    with pytest.raises(IndexError, match="out of range"):
        t.cursor(4)
    with pytest.raises(IndexError):
        t.cursor(-1)
    with pytest.raises(ValueError, match="bind"):
        t.cursor(1, "left")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        t.cursor(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="belongs to text 'u'"):
        t.position(doc.get_text("u").cursor(0))
    with pytest.raises(TypeError):
        t.position(3)  # type: ignore[arg-type]


def test_a_cursor_kept_as_json_in_a_field_reaches_other_replicas() -> None:
    a, b = Document("a"), Document("b")
    a.get_text("t").insert(0, "shared text")
    caret = a.get_text("t").cursor(7, "previous")
    a.set("caret:a", caret.to_json())
    b.apply(a.changes())
    got = Cursor.from_json(b.get("caret:a"))
    assert got == caret
    assert b.get_text("t").position(got) == 7
    assert Cursor.from_json(Cursor("t", None, 0).to_json()) == Cursor("t", None, 0, "next")


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ([1, 2], "expected a JSON object"),
        ({"text": "t", "client": "a", "seq": 1}, "expected the keys"),
        ({"text": "", "client": "a", "seq": 1, "bind": "next"}, "text must be"),
        ({"text": "t", "client": 5, "seq": 1, "bind": "next"}, "client must be"),
        ({"text": "t", "client": "a", "seq": 0, "bind": "next"}, "seq must be"),
        ({"text": "t", "client": "a", "seq": True, "bind": "next"}, "seq must be"),
        ({"text": "t", "client": "a", "seq": 2**64, "bind": "next"}, "seq must be"),
        ({"text": "t", "client": None, "seq": 3, "bind": "next"}, "seq must be"),
        ({"text": "t", "client": "a", "seq": 1, "bind": "left"}, "unknown bind"),
    ],
)
def test_bad_cursor_json_raises_decode_error(value: object, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        Cursor.from_json(value)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xff\xff", "not a synckit.v1.Cursor"),
        (Cursor("t", "a", 1).encode()[:-1], "not a synckit.v1.Cursor"),
        (Cursor("t", "a", 1).encode() + b"\x20\x07", "unknown bind"),
        (Cursor("", "a", 1).encode(), "no text name"),
        (Cursor("t", "a", 0).encode(), "seq below 1"),
        (Cursor("t", None, 5).encode(), "without its client"),
        (b"\x00" * 70_000, "limit"),
    ],
)
def test_bad_cursor_bytes_raise_decode_error(data: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        Cursor.decode(data)


@SETTINGS
@given(st.integers(0, 2**32), st.integers(10, 150))
def test_a_cursor_resolves_to_its_characters_index_while_it_lives(seed: int, steps: int) -> None:
    """Every character typed is unique, so its index in ``str(text)`` is known; cursors to
    random characters must resolve to exactly that on both replicas while the character is
    there, and between its surviving neighbours once it is gone."""
    rng = random.Random(seed)
    docs = [Document("a"), Document("b")]
    fresh = iter(chr(c) for c in range(0x4E00, 0x9FFF))
    cursors: list[tuple[Cursor, str, str, str]] = []  # cursor, its char, chars before/after
    for _ in range(steps):
        d = rng.choice(docs)
        t = d.get_text("t")
        n = len(t)
        if n and rng.random() < 0.3:
            pos = rng.randrange(n)
            t.delete(pos, rng.randint(1, min(3, n - pos)))
        else:
            t.insert(rng.randint(0, n), "".join(next(fresh) for _ in range(rng.randint(1, 4))))
        n = len(t)
        if n and rng.random() < 0.3:
            pos = rng.randrange(n)
            s = str(t)
            cursors.append((t.cursor(pos), s[pos], s[:pos], s[pos + 1 :]))
        if rng.random() < 0.3:
            docs[0].merge(docs[1])
            docs[1].merge(docs[0])
        for doc in docs:
            text = doc.get_text("t")
            s = str(text)
            for cursor, ch, before, after in cursors:
                got = text.position(cursor)
                if got is None:
                    assert doc.client_id != cursor.client
                    continue
                if ch in s:
                    assert got == s.index(ch)
                else:
                    # Gone: it sits after every surviving character that was before it
                    # when the cursor was made, and before every one that was after it.
                    assert all(s.index(x) < got for x in before if x in s)
                    assert all(s.index(x) >= got for x in after if x in s)


def test_cursor_lookups_between_keystrokes_keep_typing_right() -> None:
    """Typing on at one place takes a fast path that grows its item in place; cursor
    lookups elsewhere in a long (many-block, partly loaded) text between the keystrokes
    must not put it out of step."""
    rng = random.Random(5)
    base = Document("a")
    base.get_text("t").insert(0, "".join(rng.choice("abcdefgh \n") for _ in range(30_000)))
    doc = Document.load(base.save(), client_id="a")  # big decoded blocks, split on demand
    t = doc.get_text("t")
    model = str(t)
    for _ in range(40):
        pos = rng.randrange(len(model) + 1)
        for ch in "typing":
            t.insert(pos, ch)
            model = model[:pos] + ch + model[pos:]
            pos += 1
            far = rng.randrange(len(model))
            cursor = t.cursor(far)
            assert t.position(cursor) == far
        assert str(t) == model
