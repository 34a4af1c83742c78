"""Changes of list edits are written and read column by column (``_list_columns``): the
bytes and the decoded operations must be exactly those of the per-operation loops, and
anything else must be left to those loops."""

from __future__ import annotations

import random
from typing import Any

import pytest

from synckit import Document
from synckit.core import _codec
from synckit.core._codec import decode_changes, parse_change_set, resolve_names


def _edited(seed: int, n: int, nested: bool) -> tuple[Document, Document]:
    """Two replicas of one list, each after ``n`` random edits of its own (also of the
    other's items, and with fields, a second list or nested lists mixed in)."""
    rng = random.Random(seed)
    a = Document("alpha")
    base = a.get_list("l")
    for v in range(30):
        base.append(v)
    b = Document("beta")
    b.apply(a.changes())
    for k in range(2 * n):
        doc, other, tag = (a, b, "a") if k % 2 else (b, a, "b")
        name = "m" if nested and rng.random() < 0.05 else "l"
        lst = doc.get_list(name)
        r = rng.random()
        if nested and r < 0.03:
            doc.set(f"f{k % 3}", k)
        elif nested and r < 0.06 and len(lst):
            lst.insert_list(rng.randint(0, len(lst))).append(k)
        elif r < 0.5 or len(lst) < 2:
            lst.insert(rng.randint(0, len(lst)), f"{tag}{k}" if k % 2 else {"k": [k]})
        elif r < 0.75:
            lst.move(rng.randrange(len(lst)), rng.randrange(len(lst)))
        else:
            lst.delete(rng.randrange(len(lst)))
        if rng.random() < 0.02:
            doc.apply(other.changes(doc.version()))  # later ops depend on more: new changes
    return a, b


def _decoded(data: bytes) -> list[Any]:
    msg = parse_change_set(data)
    idx = list(range(len(msg.clients)))
    names = resolve_names(msg.names[:], idx, msg.format)
    changes = decode_changes(msg.changes, idx, names)
    return [(ch.client, ch.start, ch.deps, ch.ops) for ch in changes]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("nested", [False, True])
def test_same_bytes_and_ops_as_the_per_op_loops(
    seed: int, nested: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _edited(seed, 60, nested)
    sets = [a.changes(b.version()), b.changes(a.version()), a.changes()]
    saved = b.save()
    decoded = [_decoded(data) for data in sets]
    monkeypatch.setattr(_codec, "list_columns", lambda *args: None)
    monkeypatch.setattr(_codec, "list_ops", lambda *args: None)
    assert [a.changes(b.version()), b.changes(a.version()), a.changes()] == sets
    assert b.save() == saved
    assert [_decoded(data) for data in sets] == decoded
    # And the replicas converge through either path.
    a.apply(sets[1])
    b.apply(sets[0])
    assert list(a.get_list("l")) == list(b.get_list("l"))
