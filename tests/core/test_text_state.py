"""TextState: local edits, YATA merging, history (ops_since) and snapshots."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from text_oracle import reference_replay

from synckit.core._ids import ItemId
from synckit.core._text import TextOp, TextState

# Characters for random text: ASCII, accents (precomposed and combining), emoji, CJK.
ALPHABET = "abcdefghij klmnop\né\u0301😀👍🏽中文字"


# ---------------------------------------------------------------- helpers


def check_invariants(t: TextState) -> None:
    """Internal consistency: block sizes, text, cursor, id index."""
    total = 0
    for b, blk in enumerate(t._blocks):
        assert blk.idx == b
        n = len(blk.lens)
        cols = (blk.clients, blk.seqs, blk.lcs, blk.lss, blk.rcs, blk.rss)
        assert all(len(col) == n for col in cols)
        assert 0 not in blk.lens
        vis = sum(x for x in blk.lens if x > 0)
        assert vis == blk.size == len(blk.text)
        total += vis
    assert total == len(t) == len(str(t))
    if t._cur_b < len(t._blocks):
        assert t._cur_bpos == sum(blk.size for blk in t._blocks[: t._cur_b])
    if t._index is not None:
        seen = 0
        for c, ci in t._index.items():
            assert ci.starts == sorted(ci.starts)
            for s, blk in zip(ci.starts, ci.owners, strict=True):
                i = blk.find(c, s)
                assert blk.clients[i] == c
                seen += 1
        assert seen == sum(len(blk.lens) for blk in t._blocks)


class Peer:
    """A replica with the bookkeeping a Document does: seqs and what it has seen."""

    def __init__(self, names: list[str], name: str) -> None:
        self.names = names
        self.me = names.index(name)
        self.text = TextState(names)
        self.seq = 0  # last seq used by this peer
        self.seen: dict[int, int] = {}  # client -> last seq integrated

    def insert(self, pos: int, content: str) -> tuple[ItemId | None, ItemId | None]:
        origins = self.text.local_insert(self.me, self.seq + 1, pos, content)
        self.seq += len(content)
        self.seen[self.me] = self.seq
        return origins

    def delete(self, pos: int, length: int) -> list[tuple[int, int, int]]:
        runs = self.text.local_delete(self.me, self.seq + 1, pos, length)
        self.seq += length
        self.seen[self.me] = self.seq
        return runs

    def other_op(self, n: int = 1) -> None:
        """Seqs used by another container of the document (gaps in the text's seqs)."""
        self.seq += n

    def knows(self, item: ItemId | None) -> bool:
        return item is None or item[1] <= self.seen.get(item[0], 0)

    def pull(self, src: Peer, rng: random.Random | None = None) -> None:
        """Integrate everything src has that we lack, in a causal (maybe shuffled) order."""
        clients = list(range(len(self.names)))
        progress = True
        while progress:
            progress = False
            if rng is not None:
                rng.shuffle(clients)
            for c in clients:
                after = self.seen.get(c, 0)
                if src.seen.get(c, 0) <= after:
                    continue
                for op in src.text.ops_since(c, after):
                    if not self.apply(c, op):
                        break
                    progress = True

    def apply(self, c: int, op: TextOp) -> bool:
        if op[0] == "i":
            _, seq, left, right, content = op
            if not (self.knows(left) and self.knows(right)):
                return False
            self.text.apply_insert(c, seq, left, right, content)
            self.seen[c] = seq + len(content) - 1
        else:
            _, seq, tc, tf, cnt = op
            if not self.knows((tc, max(tf, tf + cnt - 1))):
                return False
            self.text.apply_delete(c, seq, tc, tf, cnt)
            self.seen[c] = seq + abs(cnt) - 1
        return True


def random_edits(peer: Peer, rng: random.Random, count: int) -> None:
    """Realistic-ish editing: typing bursts at a wandering cursor, backspaces, pastes,
    forward deletes, selections deleted, other containers' ops in between."""
    cursor = rng.randint(0, len(peer.text))
    done = 0
    while done < count:
        n = len(peer.text)
        cursor = min(cursor, n)
        r = rng.random()
        if r < 0.1:
            cursor = rng.randint(0, n)  # click somewhere else
        elif r < 0.55:
            for _ in range(rng.randint(1, 12)):  # typing burst, char by char
                peer.insert(cursor, rng.choice(ALPHABET))
                cursor += 1
                done += 1
        elif r < 0.75 and cursor:
            for _ in range(min(cursor, rng.randint(1, 6))):  # backspaces
                peer.delete(cursor - 1, 1)
                cursor -= 1
                done += 1
        elif r < 0.82 and cursor < n:
            peer.delete(cursor, min(n - cursor, rng.randint(1, 4)))  # forward delete
            done += 1
        elif r < 0.88 and n:
            a = rng.randrange(n)  # select and delete
            peer.delete(a, rng.randint(1, min(30, n - a)))
            cursor = a
            done += 1
        elif r < 0.95:
            paste = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(2, 40)))
            peer.insert(cursor, paste)
            cursor += len(paste)
            done += 1
        else:
            peer.other_op(rng.randint(1, 3))


