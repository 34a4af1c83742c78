"""A document's whole changes kept and extended (:mod:`synckit.core._whole`): the kept bytes
followed by what the document gained since are one change set that brings a replica holding
nothing to the document's state and version, whatever happened in between."""

from __future__ import annotations

import random

import pytest

from synckit.core import Document
from synckit.core._whole import extend_whole, whole_changes
from synckit.v1 import changes_pb2


def _edit(rng: random.Random, docs: list[Document], steps: int) -> None:
    for _ in range(steps):
        doc = rng.choice(docs)
        r = rng.random()
        if r < 0.2:
            doc.set(f"f{rng.randrange(8)}", rng.random())
        elif r < 0.25:
            key = f"f{rng.randrange(8)}"
            if doc.get(key) is not None:
                doc.delete(key)
        elif r < 0.45:
            text = doc.get_text(rng.choice(["t", "u"]))
            if len(text) and rng.random() < 0.3:
                at = rng.randrange(len(text))
                text.delete(at, min(len(text) - at, rng.randint(1, 4)))
            else:
                text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "é😀", "\x00x"]))
        elif r < 0.6:
            lst = doc.get_list("l")
            if len(lst) and rng.random() < 0.3:
                lst.delete(rng.randrange(len(lst)))
            elif len(lst) > 1 and rng.random() < 0.3:
                lst.move(rng.randrange(len(lst)), rng.randrange(len(lst)))
            else:
                lst.insert(rng.randint(0, len(lst)), rng.randrange(100))
        elif r < 0.7:
            doc.get_map("m").get_map(f"k{rng.randrange(3)}").set("x", rng.randrange(9))
        elif r < 0.78:
            doc.get_counter("c").increment(rng.randint(-3, 3))
        elif r < 0.85:
            doc.get_set("s").add(rng.randrange(6))
        elif r < 0.9:
            doc.trim_history()
        else:
            other = rng.choice(docs)
            other.apply(doc.changes(other.version()))


def _gathered(server: Document, authors: list[Document]) -> None:
    """Everything the authors hold, applied to ``server``."""
    for doc in authors:
        server.apply(doc.changes(server.version()))


@pytest.mark.parametrize("seed", range(40))
def test_the_kept_whole_changes_extended_bring_a_replica_to_the_document(seed: int) -> None:
    rng = random.Random(seed)
    authors = [Document(f"a{i}") for i in range(rng.randint(1, 3))]
    server = Document("server")
    _edit(rng, authors, rng.randint(0, 60))
    _gathered(server, authors)
    kept = whole_changes(server)
    assert kept.data == server.changes()
    for _ in range(3):  # edits since, in rounds: each round extends the same kept bytes
        _edit(rng, authors, rng.randint(0, 60))
        _gathered(server, rng.sample(authors, len(authors)))
        if rng.random() < 0.3:
            server.trim_history()
        data = extend_whole(server, kept)
        assert data is not None and data.startswith(kept.data)
        replica = Document("replica")
        replica.apply(data)
        assert replica.to_json() == server.to_json()
        assert replica.version() == server.version()
        # One ChangeSet, its tables in one piece each as a protobuf reader sees them.
        msg = changes_pb2.ChangeSet.FromString(data)
        assert len(set(msg.clients)) == len(msg.clients)
        assert len(set(msg.names)) == len(msg.names)


def test_nothing_new_gives_the_kept_bytes_themselves() -> None:
    doc = Document("a")
    doc.set("x", 1)
    kept = whole_changes(doc)
    assert extend_whole(doc, kept) is kept.data


def test_another_lineage_is_not_extended() -> None:
    # Client indexes that differ from the kept tables' (another document, or this one
    # decoded again in another order): None, the caller encodes the whole changes again.
    a, b = Document("a"), Document("b")
    a.set("x", 1)
    b.set("y", 2)
    kept = whole_changes(a)
    assert extend_whole(b, kept) is None
    a.apply(b.changes())
    assert extend_whole(a, kept) is not None
