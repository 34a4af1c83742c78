"""Saving builds the text columns in bulk passes; the bytes must be exactly what the
per-item encoder wrote (kept here as the reference), for single- and multi-author texts,
with deletes, merged tombstone runs and origins inside items."""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import repeat
from operator import add, mul, sub

import pytest

from synckit import Document
from synckit.core._text import TextState, _codec


def _rle_reference(values: list[int]) -> list[int]:
    out = [0]
    last = None
    for v in values:
        if v == last:
            out[-1] += 1
        else:
            out += (v, 1)
            last = v
    out[0] = (len(out) - 1) >> 1
    return out


def _origin_columns_reference(
    clients: list[int],
    seqs: list[int],
    lens: list[int],
    origins: tuple[list[int], list[int], list[int], list[int]],
) -> list[int]:
    """The per-item encoder the bulk one replaced (one Python step per item and side)."""
    lcs, lss, rcs, rss = origins
    n = len(seqs)
    ends = list(map(add, seqs, map(abs, lens)))
    shift = max(ends, default=0) + 1
    base = list(map(mul, clients, repeat(shift)))
    firsts = list(map(add, base, seqs))
    lasts = list(map(sub, map(add, base, ends), repeat(1)))
    order = sorted(range(n), key=firsts.__getitem__)
    sorted_firsts = list(map(firsts.__getitem__, order))
    steps: list[int] = []
    nones: list[int] = []
    odds: list[int] = []
    for cs, ss, edges in ((lcs, lss, lasts), (rcs, rss, firsts)):
        item_at = dict(zip(edges, range(n), strict=True))
        js = [0] * n
        none: list[int] = []
        odd: list[int] = []
        j = 0
        for i in range(n):
            c = cs[i]
            if c < 0:
                none.append(i)
            else:
                key = c * shift + ss[i]
                j = item_at.get(key, -1)
                if j < 0:
                    j = order[bisect_right(sorted_firsts, key) - 1]
                    odd += (i, abs(key - edges[j]))
            js[i] = j
        steps += map(sub, js, [0, *js[:-1]])
        nones += (len(none), *none)
        odds += (len(odd) >> 1, *odd)
    return steps + nones + odds


def _doc(authors: int, steps: int, seed: int) -> Document:
    rng = random.Random(seed)
    hub = Document("hub")
    docs = [Document(f"a{a}") for a in range(authors)]
    for i in range(steps):
        text = docs[rng.randrange(authors)].get_text("t")
        n = len(text)
        if n and rng.random() < 0.3:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.randint(1, 6), n - pos))
        else:
            text.insert(rng.randrange(n + 1), "".join(rng.choices("abcdef ", k=rng.randint(1, 4))))
        if i % 3 == 2:
            for d in docs:
                hub.apply(d.changes(hub.version()))
            for d in docs:
                d.apply(hub.changes(d.version()))
    for d in docs:
        hub.apply(d.changes(hub.version()))
    return hub


@pytest.mark.parametrize(("authors", "steps", "seed"), [(1, 400, 1), (3, 600, 2), (8, 900, 3)])
def test_bulk_save_writes_the_same_bytes(
    authors: int, steps: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _doc(authors, steps, seed)
    state = doc._texts["t"]
    fast = state.encode_state()
    fast_bytes = doc.save()
    monkeypatch.setattr(_codec, "_rle", _rle_reference)
    monkeypatch.setattr(_codec, "_origin_columns", _origin_columns_reference)
    assert state.encode_state() == fast
    assert doc.save() == fast_bytes
    # The document loads back to the same text.
    assert str(Document.load(fast_bytes).get_text("t")) == str(doc.get_text("t"))


def test_origins_inside_items_and_items_without_origins_are_encoded_the_same() -> None:
    # Merged tombstone runs give origins inside an item; inserts at the ends give none.
    seen_odd = seen_none = False
    # (2, 300, 21) has a left origin inside an item (searched for: they are rare).
    for authors, steps, seed in [(2, 300, 21), (1, 200, 100), (3, 200, 101)]:
        doc = _doc(authors, steps, seed)
        state = doc._texts["t"]
        ints = state.encode_state()[0]
        cols = [
            b for blk in state._blocks for b in zip(blk.clients, blk.seqs, blk.lens, strict=True)
        ]
        clients = [c for c, _, _ in cols]
        seqs = [s for _, s, _ in cols]
        lens = [ln for _, _, ln in cols]
        origins = tuple(
            [x for blk in state._blocks for x in getattr(blk, name)]
            for name in ("lcs", "lss", "rcs", "rss")
        )
        want = _origin_columns_reference(clients, seqs, lens, origins)  # type: ignore[arg-type]
        got = _codec._origin_columns(clients, seqs, lens, origins)  # type: ignore[arg-type]
        assert got == want
        assert _codec._rle(clients) == _rle_reference(clients)
        n = len(seqs)
        assert ints[1] == n
        p = 2 * n
        seen_none = seen_none or want[p] > 0
        p += 1 + want[p]  # past the items without a left origin
        p += 1 + want[p]  # and without a right one
        seen_odd = seen_odd or want[p] > 0 or want[p + 1 + 2 * want[p]] > 0
    assert seen_odd
    assert seen_none
    assert _codec._rle([]) == _rle_reference([]) == [0]


def _encode_reference(state: object) -> tuple[list[int], str, list[int]]:
    """``encode_state`` written item by item from its documented layout (the per-item
    reference encoders above for the runs and origins), for the whole state."""
    blocks = state._blocks  # type: ignore[attr-defined]
    cols: list[list[int]] = [[] for _ in range(7)]
    for blk in blocks:
        for col, name in zip(
            cols, ("clients", "seqs", "lens", "lcs", "lss", "rcs", "rss"), strict=True
        ):
            col.extend(getattr(blk, name))
    clients, seqs, lens, lcs, lss, rcs, rss = cols
    ints = [2, len(seqs), *_rle_reference(clients)]
    prev = 0
    for s in seqs:
        ints.append(s - prev)
        prev = s
    ints += lens
    ints += _origin_columns_reference(clients, seqs, lens, (lcs, lss, rcs, rss))
    deletes: list[int] = []
    for c, log in state._dels.items():  # type: ignore[attr-defined]
        deletes += (c, len(log.seqs), *_rle_reference([t - c for t in log.targets]))
        for col in (log.seqs, log.firsts):
            prev = 0
            for v in col:
                deletes.append(v - prev)
                prev = v
        deletes += log.counts
    return ints, str(state), deletes


def _cross_deletes(doc: Document, rng: random.Random, k: int) -> None:
    """``k`` random deletes by ``doc`` (whose text holds other authors' characters)."""
    text = doc.get_text("t")
    for _ in range(k):
        n = len(text)
        if n:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.randint(1, 5), n - pos))