def converge(peers: list[Peer], rng: random.Random) -> None:
    for _ in range(2):
        for a in peers:
            for b in peers:
                if a is not b:
                    a.pull(b, rng)
    texts = {str(p.text) for p in peers}
    assert len(texts) == 1, texts
    for p in peers:
        check_invariants(p.text)


def snapshot(t: TextState) -> tuple[object, ...]:
    return (str(t), len(t), t.encode_state(), [t.ops_since(c, 0) for c in range(4)])


# ---------------------------------------------------------------- local editing


def test_basic_insert_delete() -> None:
    p = Peer(["a"], "a")
    assert p.insert(0, "hello") == (None, None)
    assert p.insert(5, " world") == ((0, 5), None)
    assert str(p.text) == "hello world" and len(p.text) == 11
    assert p.insert(5, ",") == ((0, 5), (0, 6))
    assert p.delete(0, 1) == [(0, 1, 1)]
    assert str(p.text) == "ello, world"
    assert p.delete(3, 4) == [(0, 5, 1), (0, 12, 1), (0, 6, 2)]
    assert str(p.text) == "ellorld"
    check_invariants(p.text)


def test_typing_extends_one_item() -> None:
    p = Peer(["a"], "a")
    for i, ch in enumerate("typing along"):
        left, right = p.insert(i, ch)
        assert left == (None if i == 0 else (0, i)) and right is None
    assert sum(len(b.lens) for b in p.text._blocks) == 1
    assert p.text.ops_since(0, 0) == [("i", 1, None, None, "typing along")]


def test_seq_gap_starts_new_item() -> None:
    p = Peer(["a"], "a")
    p.insert(0, "ab")
    p.other_op()
    p.insert(2, "c")
    assert str(p.text) == "abc"
    assert p.text.ops_since(0, 0) == [("i", 1, None, None, "ab"), ("i", 4, (0, 2), None, "c")]


def test_insert_in_middle_uses_neighbours_as_origins() -> None:
    p = Peer(["a"], "a")
    p.insert(0, "abcd")
    assert p.insert(2, "XY") == ((0, 2), (0, 3))
    assert str(p.text) == "abXYcd"
    p.delete(4, 1)  # c
    # Yjs convention: the right origin is the item right after the left one, tombstone or not.
    assert p.insert(4, "Z") == ((0, 6), (0, 3))
    assert str(p.text) == "abXYZd"
    check_invariants(p.text)


def test_unicode_code_points() -> None:
    p = Peer(["a"], "a")
    p.insert(0, "e\u0301😀中")
    assert len(p.text) == 4
    p.delete(1, 1)
    assert str(p.text) == "e😀中"
    p.insert(1, "👍🏽")
    assert str(p.text) == "e👍🏽😀中"


@pytest.mark.parametrize(("pos", "length"), [(-1, 1), (4, 1), (0, 5), (3, 2), (-2, 3)])
def test_delete_out_of_range_changes_nothing(pos: int, length: int) -> None:
    p = Peer(["a"], "a")
    p.insert(0, "abcd")
    before = snapshot(p.text)
    with pytest.raises(IndexError):
        p.text.local_delete(0, 10, pos, length)
    assert snapshot(p.text) == before


@pytest.mark.parametrize("pos", [-1, 5, 100, -100])
def test_insert_out_of_range_changes_nothing(pos: int) -> None:
    p = Peer(["a"], "a")
    p.insert(0, "abcd")
    before = snapshot(p.text)
    with pytest.raises(IndexError):
        p.text.local_insert(0, 10, pos, "x")
    assert snapshot(p.text) == before
    # The typing fast path must not swallow a bad position either.
    p.insert(4, "e")
    with pytest.raises(IndexError):
        p.text.local_insert(0, p.seq + 1, 7, "x")
    assert str(p.text) == "abcde"


