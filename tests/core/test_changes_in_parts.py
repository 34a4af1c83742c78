"""``changes(since, until)``: a history sent in parts arrives whole, whatever the cuts."""

from __future__ import annotations

import random

import pytest

from synckit.core import Document, VersionVector


def edited(seed: int) -> Document:
    rng = random.Random(seed)
    a, b = Document("a"), Document("b")
    for i in range(300):
        doc = a if rng.random() < 0.8 else b
        text = doc.get_text("t")
        r = rng.random()
        if r < 0.25:
            doc.set(f"k{i % 5}", i)
        elif r < 0.35:
            doc.get_counter("n").increment(1)
        elif r < 0.45:
            doc.get_list("l").insert(0, i)
        elif r < 0.8 or not len(text):
            text.insert(rng.randint(0, len(text)), "abcdef"[: rng.randint(1, 6)])
        else:
            text.delete(rng.randrange(len(text)), 1)
        if rng.random() < 0.05:
            a.apply(b.changes(a.version()))
            b.apply(a.changes(b.version()))
    a.apply(b.changes(a.version()))
    return a


@pytest.mark.parametrize("seed", range(8))
def test_a_history_sent_in_parts_arrives_whole(seed: int) -> None:
    doc = edited(seed)
    full = doc.version()
    rng = random.Random(seed)
    cuts = sorted({rng.randint(1, full["a"]) for _ in range(6)} | {full["a"]})
    replica, since = Document("r"), VersionVector()
    for cut in cuts:
        until = VersionVector({"a": cut, "b": full["b"]})
        replica.apply(doc.changes(since, until))
        # b's edits that build on a's later ones wait for them; nothing beyond the cut arrives
        assert all(replica.version()[c] <= until[c] for c in ("a", "b"))
        since = until
    assert replica.version() == full
    assert replica.to_json() == doc.to_json()


def test_until_leaves_out_clients_it_does_not_name() -> None:
    doc = edited(1)
    part = Document("r")
    data = doc.changes(None, VersionVector({"b": doc.version()["b"]}))
    part.apply(data)
    assert part.version()["a"] == 0
    part.apply(doc.changes(None, VersionVector({"a": doc.version()["a"]})))
    assert part.version() == doc.version() and part.to_json() == doc.to_json()


def test_until_must_be_a_version_vector() -> None:
    with pytest.raises(TypeError, match="until must be a VersionVector"):
        Document("a").changes(None, {"a": 1})  # type: ignore[arg-type]
