"""Applying many changes at once whatever their order: each waits on what it lacks and is
looked at again once that is here (``_remote._plan``)."""

from __future__ import annotations

import random

from synckit.core import Document
from synckit.v1 import changes_pb2


def _chain(links: int) -> tuple[Document, list[bytes]]:
    """``links`` writers, each editing after hearing the one before: a chain of
    dependencies across clients. Returns the last writer and each one's change."""
    prev = Document("w0")
    prev.get_text("t").insert(0, "a")
    prev.set("k", 0)
    parts = [prev.changes()]
    for i in range(1, links):
        doc = Document(f"w{i}")
        doc.apply(prev.changes())
        before = doc.version()
        doc.get_text("t").insert(i % 3, "b")
        doc.set("k", i)
        parts.append(doc.changes(before))
        prev = doc
    return prev, parts


def test_a_long_chain_applies_in_one_call_in_any_order() -> None:
    last, parts = _chain(150)
    for order in ("forward", "backward", "shuffled"):
        items = list(parts)
        if order == "backward":
            items.reverse()
        elif order == "shuffled":
            random.Random(5).shuffle(items)
        fresh = Document("fresh")
        for part in items[:-1]:
            fresh.apply(part)  # each waits (or applies) as it comes
        fresh.apply(items[-1])
        assert fresh.waiting == 0, order
        assert fresh.to_json() == last.to_json(), order
        assert fresh.version() == last.version(), order


def test_a_catch_up_written_client_by_client_applies_whole() -> None:
    last, _ = _chain(150)
    data = last.changes()
    # The changes come client by client, each depending on the one written before it.
    assert len(changes_pb2.ChangeSet.FromString(data).changes) >= 150
    fresh = Document("fresh")
    fresh.apply(data)
    assert fresh.waiting == 0 and fresh.to_json() == last.to_json()
