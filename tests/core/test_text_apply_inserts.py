"""TextState.apply_inserts (a merge's inserts integrated together) does exactly what
apply_insert does one op at a time: same text, same items, same ids, same ops sent."""

from __future__ import annotations

import random

import pytest
from test_text_state import Peer, check_invariants, converge, random_edits, snapshot

from synckit.core import _ops as K
from synckit.core._ops import Op


def _scenario(seed: int, batched: bool) -> Peer:
    """Three peers converge, edit concurrently (typing, pastes, deletes), then ``b``
    integrates ``a``'s and ``c``'s new ops, its inserts batched or one by one."""
    rng = random.Random(seed)
    names = ["a", "b", "c"]
    peers = [Peer(names, n) for n in names]
    for _ in range(3):
        for p in peers:
            random_edits(p, rng, rng.randint(5, 40))
        converge(peers, rng)
    for p in peers:
        random_edits(p, rng, rng.randint(20, 120))
        for _ in range(rng.randint(0, 40)):  # random-position single characters
            p.insert(rng.randint(0, len(p.text)), rng.choice("xyz"))
    dst = peers[1]
    for src in (peers[0], peers[2]):
        c = src.me
        run: list[Op] = []
        for op in src.text.ops_since(c, dst.seen.get(c, 0)):
            if op[0] == "i":
                _, seq, left, right, content = op
                if batched:
                    run.append((K.TEXT_INSERT, seq, "t", left, right, content))
                else:
                    dst.text.apply_insert(c, seq, left, right, content, checked=True)
            else:
                if run:
                    dst.text.apply_inserts(c, run)
                    run = []
                dst.text.apply_delete(c, op[1], op[2], op[3], op[4], checked=True)
        if run:
            dst.text.apply_inserts(c, run)
    return dst


@pytest.mark.parametrize("seed", range(40))
def test_apply_inserts_is_apply_insert_op_by_op(seed: int) -> None:
    one, batch = _scenario(seed, False), _scenario(seed, True)
    check_invariants(batch.text)
    assert snapshot(batch.text) == snapshot(one.text)
    assert _tail(batch) == _tail(one)


def _tail(p: Peer) -> object:
    rt = p.text._rtail  # (the remote typing fast path: armed alike, at the same item)
    return None if rt is None else (rt[0], rt[1], rt[2].idx, *rt[3:])
