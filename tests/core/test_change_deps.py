"""A change's dependencies as ``apply`` reads them: every way of writing them means the same.

The decoder takes a quick path for the usual table (the author first, then its dependencies
in order, each once, none zero) and the per-entry rules otherwise; these tests pin down
that both give the same dependencies: a repeated client counts with its highest seq, a zero
seq is no dependency, and the order of the entries does not matter. What a change depends
on shows in whether it waits (``Document.waiting``) or applies.
"""

from __future__ import annotations

import itertools

import pytest

from synckit import Document
from synckit.core._ops import FIELD_SET
from synckit.errors import DecodeError
from synckit.v1 import changes_pb2

CLIENTS = ["author", "x", "y", "z"]


def field_change(dep_clients: list[int], dep_seqs: list[int], *, author: int = 0) -> bytes:
    """One field write ``f = 1`` by ``CLIENTS[author]`` at seq 1, with these dependencies."""
    msg = changes_pb2.ChangeSet(format=2, clients=CLIENTS, names=["f"])
    ch = msg.changes.add()
    ch.client = author
    ch.start = 1
    ch.dep_clients.extend(dep_clients)
    ch.dep_seqs.extend(dep_seqs)
    ch.kinds.append(FIELD_SET)
    ch.ints.append(0)
    ch.hlcs.append(1 << 16)
    ch.values = "[1]"
    return msg.SerializeToString()


def holding(seqs: dict[str, int]) -> Document:
    """A replica holding ``seqs[c]`` field writes of each client ``c``."""
    doc = Document("reader")
    for client, n in seqs.items():
        src = Document(client)
        for i in range(n):
            src.set(f"{client}{i}", i)
        doc.apply(src.changes())
    return doc


def outcome(doc: Document, data: bytes) -> bool:
    """Whether the change applied (True) or waits for a dependency (False)."""
    doc.apply(data)
    assert doc.waiting in (0, 1)
    return doc.get("f") == 1


@pytest.mark.parametrize(
    ("entries", "applies"),
    [
        # the usual table: positions 1.. in order, each once
        ([(1, 2), (2, 1), (3, 1)], True),
        ([(1, 3), (2, 1), (3, 1)], False),  # x:3 is not held
        # a client twice: its highest seq counts, whichever comes first
        ([(1, 1), (1, 3)], False),
        ([(1, 3), (1, 1)], False),
        ([(1, 1), (1, 2)], True),
        # a zero seq is no dependency (z is not held at all)
        ([(1, 2), (3, 0)], True),
        ([(3, 0), (1, 2), (2, 1)], True),
        # out of order, or with gaps in the positions
        ([(3, 1), (1, 2)], True),
        ([(2, 2)], False),  # y:2 is not held
        ([(2, 1), (3, 1)], True),
    ],
)
def test_dependencies_read_the_same_every_way(
    entries: list[tuple[int, int]], applies: bool
) -> None:
    doc = holding({"x": 2, "y": 1, "z": 1} if all(s for _, s in entries) else {"x": 2, "y": 1})
    data = field_change([c for c, _ in entries], [s for _, s in entries])
    assert outcome(doc, data) is applies
    if not applies:
        assert doc.waiting == 1


def test_every_order_of_the_entries_means_the_same() -> None:
    entries = [(1, 2), (2, 1), (3, 1), (1, 1)]
    for order in itertools.permutations(entries):
        doc = holding({"x": 2, "y": 1, "z": 1})
        assert outcome(doc, field_change([c for c, _ in order], [s for _, s in order]))
        lacking = holding({"x": 1, "y": 1, "z": 1})
        assert not outcome(lacking, field_change([c for c, _ in order], [s for _, s in order]))


@pytest.mark.parametrize(
    ("dep_clients", "dep_seqs", "author", "message"),
    [
        ([1, 2, 3], [1, 1, 1], 1, "own client"),  # the author among the usual positions
        ([1, 2, 4], [1, 1, 1], 0, "dependency client index 4"),
        ([1, 2, 3, 4], [1, 1, 1, 1], 0, "dependency client index 4"),  # positions 1..n, n too big
        ([1, 2], [1, 2**62], 0, "dependency seq"),
        ([1, 1], [2**62, 1], 0, "dependency seq"),
    ],
)
def test_bad_dependencies_are_refused_and_change_nothing(
    dep_clients: list[int], dep_seqs: list[int], author: int, message: str
) -> None:
    doc = holding({"x": 1, "y": 1, "z": 1})
    before = doc.save()
    with pytest.raises(DecodeError, match=message):
        doc.apply(field_change(dep_clients, dep_seqs, author=author))
    assert doc.save() == before
