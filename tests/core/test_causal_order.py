"""The causal-order check of a snapshot's checkpoints plays the order out client by client;
its verdict must be exactly that of a topological sort of every link (Kahn's, kept here as
the reference), on random checkpoint tables with and without cycles."""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate

import pytest

from synckit.core._causal_order import check_causal_order
from synckit.errors import DecodeError

Checkpoints = list[list[tuple[int, dict[int, int]]]]


def _kahn_reference(checkpoints: Checkpoints) -> bool:
    """True when the segments admit an order: a node per segment, a link per dependency."""
    starts = [[cp[0] for cp in cps] for cps in checkpoints]
    base = list(accumulate((len(cps) + 1 for cps in checkpoints), initial=0))
    waits = [0] * base[-1]
    after: list[list[int]] = [[] for _ in range(base[-1])]
    for c, cps in enumerate(checkpoints):
        for j, (_, deps) in enumerate(cps, 1):
            node = base[c] + j
            before = [node - 1] + [base[d] + bisect_right(starts[d], s) for d, s in deps.items()]
            for b in before:
                after[b].append(node)
            waits[node] += len(before)
    ready = [node for node, w in enumerate(waits) if not w]
    done = 0
    while ready:
        done += 1
        for a in after[ready.pop()]:
            waits[a] -= 1
            if not waits[a]:
                ready.append(a)
    return done == len(waits)


def _accepts(checkpoints: Checkpoints) -> bool:
    try:
        check_causal_order(checkpoints)
    except DecodeError:
        return False
    return True


def _random_table(rng: random.Random) -> Checkpoints:
    n = rng.randint(2, 7)
    table: Checkpoints = []
    for c in range(n):
        cps: list[tuple[int, dict[int, int]]] = []
        start = 0
        for _ in range(rng.randint(0, 6)):
            start += rng.randint(1, 4)
            others = [d for d in rng.sample(range(n), rng.randint(0, n - 1)) if d != c]
            cps.append((start, {d: rng.randint(0, 30) for d in others}))
        table.append(cps)
    return table


@pytest.mark.parametrize("seed", range(4))
def test_the_verdict_is_a_topological_sorts(seed: int) -> None:
    rng = random.Random(seed)
    verdicts = {True: 0, False: 0}
    for _ in range(1500):
        table = _random_table(rng)
        want = _kahn_reference(table)
        assert _accepts(table) == want, table
        verdicts[want] += 1
    assert min(verdicts.values()) > 100  # both kinds of table were tried


def test_a_long_chain_in_reverse_turn_order_is_placed() -> None:
    # Client i's only checkpoint waits for client i + 1's: every client but the last
    # waits once, and each is woken by the next (no client is tried again and again).
    n = 3000
    table: Checkpoints = [[(1, {c + 1: 5})] for c in range(n - 1)]
    table.append([(1, {0: 0})])
    check_causal_order(table)
    table[-1] = [(1, {0: 5})]  # now the last waits for the first: a cycle through all
    with pytest.raises(DecodeError, match="cycle"):
        check_causal_order(table)


def _within(table: Checkpoints, version: list[int]) -> bool:
    return all(
        d < len(version) and s <= version[d]
        for cps in table
        for _, deps in cps
        for d, s in deps.items()
    )


def _accepts_within(table: Checkpoints, version: list[int]) -> bool:
    try:
        check_causal_order(table, version)
    except DecodeError:
        return False
    return True


@pytest.mark.parametrize("seed", range(3))
def test_with_a_version_a_dependency_beyond_it_is_refused_too(seed: int) -> None:
    """Given the version, finished clients stop at one past it: the verdict is a topological
    sort's and every dependency within the version (or on a client beyond the table)."""
    rng = random.Random(seed)
    verdicts = {True: 0, False: 0}
    for _ in range(1500):
        table = _random_table(rng)
        version = [rng.randint(max((cp[0] for cp in cps), default=0), 35) for cps in table]
        if rng.random() < 0.1:  # a dependency on a client beyond the table
            c = rng.randrange(len(table))
            if table[c]:
                table[c][0][1][len(table) + rng.randint(0, 2)] = 1
        want = _within(table, version) and _kahn_reference_known(table)
        assert _accepts_within(table, version) == want, (table, version)
        verdicts[want] += 1
    assert min(verdicts.values()) > 100


def _kahn_reference_known(table: Checkpoints) -> bool:
    n = len(table)
    if any(d >= n for cps in table for _, deps in cps for d in deps):
        return False
    return _kahn_reference(table)


def test_one_client_with_checkpoints_still_has_its_dependencies_checked() -> None:
    table: Checkpoints = [[(2, {1: 3})], []]
    check_causal_order(table, [4, 3])
    with pytest.raises(DecodeError, match="beyond the snapshot's version"):
        check_causal_order(table, [4, 2])
    with pytest.raises(DecodeError, match="beyond the snapshot's version"):
        check_causal_order([[(2, {5: 1})], []], [4, 3])


def test_a_dependency_beyond_the_version_is_named_not_called_a_cycle() -> None:
    table: Checkpoints = [[(2, {1: 3})], [(2, {0: 1})]]
    check_causal_order(table, [4, 3])
    with pytest.raises(DecodeError, match="beyond the snapshot's version"):
        check_causal_order(table, [4, 2])