def test_empty_edits_rejected() -> None:
    t = TextState(["a"])
    with pytest.raises(ValueError):
        t.local_insert(0, 1, 0, "")
    with pytest.raises(ValueError):
        t.local_delete(0, 1, 0, 0)
    with pytest.raises(IndexError):
        t.local_delete(0, 1, 0, 1)
    assert str(t) == "" and t.ops_since(0, 0) == []


def test_has_item() -> None:
    p = Peer(["a", "b"], "a")
    p.insert(0, "abc")
    p.delete(1, 1)
    assert p.text.has_item((0, 1)) and p.text.has_item((0, 2)) and p.text.has_item((0, 3))
    assert not p.text.has_item((0, 4))  # the delete's seq is not a character
    assert not p.text.has_item((0, 0)) and not p.text.has_item((1, 1))
    assert p.text.has_run(0, 1, 3) and p.text.has_run(0, 3, -3) and p.text.has_run(0, 2, 1)
    assert not p.text.has_run(0, 2, 3) and not p.text.has_run(0, 4, -2)
    assert not p.text.has_run(0, 1, 0) and not p.text.has_run(1, 1, 1)


# ---------------------------------------------------------------- history


def test_ops_since_trims_straddling_ops() -> None:
    p = Peer(["a"], "a")
    p.insert(0, "hello")  # seqs 1..5
    p.delete(4, 1)  # 6: o
    p.delete(3, 1)  # 7: l   (backspace run)
    p.delete(2, 1)  # 8: l
    t = p.text
    assert t.ops_since(0, 0) == [("i", 1, None, None, "he\x00\x00\x00"), ("d", 6, 0, 5, -3)]
    assert t.ops_since(0, 3) == [("i", 4, (0, 3), None, "\x00\x00"), ("d", 6, 0, 5, -3)]
    assert t.ops_since(0, 6) == [("d", 7, 0, 4, -2)]
    assert t.ops_since(0, 7) == [("d", 8, 0, 3, 1)]
    assert t.ops_since(0, 8) == []
    p.insert(2, "y")  # seq 9
    assert t.ops_since(0, 8) == [("i", 9, (0, 2), (0, 3), "y")]


def test_forward_delete_run_is_one_op() -> None:
    p = Peer(["a"], "a")
    p.insert(0, "abcdef")
    for _ in range(4):
        p.delete(1, 1)
    assert str(p.text) == "af"
    assert p.text.ops_since(0, 6) == [("d", 7, 0, 2, 4)]
    assert sum(len(b.lens) for b in p.text._blocks) == 3


def test_deleting_deleted_chars_is_recorded_noop() -> None:
    a, b = Peer(["a", "b"], "a"), Peer(["a", "b"], "b")
    a.insert(0, "abcdef")
    b.pull(a)
    a.delete(1, 3)
    b.delete(2, 3)
    a.pull(b)
    b.pull(a)
    assert str(a.text) == str(b.text) == "af"
    assert a.text.ops_since(1, 0) == [("d", 1, 0, 3, 3)]
    check_invariants(a.text)


def test_apply_delete_backspace_run_and_unknown_target() -> None:
    names = ["a", "b"]
    a = Peer(names, "a")
    a.insert(0, "abcdef")
    t = a.text
    t.apply_delete(1, 1, 0, 5, -3)  # e, d, c
    assert str(t) == "abf"
    assert t.ops_since(1, 0) == [("d", 1, 0, 5, -3)]
    before = snapshot(t)
    with pytest.raises(ValueError):
        t.apply_delete(1, 4, 0, 6, 2)  # (0, 7) does not exist
    assert snapshot(t) == before


# ---------------------------------------------------------------- merging


def test_concurrent_inserts_same_position_contiguous_and_ordered() -> None:
    names = ["alice", "bob", "carol"]
    base = Peer(names, "alice")
    base.insert(0, "0123")
    peers = [base, Peer(names, "bob"), Peer(names, "carol")]
    for p in peers[1:]:
        p.pull(base)
    for p, word in zip(peers, ["AAA", "BBBB", "CC"], strict=True):
        for k, ch in enumerate(word):  # typed char by char
            p.insert(2 + k, ch)
    results = set()
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        fresh = Peer(names, "alice")
        fresh.pull(base)
        for k in order:
            fresh.pull(peers[k])
        results.add(str(fresh.text))
    assert results == {"01AAABBBBCC23"}  # ties broken by client id string


