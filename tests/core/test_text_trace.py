"""Replaying the automerge-paper editing trace through TextState."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import pytest

from synckit.core._text import TextState

TRACE = Path("/work/shared/traces/automerge-paper.json.gz")

pytestmark = pytest.mark.skipif(not TRACE.exists(), reason="editing trace not available")


@cache
def load() -> tuple[list[tuple[int, int, str]], str]:
    with gzip.open(TRACE) as f:
        data = json.load(f)
    patches = [(p[0], p[1], p[2]) for txn in data["txns"] for p in txn["patches"]]
    return patches, data["endContent"]


def replay(patches: list[tuple[int, int, str]]) -> TextState:
    t = TextState(["author"])
    seq = 1
    for pos, n_del, ins in patches:
        if n_del:
            t.local_delete(0, seq, pos, n_del)
            seq += n_del
        if ins:
            t.local_insert(0, seq, pos, ins)
            seq += len(ins)
    return t


def check_roundtrip(t: TextState) -> None:
    ints, content, deletes = t.encode_state()
    u = TextState.decode_state(["author"], ints, content, deletes)
    assert str(u) == str(t)
    assert u.ops_since(0, 0) == t.ops_since(0, 0)
    last = t.ops_since(0, 0)[-1][1]
    assert u.ops_since(0, last - 1) == t.ops_since(0, last - 1)
    # The decoded state keeps editing like the original.
    for s in (t, u):
        s.local_insert(0, 10**6, len(s) // 2, "xyz")
        s.local_delete(0, 10**6 + 3, 10, 20)
    assert str(u) == str(t)


def test_trace_prefix_matches_plain_string() -> None:
    patches, _ = load()
    prefix = patches[:30_000]
    t = replay(prefix)
    s = ""
    for pos, n_del, ins in prefix:
        s = s[:pos] + ins + s[pos + n_del :]
    assert str(t) == s and len(t) == len(s)
    check_roundtrip(t)


def test_trace_prefix_history_replays_on_a_remote() -> None:
    patches, _ = load()
    t = replay(patches[:5_000])
    remote = TextState(["author"])
    for op in t.ops_since(0, 0):
        if op[0] == "i":
            remote.apply_insert(0, op[1], op[2], op[3], op[4])
        else:
            remote.apply_delete(0, op[1], op[2], op[3], op[4])
    assert str(remote) == str(t)


@pytest.mark.slow
def test_full_trace() -> None:
    patches, end = load()
    t = replay(patches)
    assert str(t) == end
    check_roundtrip(t)