@pytest.mark.parametrize("seed", range(12))
def test_encode_state_equals_the_item_by_item_reference(seed: int) -> None:
    # One writer, several, deletes of other authors' characters (delete logs whose targets
    # are not the deleter's), a document loaded back (big decoded blocks) and edited
    # again (split blocks), and the merged tombstone runs that give origins inside items.
    rng = random.Random(seed)
    authors = [1, 1, 2, 3, 5, 8][seed % 6]
    doc = _doc(authors, rng.randint(50, 700), seed + 1000)
    _cross_deletes(doc, rng, rng.randint(0, 40))
    state = doc._texts["t"]
    assert state.encode_state() == _encode_reference(state)
    again = Document.load(doc.save(), client_id="again")
    text = again.get_text("t")
    for _ in range(rng.randint(1, 30)):
        n = len(text)
        if n and rng.random() < 0.4:
            pos = rng.randrange(n)
            text.delete(pos, min(rng.randint(1, 4), n - pos))
        else:
            text.insert(rng.randrange(n + 1), "xy"[: rng.randint(1, 2)])
    loaded = again._texts["t"]
    assert loaded.encode_state() == _encode_reference(loaded)
    assert str(Document.load(again.save()).get_text("t")) == str(text)


def test_encode_state_of_empty_and_single_run_columns() -> None:
    doc = Document("solo")
    assert doc._texts.get("t") is None
    empty = TextState(["solo"])
    assert empty.encode_state() == _encode_reference(empty) == ([2, 0, 0, 0, 0, 0, 0], "", [])
    text = doc.get_text("t")
    text.insert(0, "hello")
    state = doc._texts["t"]
    assert state.encode_state() == _encode_reference(state)
    text.delete(0, 5)  # every character deleted: one tombstone, own deletes only
    assert state.encode_state() == _encode_reference(state)
    assert _codec._rle([7, 7, 7]) == _rle_reference([7, 7, 7]) == [1, 7, 3]
    assert _codec._rle([7, 8, 7]) == _rle_reference([7, 8, 7])


@pytest.mark.parametrize(("authors", "seed"), [(1, 5), (1, 6), (3, 51), (3, 7), (6, 8)])
def test_odd_origins_encode_as_the_reference_and_decode_back(authors: int, seed: int) -> None:
    # Origins moved onto other characters of the state (inside items, onto an item's
    # first character for a left origin or its last for a right one, or none): odd
    # states no edit makes, but the encoder must write what the reference writes, and
    # the decoder must give the same columns back.
    rng = random.Random(seed)
    doc = _doc(authors, 250, seed)
    state = doc._texts["t"]
    chars = [
        (c, s + k)
        for blk in state._blocks
        for c, s, ln in zip(blk.clients, blk.seqs, blk.lens, strict=True)
        for k in range(abs(ln))
    ]
    for _ in range(40):
        blk = rng.choice(state._blocks)
        if not blk.lens:
            continue
        i = rng.randrange(len(blk.lens))
        c, s = rng.choice(chars) if rng.random() < 0.9 else (-1, 0)
        if rng.random() < 0.5:
            blk.lcs[i], blk.lss[i] = c, s
        else:
            blk.rcs[i], blk.rss[i] = c, s
    ints, content, deletes = state.encode_state()
    assert (ints, content, deletes) == _encode_reference(state)
    blocks, dels = _codec.decode_state(doc._clients, ints, content, deletes)
    names = ("clients", "seqs", "lens", "lcs", "lss", "rcs", "rss")
    for name in names:
        want = [x for blk in state._blocks for x in getattr(blk, name)]
        assert [x for blk in blocks for x in getattr(blk, name)] == want
    assert _codec.encode_state(blocks, dels, content) == (ints, content, deletes)