def test_tie_break_uses_client_strings_not_indexes() -> None:
    # Same clients, registered in opposite orders on the two replicas.
    x = Peer(["zed", "amy"], "zed")
    y = Peer(["amy", "zed"], "amy")
    x.insert(0, "Z")
    y.insert(0, "A")
    # Hand ops across, translating client indexes through the names.
    for src, dst in ((x, y), (y, x)):
        c_src = src.me
        c_dst = dst.names.index(src.names[c_src])
        for op in src.text.ops_since(c_src, 0):
            assert op[0] == "i"
            dst.text.apply_insert(c_dst, op[1], op[2], op[3], op[4])
    assert str(x.text) == str(y.text) == "AZ"


def test_insert_inside_concurrently_deleted_range() -> None:
    names = ["a", "b"]
    a, b = Peer(names, "a"), Peer(names, "b")
    a.insert(0, "hello world")
    b.pull(a)
    a.delete(2, 7)  # "he" + "ld"
    b.insert(5, "XYZ")  # inside the deleted range
    b.insert(1, "!")
    rng = random.Random(1)
    converge([a, b], rng)
    assert str(a.text) == "h!eXYZld"


def test_overlapping_deletes_and_interleaved_origins() -> None:
    names = ["a", "b", "c"]
    peers = [Peer(names, n) for n in names]
    peers[0].insert(0, "abcdefghij")
    for p in peers[1:]:
        p.pull(peers[0])
    peers[0].delete(2, 4)
    peers[1].delete(4, 4)
    peers[2].delete(0, 3)
    peers[2].insert(1, "Q")
    converge(peers, random.Random(2))
    assert str(peers[0].text) == "Qij"


def test_remote_typing_stream_stays_compact() -> None:
    names = ["a", "b"]
    a, b = Peer(names, "a"), Peer(names, "b")
    for i, ch in enumerate("a remote typist types"):
        a.insert(i, ch)
        b.pull(a)
    assert str(b.text) == "a remote typist types"
    assert sum(len(blk.lens) for blk in b.text._blocks) == 1


def test_apply_insert_rejects_bad_origins_and_duplicates() -> None:
    p = Peer(["a", "b"], "a")
    p.insert(0, "abc")
    t = p.text
    with pytest.raises(ValueError):
        t.apply_insert(1, 1, (0, 9), None, "x")
    with pytest.raises(ValueError):
        t.apply_insert(0, 2, None, None, "x")  # id exists
    assert str(t) == "abc"
    check_invariants(t)


def test_apply_insert_with_right_origin_before_left_goes_in_without_it() -> None:
    """Only hostile bytes make one; it is kept as an insert with no right origin."""
    p = Peer(["a", "b"], "a")
    p.insert(0, "abc")
    t = p.text
    t.apply_insert(1, 1, (0, 3), (0, 1), "x")  # right origin 'a' before left origin 'c'
    assert str(t) == "abcx"
    assert t.ops_since(1, 0) == [("i", 1, (0, 3), None, "x")]
    check_invariants(t)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_peers=st.integers(2, 4))
def test_random_convergence(seed: int, n_peers: int) -> None:
    rng = random.Random(seed)
    names = ["ann", "bo", "cy", "dee"][:n_peers]
    peers = [Peer(names, n) for n in names]
    for _ in range(12):
        for p in peers:
            random_edits(p, rng, rng.randint(0, 15))
        a, b = rng.sample(peers, 2)
        a.pull(b, rng)
    converge(peers, rng)


def test_concurrent_bursts_stay_contiguous() -> None:
    rng = random.Random(7)
    names = ["p", "q", "r"]
    for _ in range(30):
        peers = [Peer(names, n) for n in names]
        peers[0].insert(0, "".join(rng.choice("xyz") for _ in range(20)))
        for p in peers[1:]:
            p.pull(peers[0])
        pos = rng.randint(0, 20)
        words = []
        for k, p in enumerate(peers):
            word = str(k) * rng.randint(1, 6)
            words.append(word)
            for j, ch in enumerate(word):
                p.insert(pos + j, ch)
        converge(peers, rng)
        text = str(peers[0].text)
        for w in words:
            assert w in text


def long_divergence(edits: int, seed: int) -> None:
    rng = random.Random(seed)
    names = ["left", "right"]
    a, b = Peer(names, "left"), Peer(names, "right")
    random_edits(a, rng, 300)
    b.pull(a)
    random_edits(a, rng, edits)
    random_edits(b, rng, edits)
    converge([a, b], rng)


def test_long_divergence() -> None:
    long_divergence(2000, 11)


@pytest.mark.slow
def test_long_divergence_slow() -> None:
    long_divergence(10_000, 12)


# ---------------------------------------------------------------- snapshots


