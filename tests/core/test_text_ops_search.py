"""``ops_since`` finds a client's items by a search in the blocks it meets rather than by a
map of each block when few are due (a catch-up of a large text, a few scattered edits): the
operations are the same either way, on texts of several authors typing, deleting and merging
in random orders, for every client and every kind of ``after``."""

from __future__ import annotations

import random

import pytest

from synckit.core import Document
from synckit.core._text import _history
from synckit.core._text._state import TextState


def _ops(text: TextState, client: int, after: int, searched: int) -> list[object]:
    saved = _history._SEARCHED
    _history._SEARCHED = searched
    try:
        return list(text.ops_since(client, after))
    finally:
        _history._SEARCHED = saved


def _scripted(seed: int, steps: int) -> Document:
    rng = random.Random(seed)
    docs = [Document(f"author-{i}") for i in range(rng.randint(1, 4))]
    for _ in range(rng.randint(5, steps)):
        doc = rng.choice(docs)
        text = doc.get_text("t")
        r = rng.random()
        if r < 0.55 or not len(text):
            at = rng.randint(0, len(text)) if rng.random() < 0.6 else len(text)
            text.insert(at, "".join(rng.choice("abcé😀 \n") for _ in range(rng.randint(1, 6))))
        elif r < 0.8:
            at = rng.randrange(len(text))
            text.delete(at, min(len(text) - at, rng.randint(1, 5)))
        elif r < 0.9:
            doc.set("f", rng.random())  # seqs the text does not hold (gaps)
        else:
            other = rng.choice(docs)
            other.apply(doc.changes(other.version()))
    last = Document("reader")
    for doc in rng.sample(docs, len(docs)):
        last.apply(doc.changes(last.version()))
    if rng.random() < 0.5:  # loaded: blocks of a thousand items
        last = Document.load(last.save(), "reader")
    return last


@pytest.mark.parametrize(
    ("seed", "steps"), [*((seed, 300) for seed in range(30)), *((seed, 5_000) for seed in range(4))]
)
def test_items_found_by_search_give_the_same_operations(seed: int, steps: int) -> None:
    doc = _scripted(seed, steps)
    text = doc._texts.get("t")
    if text is None:
        return
    if steps > 300:
        assert len(text._blocks) > 1
    rng = random.Random(seed)
    for client, top in enumerate(doc._vv):
        afters = {0, top, top + 5, max(0, top - 1), max(0, top - 40), rng.randint(0, top)}
        for after in sorted(afters):
            mapped = _ops(text, client, after, 0)  # every block mapped when first met
            assert _ops(text, client, after, 1 << 30) == mapped, (client, after)  # all searched
            assert _ops(text, client, after, 2) == mapped, (client, after)
