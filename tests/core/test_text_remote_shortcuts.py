"""Shortcuts of remote text integration give exactly what the general way gives.

* ``apply_delete`` of characters in the item the last remote insert made or grew (the
  author's backspaces right after typing) takes their place from ``_rtail`` instead of
  looking them up: same text, same items, same ops sent as with the lookups.
* ``visible_offset`` sums over the shorter side of the item.
* An insert typed between two characters of one item splits it in ``apply_inserts``'s
  own loop (covered by ``test_text_apply_inserts``).
* A merge's field writes that lost (SKIPs) between its text inserts no longer cut the run
  of inserts integrated together: the document ends up as when the changes arrive one by
  one.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_bad_input import change_set
from test_text_state import Peer, check_invariants, converge, random_edits, snapshot

from synckit.core import Document, VersionVector
from synckit.core._text import TextOp
from synckit.core._text._blocks import _Block, _col
from synckit.errors import DecodeError
from synckit.v1 import changes_pb2 as K


def _typed_with_backspaces(peer: Peer, rng: random.Random, bursts: int) -> None:
    """Bursts of typing each ended by a few backspaces (what a typing session sends)."""
    for _ in range(bursts):
        cursor = rng.randint(0, len(peer.text))
        for _ in range(rng.randint(1, 12)):
            peer.insert(cursor, rng.choice("abcdef "))
            cursor += 1
        for _ in range(min(cursor, rng.randint(0, 6))):
            peer.delete(cursor - 1, 1)
            cursor -= 1
        if rng.random() < 0.2:
            peer.other_op()


def _integrate(dst: Peer, src: Peer, *, lookups: bool) -> int:
    """Integrate what ``src`` made since ``dst`` saw it; with ``lookups``, every delete takes
    the general way (the remote typing record dropped first). Returns how many deletes
    could take the shortcut."""
    c = src.me
    shortcuts = 0
    ops: list[TextOp] = src.text.ops_since(c, dst.seen.get(c, 0))
    for op in ops:
        if op[0] == "i":
            _, seq, left, right, content = op
            dst.text.apply_insert(c, seq, left, right, content, checked=True)
        else:
            _, seq, tc, first, count = op
            rt = dst.text._rtail
            lo = min(first, first + count + 1)
            hi = max(first, first + count - 1)
            if rt is not None and rt[0] == tc and hi < rt[1]:
                blk, i = rt[2], rt[3]
                if blk.seqs[i] <= lo and blk.clients[i] == tc:
                    shortcuts += 1
            if lookups:
                dst.text._rtail = None
            dst.text.apply_delete(c, seq, tc, first, count, checked=True)
    dst.seen[c] = src.seen[c]
    return shortcuts


def _scenario(seed: int, lookups: bool) -> tuple[Peer, int]:
    rng = random.Random(seed)
    names = ["a", "b", "c"]
    peers = [Peer(names, n) for n in names]
    for p in peers:
        random_edits(p, rng, rng.randint(5, 40))
    converge(peers, rng)
    for p in peers:
        _typed_with_backspaces(p, rng, rng.randint(3, 30))
        random_edits(p, rng, rng.randint(0, 30))
    dst = peers[1]
    shortcuts = _integrate(dst, peers[0], lookups=lookups)
    shortcuts += _integrate(dst, peers[2], lookups=lookups)
    return dst, shortcuts


@pytest.mark.parametrize("seed", range(40))
def test_backspaces_after_remote_typing_need_no_lookup(seed: int) -> None:
    fast, shortcuts = _scenario(seed, lookups=False)
    slow, _ = _scenario(seed, lookups=True)
    check_invariants(fast.text)
    assert snapshot(fast.text) == snapshot(slow.text)
    assert shortcuts  # (the scenario exercises the shortcut)


def test_backspaces_reaching_before_the_typed_item_take_the_general_way() -> None:
    """A delete running from the typed item into the text before it is no shortcut: the
    same result as one by one through the lookups."""
    names = ["a", "b"]
    a, b = Peer(names, "a"), Peer(names, "b")
    a.insert(0, "hello")
    b.pull(a)
    a.insert(5, " world")
    a.delete(3, 8)  # " world" and "lo" of "hello", back to front
    b.pull(a)
    assert str(b.text) == str(a.text) == "hel"
    check_invariants(b.text)


@pytest.mark.parametrize("writers", [1, 3, 6])
def test_id_index_stays_exact_through_splits(writers: int) -> None:
    """Writers' items mixed in blocks that get split: every index entry names the block
    that holds it (check_invariants), before and after building it afresh."""
    rng = random.Random(writers)
    names = [f"w{i}" for i in range(writers)]
    peers = [Peer(names, n) for n in names]
    for _ in range(4):
        for p in peers:
            random_edits(p, rng, rng.randint(20, 60))
        converge(peers, rng)
    for p in peers:
        check_invariants(p.text)
        p.text._index = None
        p.text._ensure_index()
        check_invariants(p.text)


def _skips_between_inserts(seed: int) -> Document:
    """Field writes that lose to later ones of the same key, between text inserts."""
    rng = random.Random(seed)
    doc = Document("writer")
    text = doc.get_text("t")
    for i in range(200):
        doc.set(f"k{rng.randrange(5)}", i)
        text.insert(rng.randint(0, len(text)), rng.choice("xyz"))
        if rng.random() < 0.2 and len(text) > 2:
            text.delete(rng.randrange(len(text) - 1), 2)
    return doc


@pytest.mark.parametrize("seed", range(4))
def test_skips_between_text_inserts_merge_as_one_by_one(seed: int) -> None:
    src = _skips_between_inserts(seed)
    whole = Document("whole")
    whole.apply(src.changes())
    one_by_one, since = Document("one-by-one"), VersionVector()
    for seq in range(1, src.version()["writer"] + 1):
        until = VersionVector({"writer": seq})
        one_by_one.apply(src.changes(since, until))
        since = until
    assert whole.to_json() == one_by_one.to_json() == src.to_json()
    assert whole.changes() == one_by_one.changes() == src.changes()


def _typed_then_deleted(first: int, count: int) -> bytes:
    """One change of client "a": "abc" typed (a:1..3), then a delete (a:4) of ``count``
    characters of its own from a:``first``."""
    return change_set(
        ["a"],
        ["t"],
        kinds=[K.OP_KIND_TEXT_INSERT, K.OP_KIND_TEXT_DELETE],
        ints=[0, 0, 0, 0, 0, 3, 0, 0, first, count],
        text="abc",
    )


@pytest.mark.parametrize(("first", "count", "left"), [(3, -3, ""), (1, 2, "c"), (2, 1, "ac")])
def test_deleting_what_the_change_typed_is_accepted(first: int, count: int, left: str) -> None:
    doc = Document("r")
    doc.apply(_typed_then_deleted(first, count))
    assert doc.to_json() == {"t": left}


@pytest.mark.parametrize(("first", "count"), [(5, 1), (4, -4), (3, 2), (0, 1)])
def test_deleting_what_the_change_did_not_type_is_refused(first: int, count: int) -> None:
    """Its own characters it had not made yet (the delete's own seq, or later ones), or none
    at all: refused, nothing changes."""
    doc = Document("r")
    doc.get_text("t").insert(0, "x")
    before = doc.save()
    with pytest.raises(DecodeError):
        doc.apply(_typed_then_deleted(first, count))
    assert doc.save() == before


@given(lens=st.lists(st.integers(-5, 5).filter(bool), max_size=70), data=st.data())
def test_visible_offset_counts_the_visible_characters_before_an_item(
    lens: list[int], data: st.DataObject
) -> None:
    n = len(lens)
    i = data.draw(st.integers(0, n))
    size = sum(x for x in lens if x > 0)
    blk = _Block(
        0,
        [0] * n,
        _col(range(1, n + 1)),
        lens,
        [-1] * n,
        _col([0] * n),
        [-1] * n,
        _col([0] * n),
        "x" * size,
        size,
    )
    assert blk.visible_offset(i) == sum(x for x in lens[:i] if x > 0)


@pytest.mark.parametrize("seed", range(4))
def test_a_typing_session_sent_in_parts_arrives_whole(seed: int) -> None:
    """A client's edits of one text, now and then of a second one, sent in parts: every
    cut arrives whole (and the deletes of what a change typed go in on arrival)."""
    rng = random.Random(seed)
    doc = Document("typist")
    text, other = doc.get_text("t"), doc.get_text("u")
    for _ in range(150):
        r = rng.random()
        if r < 0.65 or not len(text):
            text.insert(rng.randint(0, len(text)), "abc"[: rng.randint(1, 3)])
        elif r < 0.95:
            text.delete(rng.randrange(len(text)), 1)
        else:
            other.insert(0, "z")
    full = doc.version()["typist"]
    for step in (1, 7):
        replica, since = Document("r"), VersionVector()
        for seq in [*range(step, full, step), full]:
            until = VersionVector({"typist": seq})
            replica.apply(doc.changes(since, until))
            since = until
        assert replica.to_json() == doc.to_json()
        assert replica.changes() == doc.changes()