def roundtrip(t: TextState, names: list[str]) -> TextState:
    ints, content, deletes = t.encode_state()
    u = TextState.decode_state(names, list(ints), content, list(deletes))
    assert str(u) == str(t) and len(u) == len(t)
    for c in range(len(names)):
        for after in (0, 1, 5, 50):
            assert u.ops_since(c, after) == t.ops_since(c, after)
    assert u.encode_state() == t.encode_state()
    check_invariants(u)
    return u


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_snapshot_roundtrip_then_merge_the_same(seed: int) -> None:
    rng = random.Random(seed)
    names = ["a", "b", "c"]
    peers = [Peer(names, n) for n in names]
    for _ in range(6):
        for p in peers:
            random_edits(p, rng, rng.randint(0, 20))
        x, y = rng.sample(peers, 2)
        x.pull(y, rng)
    # Decode a copy of peer 0, then feed both the same future ops: identical results.
    copy = Peer(names, "a")
    copy.text = roundtrip(peers[0].text, names)
    copy.seen = dict(peers[0].seen)
    copy.seq = peers[0].seq
    for p in peers[1:]:
        random_edits(p, rng, 30)
    for p in peers[1:]:
        peers[0].pull(p)
        copy.pull(p)
    assert str(copy.text) == str(peers[0].text)
    # Item boundaries may differ (blocks are cut differently), the history may not.
    for c in range(3):
        assert copy.text.ops_since(c, 0) == peers[0].text.ops_since(c, 0)
    random_edits(copy, rng, 50)
    check_invariants(copy.text)


def test_snapshot_empty() -> None:
    t = TextState(["a"])
    u = roundtrip(t, ["a"])
    u.local_insert(0, 1, 0, "x")
    assert str(u) == "x"


def mutations(ints: list[int]) -> Iterable[list[int]]:
    for i in range(len(ints)):
        for delta in (-1, 1, 1000, -(10**6)):
            m = list(ints)
            m[i] += delta
            yield m
    yield ints[:-1]
    yield [*ints, 0]


def test_decode_garbage_raises_value_error() -> None:
    p = Peer(["a", "b"], "a")
    p.insert(0, "hello world")
    p.delete(3, 4)
    p.insert(1, "xy")
    ints, content, deletes = p.text.encode_state()
    names = ["a", "b"]
    for m in mutations(ints):
        try:
            u = TextState.decode_state(names, m, content, deletes)
        except ValueError:
            continue
        check_invariants(u)  # a mutation can still be a valid (different) state
        assert_origins_exist(u)
    for m in mutations(deletes):
        try:
            TextState.decode_state(names, ints, content, m)
        except ValueError:
            continue
    with pytest.raises(ValueError):
        TextState.decode_state(names, ints, content + "x", deletes)
    with pytest.raises(ValueError):
        TextState.decode_state(["a"], [1, 1, 5, 1, 1, -1, 0, -1, 0], "x", [])
    with pytest.raises(ValueError):
        TextState.decode_state(names, [], "", [])


def assert_origins_exist(t: TextState) -> None:
    """Every present origin of a decoded state names a character it holds."""
    for blk in t._blocks:
        for i in range(len(blk.lens)):
            if blk.lcs[i] >= 0:
                assert t.has_item((blk.lcs[i], blk.lss[i]))
            if blk.rcs[i] >= 0:
                assert t.has_item((blk.rcs[i], blk.rss[i]))


def layout(ints: list[int]) -> dict[str, int]:
    """Where each section of an ``encode_state`` (format 2) ``ints`` starts."""
    n = ints[1]
    at = {"left steps": 2 + 1 + 2 * ints[2] + 2 * n}
    at["right steps"] = at["left steps"] + n
    r = at["right steps"] + n
    for name, width in (("left none", 1), ("right none", 1), ("left odd", 2), ("right odd", 2)):
        at[name] = r  # (the count; the entries follow)
        r += 1 + width * ints[r]
    assert r == len(ints)
    return at


def merged_origin_state() -> TextState:
    """A state with "Z" whose left origin ``a`` is inside the deleted item "ab" (merged)."""
    t = TextState(["a", "b", "c"])
    t.local_insert(0, 1, 0, "a")
    t.local_insert(0, 2, 1, "b")
    t.apply_insert(2, 1, (0, 1), None, "Z")  # concurrent with "b": sorts after it
    t.local_delete(0, 3, 0, 2)  # deleted "a" and "b" merge into one item
    return t


