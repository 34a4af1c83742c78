"""The bulk load checks of references to another client's characters (origins and delete
targets, :mod:`synckit.core._text._load_checks`) give exactly the verdict of
``History.saw`` / ``History.saw_run`` applied one by one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synckit.core._text._load_checks import (
    History,
    _check_other_origins,
    _check_other_targets,
    _check_right_origins_inside,
)

N = 3  # clients


@st.composite
def histories(draw: st.DrawFn) -> History:
    version = [draw(st.integers(0, 40)) for _ in range(N)]
    checkpoints = []
    for c in range(N):
        starts = sorted(set(draw(st.lists(st.integers(1, 41), max_size=5))))
        cps = []
        for start in starts:
            deps = {d: draw(st.integers(0, 40)) for d in range(N) if d != c and draw(st.booleans())}
            cps.append((start, deps))
        checkpoints.append(cps)
    return History(version, checkpoints)


def _verdict(check: object, *args: object) -> bool:
    try:
        check(*args)  # type: ignore[operator]
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.lists(
        st.tuples(
            st.integers(0, N - 1), st.integers(1, 40), st.integers(-1, N - 1), st.integers(1, 40)
        ),
        max_size=12,
    ),
)
def test_other_origins_as_one_by_one(
    history: History, items: list[tuple[int, int, int, int]]
) -> None:
    clients = [c for c, _, _, _ in items]
    seqs = [s for _, s, _, _ in items]
    ocs = [oc for _, _, oc, _ in items]
    oss = [os for _, _, _, os in items]
    want = all(history.saw(c, s, (oc, os)) for c, s, oc, os in items if oc >= 0 and oc != c)
    assert _verdict(_check_other_origins, history, clients, seqs, ocs, oss) == want


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.integers(0, N - 1),
    st.lists(
        st.tuples(
            st.integers(1, 40), st.integers(0, N - 1), st.integers(1, 40), st.integers(-6, 6)
        ),
        max_size=10,
    ),
)
def test_other_targets_as_one_by_one(
    history: History, c: int, runs: list[tuple[int, int, int, int]]
) -> None:
    runs = [r for r in runs if r[3] and (r[3] > 0 or r[2] + r[3] + 1 >= 1)]
    at = [a for a, _, _, _ in runs]
    targets = [t for _, t, _, _ in runs]
    firsts = [f for _, _, f, _ in runs]
    counts = [n for _, _, _, n in runs]
    ends = [a + abs(n) - 1 for a, _, _, n in runs]
    highs = [f + n - 1 if n > 0 else f for _, _, f, n in runs]
    want = all(history.saw_run(c, a, t, f, n) for a, t, f, n in runs if t != c)
    got = _verdict(_check_other_targets, history, c, (at, ends, targets, highs), (firsts, counts))
    assert got == want


@pytest.mark.parametrize("k", [0, 1])
def test_an_item_before_any_checkpoint_saw_no_other_client(k: int) -> None:
    history = History([5, 5], [[(3, {1: 4})], []])
    seq = 2 if k == 0 else 3  # before the checkpoint: depended on nothing
    ok = _verdict(_check_other_origins, history, [0], [seq], [1], [4])
    assert ok == (k == 1)


def _right_inside_reference(
    history: History,
    clients: list[int],
    seqs: list[int],
    lens: list[int],
    rcs: list[int],
    rss: list[int],
) -> bool:
    """Item by item: each checkpoint start strictly inside an item (after its first
    character) must have seen the item's right origin of another client."""
    for c, s, n, rc, rs in zip(clients, seqs, lens, rcs, rss, strict=True):
        for start in history.starts[c]:
            if (
                s < start <= s + n - 1
                and rc >= 0
                and rc != c
                and not history.saw(c, start, (rc, rs))
            ):
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.lists(
        st.tuples(
            st.integers(0, N - 1), st.integers(1, 5), st.integers(-1, N - 1), st.integers(1, 40)
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_right_origins_inside_as_one_by_one(
    history: History, items: list[tuple[int, int, int, int]]
) -> None:
    nxt = [1] * N  # disjoint items: each client's next free seq
    clients, seqs, lens, rcs, rss = [], [], [], [], []
    for c, n, rc, rs in items:
        clients.append(c)
        seqs.append(nxt[c])
        lens.append(n)
        rcs.append(rc)
        rss.append(rs)
        nxt[c] += n + (rs % 3)  # (gaps now and then)
    lasts = [s + n - 1 for s, n in zip(seqs, lens, strict=True)]
    shift = max(lasts) + 1
    fk = sorted(c * shift + s for c, s in zip(clients, seqs, strict=True))
    lk = sorted(c * shift + s for c, s in zip(clients, lasts, strict=True))
    want = _right_inside_reference(history, clients, seqs, lens, rcs, rss)
    got = _verdict(_check_right_origins_inside, history, clients, seqs, (fk, lk, shift), rcs, rss)
    assert got == want