def test_snapshot_format_2_layout() -> None:
    t = merged_origin_state()
    ints, content, deletes = t.encode_state()
    assert ints[0] == 2
    at = layout(ints)
    # Items: "ab" (deleted, no origins), "Z" (left origin inside item 0, no right one).
    assert ints[at["left none"] :] == [1, 0, 2, 0, 1, 1, 1, 1, 0]
    u = roundtrip(t, ["a", "b", "c"])
    blk = u._blocks[0]
    assert (blk.lcs, list(blk.lss), blk.rcs) == ([-1, 0], [0, 1], [-1, -1])
    assert str(u) == "Z" and content == "Z"
    assert deletes == [0, 1, 1, 0, 1, 3, 1, 2]  # client 0: one run, seq 3, first 1, count 2


def test_decode_rejects_the_old_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        TextState.decode_state(["a"], [1, 1, 1, 0, 1, 1, 1, 1, -1, 0, -1, 0], "x", [])


def test_decode_rejects_origins_naming_no_character() -> None:
    """Origins name items by position; a step that leaves the items, an offset outside
    its item or a list entry naming no item is refused at decode time."""
    one = TextState(["a"])
    one.local_insert(0, 1, 0, "abc")
    one.local_insert(0, 4, 1, "X")
    two = TextState(["a", "b"])
    two.local_insert(0, 1, 0, "abc")
    two.apply_insert(1, 1, (0, 1), (0, 2), "XY")
    two.apply_insert(1, 3, (0, 3), None, "Z")
    for t, names in ((one, ["a"]), (two, ["a", "b"])):
        ints, content, deletes = t.encode_state()
        n = ints[1]
        accepted = 0
        for side in ("left steps", "right steps"):
            for i in range(n):
                for delta in range(-12, 13):
                    m = list(ints)
                    m[layout(ints)[side] + i] += delta
                    try:
                        u = TextState.decode_state(names, m, content, deletes)
                    except ValueError:
                        continue
                    accepted += 1
                    assert_origins_exist(u)
                    check_invariants(u)
        assert accepted >= 2 * n  # (the unmutated state among them)
        with pytest.raises(ValueError, match="origin refers to an item that is not there"):
            m = list(ints)
            m[layout(ints)["left steps"]] += n
            TextState.decode_state(names, m, content, deletes)


def test_decode_checks_the_origin_lists() -> None:
    names = ["a", "b", "c"]
    ints, content, deletes = merged_origin_state().encode_state()
    odd = layout(ints)["left odd"]
    assert ints[odd : odd + 3] == [1, 1, 1]  # item 1, one character before item 0's last
    for back, ok in ((1, True), (0, False), (2, False), (-1, False)):
        m = list(ints)
        m[odd + 2] = back
        if ok:
            TextState.decode_state(names, m, content, deletes)
        else:
            with pytest.raises(ValueError, match="character that is not there"):
                TextState.decode_state(names, m, content, deletes)
    for item in (0, 2, -1):  # item 0 has no left origin; 2 and -1 are not items
        m = list(ints)
        m[odd + 1] = item
        with pytest.raises(ValueError, match="origin offset names no origin"):
            TextState.decode_state(names, m, content, deletes)
    none = layout(ints)["left none"]
    for item in (2, -1):
        m = list(ints)
        m[none + 1] = item
        with pytest.raises(ValueError, match="without an origin is not there"):
            TextState.decode_state(names, m, content, deletes)
    # The right side is checked the same way (Z has no right origin to move).
    rodd = layout(ints)["right odd"]
    m = [*ints[:rodd], 1, 1, 5]
    with pytest.raises(ValueError, match="offset names no origin"):
        TextState.decode_state(names, m, content, deletes)


def test_decode_ignores_the_item_of_an_absent_origin() -> None:
    """The encoder repeats the previous item for an item without an origin; any other
    item there changes nothing."""
    t = TextState(["a", "b"])
    t.local_insert(0, 1, 0, "abc")
    t.apply_insert(1, 1, (0, 1), (0, 2), "XY")
    ints, content, deletes = t.encode_state()
    r = layout(ints)["left steps"]  # item 0 has no left origin
    for delta in (1, 2, -1):
        m = list(ints)
        m[r] += delta
        m[r + 1] -= delta  # (steps: item 1's origin item stays the same)
        u = TextState.decode_state(["a", "b"], m, content, deletes)
        assert str(u) == str(t)
        assert u.ops_since(0, 0) == t.ops_since(0, 0)
        assert u.ops_since(1, 0) == t.ops_since(1, 0)


def test_decode_checks_the_delete_log() -> None:
    t = TextState(["a"])
    t.local_insert(0, 1, 0, "abcdef")
    t.local_delete(0, 7, 5, 1)  # "f"
    t.local_delete(0, 8, 4, 1)  # "e": a backspace run of two from seq 6
    t.local_delete(0, 9, 0, 2)  # "ab"
    ints, content, deletes = t.encode_state()
    # client, m, target runs, seq steps, first moves, signed counts
    assert deletes == [0, 2, 1, 0, 2, 7, 2, 6, -5, -2, 2]
    TextState.decode_state(["a"], ints, content, deletes)
    bad = {
        "delete runs overlap": [0, 2, 1, 0, 2, 7, 1, 6, -5, -2, 2],
        "delete target seq out of range": [0, 2, 1, 0, 2, 7, 2, 0, 1, -2, 2],  # (seq -1)
        "empty delete run": [0, 2, 1, 0, 2, 7, 2, 6, -5, 0, 2],
        "bad delete log client": [1, 2, 1, 0, 2, 7, 2, 6, -5, -2, 2],
        "delete target client out of range": [0, 2, 1, 3, 2, 7, 2, 6, -5, -2, 2],
    }
    for message, m in bad.items():
        with pytest.raises(ValueError, match=message):
            TextState.decode_state(["a"], ints, content, m)
    with pytest.raises(ValueError, match="delete runs overlap"):  # a negative first seq
        TextState.decode_state(["a"], ints, content, [0, 1, 1, 0, 1, -1, 1, 1])
    with pytest.raises(ValueError, match="delete target seq out of range"):  # first < 0
        TextState.decode_state(["a"], ints, content, [0, 1, 1, 0, 1, 7, -1, 1])


def test_decoded_mutations_have_existing_origins() -> None:
    rng = random.Random(7)
    peers = [Peer(["a", "b", "c"], name) for name in ("a", "b", "c")]
    for p in peers:
        random_edits(p, rng, 15)
    converge(peers, rng)
    ints, content, deletes = peers[0].text.encode_state()
    for m in mutations(ints):
        try:
            u = TextState.decode_state(["a", "b", "c"], m, content, deletes)
        except ValueError:
            continue
        assert_origins_exist(u)
        check_invariants(u)


@settings(max_examples=200, deadline=None)
@given(
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40),
    content=st.text(max_size=10),
    deletes=st.lists(st.integers(-5, 5), max_size=20),
)
def test_decode_random_input_only_value_error(
    ints: list[int], content: str, deletes: list[int]
) -> None:
    for candidate in (ints, [1, *ints], [1, len(ints) // 7, *ints[: (len(ints) // 7) * 7]]):
        try:
            u = TextState.decode_state(["a", "b"], candidate, content, deletes)
        except ValueError:
            continue
        check_invariants(u)


# ---------------------------------------------------------------- reference model
# (RefText and reference_replay: text_oracle.py)


def test_matches_reference_model_under_heavy_concurrency() -> None:
    rng = random.Random(99)
    for _ in range(80):
        names = ["b", "a", "d", "c"]
        peers = [Peer(names, n) for n in names]
        log: list[tuple[int, TextOp]] = []  # every op once, in a causal order
        for _round in range(6):
            for p in peers:
                before = p.seq
                random_edits(p, rng, rng.randint(0, 6))
                # edits cluster: small docs, so concurrent inserts often share a gap
                if len(p.text) > 25:
                    p.delete(0, len(p.text) - 10)
                log.extend((p.me, op) for op in p.text.ops_since(p.me, before))
            x, y = rng.sample(peers, 2)
            x.pull(y, rng)
        converge(peers, rng)
        ref = reference_replay(names, log)
        assert str(ref) == str(peers[0].text)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_position_inserts_across_many_blocks_match_reference(seed: int) -> None:
    """Replicas type single characters at random positions, apart, then merge: the YATA
    scans cross many blocks and meet concurrent runs (the core benchmark's merge)."""
    rng = random.Random(seed)
    names = ["b", "a", "c"]
    peers = [Peer(names, n) for n in names]
    log: list[tuple[int, TextOp]] = []
    peers[0].insert(0, "shared base text " * 6)
    log.extend((0, op) for op in peers[0].text.ops_since(0, 0))
    for p in peers[1:]:
        p.pull(peers[0])
    for p in peers:
        before = p.seq
        for _ in range(220):
            if p.text and rng.random() < 0.1:
                p.delete(rng.randrange(len(p.text)), 1)
            else:
                p.insert(rng.randint(0, len(p.text)), rng.choice("xyz"))
            if rng.random() < 0.2:
                p.other_op()
        log.extend((p.me, op) for op in p.text.ops_since(p.me, before))
    converge(peers, rng)
    assert str(reference_replay(names, log)) == str(peers[0].text)
    assert len(peers[0].text._blocks) > 5
    for p in peers:
        check_invariants(p.text)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_decoded_big_blocks_split_on_demand(seed: int) -> None:
    """decode_state makes big blocks; edits and merges there behave like the original."""
    rng = random.Random(seed)
    names = ["a", "b"]
    a, b = Peer(names, "a"), Peer(names, "b")
    random_edits(a, rng, 400)
    b.pull(a)
    random_edits(a, rng, 200)
    random_edits(b, rng, 200)
    ints, content, deletes = a.text.encode_state()
    copy = Peer(names, "a")
    copy.text = TextState.decode_state(names, ints, content, deletes)
    copy.seen, copy.seq = dict(a.seen), a.seq
    assert len(copy.text._blocks) < len(a.text._blocks) or len(a.text._blocks) == 1
    for p in (a, copy):
        p.pull(b)
        check_invariants(p.text)
    assert str(a.text) == str(copy.text)
    # Same local edits on both (the cursor walks into the big blocks and splits them).
    for p in (a, copy):
        r = random.Random(seed)
        random_edits(p, r, 300)
        check_invariants(p.text)
    assert str(a.text) == str(copy.text)
    assert a.text.ops_since(0, 0) == copy.text.ops_since(0, 0)
    b.pull(copy)
    assert str(b.text) == str(copy.text)


def test_decode_makes_big_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from synckit.core._text import _codec

    monkeypatch.setattr(_codec, "_DECODE_ITEMS", 1000)
    p = Peer(["a"], "a")
    rng = random.Random(5)
    random_edits(p, rng, 3000)
    u = roundtrip(p.text, ["a"])
    assert max(len(blk.lens) for blk in u._blocks) > 64
    u.local_insert(0, p.seq + 1, len(u) // 2, "mid")
    check_invariants(u)
    assert max(len(blk.lens) for blk in u._blocks) <= 1000


def test_ops_since_latest_local_op_shortcut_matches_full_answer() -> None:
    rng = random.Random(3)
    names = ["a", "b"]
    a, b = Peer(names, "a"), Peer(names, "b")
    t = a.text
    history = [0]  # a's seq after each of its edits
    for step in range(600):
        random_edits(a, rng, 1)
        history.append(a.seq)
        if step % 50 == 0:  # remote ops by another client in between
            random_edits(b, rng, 5)
            a.pull(b)
        for after in {history[-2], history[-1], max(history[-2] - 1, 0), history[-3:][0]}:
            fast = t.ops_since(a.me, after)
            saved, t._recent = t._recent, None
            slow = t.ops_since(a.me, after)
            t._recent = saved
            assert fast == slow, (step, after)
    b.pull(a)
    assert str(b.text) == str(a.text)


def test_long_typing_run_keeps_blocks_small() -> None:
    p = Peer(["a"], "a")
    text = "".join(chr(ord("a") + i % 26) for i in range(20_000))
    for i, ch in enumerate(text):
        p.insert(i, ch)
    assert str(p.text) == text
    assert max(blk.size for blk in p.text._blocks) <= 4096 + 1
    check_invariants(p.text)
    # ... and the history is still one op.
    assert p.text.ops_since(0, 0) == [("i", 1, None, None, text)]
    remote = Peer(["a"], "a")
    for i in range(1, 5001):
        op = p.text.ops_since(0, i - 1)[0]
        assert op[0] == "i"
        remote.text.apply_insert(0, i, op[2], op[3], op[4][:1])
    assert str(remote.text) == text[:5000]
    assert max(blk.size for blk in remote.text._blocks) <= 4096 + 1
    check_invariants(remote.text)


def test_keystroke_by_keystroke_sync_with_concurrent_typists() -> None:
    rng = random.Random(21)
    names = ["x", "y", "z"]
    x, y, z = (Peer(names, n) for n in names)
    x.insert(0, "0123456789")
    y.pull(x)
    z.pull(x)
    for step in range(400):
        for p in (x, y):
            r = rng.random()
            n = len(p.text)
            if r < 0.8:
                p.insert(min(n, 5 + step // 20), rng.choice("abc"))
            elif n:
                p.delete(rng.randrange(n), 1)
        # x and y exchange after every keystroke (one-char ops, the remote fast path);
        # z hears from them in bursts and in another order.
        x.pull(y)
        y.pull(x)
        if step % 37 == 0:
            z.pull(y, rng)
    z.pull(x, rng)
    z.pull(y, rng)
    assert str(x.text) == str(y.text) == str(z.text)
    for p in (x, y, z):
        check_invariants(p.text)
