"""Load checks: a decoded text state against the history of the document loading it.

Given the document's version and dependency checkpoints (:class:`History`), a decoded text
must fit them: every item and delete within its client's version, and everything an
operation refers to made before it (by its own client earlier, or within what it depended
on).  Otherwise a hostile snapshot could load into a document whose later changes other
replicas refuse.  :mod:`._codec` runs these checks after its own structural ones.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from operator import add, and_, eq, ge, getitem, gt, itemgetter, le, lt, mul, ne, not_, sub

from synckit.core._ids import ItemId
from synckit.core._text._history import _DeleteLog
from synckit.errors import InvalidValueError


@dataclass(slots=True)
class History:
    """What the document holding a text knows, for checking a decoded text state."""

    #: Per client index, its highest seq.
    version: list[int]
    #: Per client index, its ``(first seq, {client: seq})`` dependency checkpoints in seq
    #: order (before the first one, or with none, it depended on nothing).
    checkpoints: list[list[tuple[int, dict[int, int]]]]
    #: Filled in by :meth:`TextState.decode_state`: per client, the seqs its items and its
    #: deletes take, as sorted ``(firsts, lasts)`` runs (one pair per kind), so that the
    #: document can check them against its other operations.
    used: dict[int, list[tuple[list[int], list[int]]]] = field(default_factory=dict)
    #: Per client index, the first seqs of its checkpoints (bisected without a key
    #: function: :meth:`saw` runs once per item that refers to another client's).
    starts: list[list[int]] = field(init=False, repr=False)
    #: Per client index, the dependencies before its first checkpoint (none: an empty
    #: dict) and then those of each checkpoint: entry ``bisect_right(starts[c], seq)`` is
    #: what operation ``seq`` of client ``c`` depended on.
    deps: list[list[dict[int, int]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.starts = [list(map(itemgetter(0), cps)) for cps in self.checkpoints]
        self.deps = [[{}, *map(itemgetter(1), cps)] for cps in self.checkpoints]

    def saw(self, client: int, seq: int, item: ItemId) -> bool:
        """Whether ``client``'s operation ``seq`` could refer to ``item``: an earlier
        operation of its own, or one within what it depended on (its checkpoint)."""
        other, other_seq = item
        if other == client:
            return other_seq < seq
        k = bisect_right(self.starts[client], seq)
        return k > 0 and other_seq <= self.checkpoints[client][k - 1][1].get(other, 0)

    def saw_run(self, client: int, seq: int, other: int, first: int, count: int) -> bool:
        """Whether ``client``'s delete run could refer to ``other``'s items: operation
        ``seq + k`` deletes item ``first + k`` (``first - k`` when ``count < 0``, a
        backspace run), for ``k`` below ``|count|``.

        A run may span checkpoints of ``client``; within each segment the dependencies are
        fixed, so the operation of the segment that deletes its highest item decides it: the
        segment's last one going forward, its first one going backward.
        """
        starts = self.starts[client]
        last = seq + abs(count) - 1
        inside = starts[bisect_right(starts, seq) : bisect_right(starts, last)]
        if count > 0:  # check each segment's end: the seq before each inner start, and last
            return all(
                self.saw(client, end, (other, first + end - seq))
                for end in [*(start - 1 for start in inside), last]
            )
        return all(  # backward: each segment's start, deleting that segment's highest item
            self.saw(client, start, (other, first - (start - seq))) for start in [seq, *inside]
        )


def _check_history(
    history: History,
    clients: list[int],
    single: int | None,
    items: tuple[list[int], list[int], list[int]],
    keys: tuple[list[int], list[int], int],
    origins: tuple[list[int], list[int], list[int], list[int]],
    dels: dict[int, _DeleteLog],
) -> None:
    """ValueError unless the items and deletes fit the document's version and dependencies,
    so that the operations the document later sends from them are ones replicas accept.

    Every item lies within its client's version; an origin of the item's own client has a
    lower seq than the item, one of another client is within what the item depended on.
    Every delete run lies within its client's version and deletes characters that exist,
    are deleted, and were made before it (or within what it depended on); and every
    deleted character was deleted by one of the runs. The seqs items and deletes take go
    into ``history.used`` for the document's check that no two operations share one.
    Where one client wrote every item these are C-level passes; items and runs that refer
    to another client's characters are checked one by one.

    (What no check can catch: a snapshot is a replica's claim about its state; which text
    a character holds, or the order YATA gave concurrent inserts, cannot be verified
    without the history that made them.)
    """
    vv, used = history.version, history.used
    seqs, lasts, lens = items
    fk, lk, shift = keys
    owners = [single] if single is not None else sorted(set(clients))
    for c in owners:  # ids within the version (each client's highest last key)
        top = lk[-1] if single is not None else lk[bisect_left(lk, (c + 1) * shift) - 1]
        if top - c * shift > vv[c]:
            raise InvalidValueError("text state: an item lies beyond the document's version")
    for ocs, oss in ((origins[0], origins[1]), (origins[2], origins[3])):
        if single is not None:  # every origin is the writer's own (or none: seq 0)
            if any(map(ge, oss, seqs)):
                raise InvalidValueError("text state: an origin is not older than its item")
            continue
        same = list(map(eq, ocs, clients))
        if any(map(ge, compress(oss, same), compress(seqs, same))):
            raise InvalidValueError("text state: an origin is not older than its item")
        _check_other_origins(history, clients, seqs, ocs, oss)
    if single is None:
        _check_right_origins_inside(history, clients, seqs, keys, origins[2], origins[3])
    if single is not None:
        used.setdefault(single, []).append((fk, lk))
    else:
        for c in owners:
            lo, hi = bisect_left(fk, c * shift), bisect_left(fk, (c + 1) * shift)
            base = c * shift
            used.setdefault(c, []).append(
                (list(map(sub, fk[lo:hi], repeat(base))), list(map(sub, lk[lo:hi], repeat(base))))
            )
    if not any(log.seqs for log in dels.values()):
        if min(lens) < 0:
            raise InvalidValueError("text state: a character is deleted but no delete deleted it")
        return
    # The deleted characters (tombstone items) as one int key each, like the targets.
    dead = list(map(lt, lens, repeat(0)))
    if single is None:
        keyed = list(map(mul, clients, repeat(shift)))
        dead_firsts = list(compress(map(add, keyed, seqs), dead))
        dead_lasts = list(compress(map(add, keyed, lasts), dead))
        del keyed
    else:
        dead_firsts = list(compress(seqs, dead))
        dead_lasts = list(compress(lasts, dead))
    del dead
    all_lows: list[int] = []
    all_highs: list[int] = []
    for c, log in dels.items():
        if not log.seqs:
            continue
        at = log.seqs.tolist()
        counts = log.counts
        # Target range of each run: first..first+count-1, or first+count+1..first for a
        # backspace run (count < 0); in C-level passes, with span = |count| - 1.
        firsts = log.firsts.tolist()
        spans = list(map(sub, map(abs, counts), repeat(1)))  # |count| - 1
        back = map(lt, counts, repeat(0))
        lows = list(map(sub, firsts, map(mul, back, spans)))
        highs = list(map(add, lows, spans))
        ends = list(map(add, at, spans))  # the seqs the run itself takes: at .. at + |count| - 1
        if at[0] < 1 or ends[-1] > vv[c]:
            raise InvalidValueError("text state: a delete lies beyond the document's version")
        used.setdefault(c, []).append((at, ends))
        targets = log.targets
        plain = highs  # (highs below become keys, with shift)
        if single is not None:
            if any(map(ne, targets, repeat(single))):
                raise InvalidValueError(
                    "text state: a delete targets a character that is not there"
                )
        else:
            if any(map(ge, highs, repeat(shift))):
                raise InvalidValueError(
                    "text state: a delete targets a character that is not there"
                )
            tbase = list(map(mul, targets, repeat(shift)))
            lows = list(map(add, lows, tbase))
            highs = list(map(add, highs, tbase))
        all_lows += lows
        all_highs += highs
        # Its own client's characters: made before the delete (a lower seq).
        if c == single:  # the one writer deleting its own text: every target is its own
            if any(map(ge, highs, at)):
                raise InvalidValueError("text state: a delete targets a character made after it")
            continue
        mine = list(map(eq, targets, repeat(c)))
        key = c * shift
        if any(map(ge, compress(highs, mine), map(add, compress(at, mine), repeat(key)))):
            raise InvalidValueError("text state: a delete targets a character made after it")
        # Another client's: within what the delete depended on.
        _check_other_targets(history, c, (at, ends, targets, plain), (firsts, counts))

    # The targets are exactly the deleted characters: each target one of them, and each
    # of them some run's target. Two sets of ints are equal iff their unions of ranges,
    # as maximal ranges in order, are the same lists.
    deleted = _union(dead_firsts, dead_lasts)
    if _union(all_lows, all_highs) != deleted:
        raise InvalidValueError(_mismatch(all_lows, all_highs, deleted))


def _mismatch(lows: list[int], highs: list[int], dead: tuple[list[int], list[int]]) -> str:
    """Which way the deletes' targets (``lows[i]..highs[i]``) and the deleted characters
    (``dead``, maximal ranges) differ, worded as the TypeScript core words it: a target that
    is not a deleted character first (only on the error path: one pass over the runs)."""
    firsts, lasts = dead
    for lo, hi in zip(lows, highs, strict=True):
        i = bisect_right(firsts, lo) - 1
        if i < 0 or hi > lasts[i]:
            return "text state: a delete targets a character that is not a deleted one"
    return "text state: a character is deleted but no delete deleted it"


def _check_other_targets(
    history: History,
    c: int,
    runs: tuple[list[int], list[int], list[int], list[int]],
    given: tuple[list[int], list[int]],
) -> None:
    """ValueError unless every delete run of client ``c`` on another client's characters
    deletes only what the run depended on (:meth:`History.saw_run`).

    ``runs``: the runs' first and last seqs, target clients and highest target seqs;
    ``given``: their first targets and signed counts. A run that no checkpoint of ``c``
    cuts depended on one set of versions, which must hold its highest target: C-level
    passes over those runs. A run a checkpoint cuts is checked segment by segment.
    """
    at, ends, targets, highs = runs
    other = list(compress(range(len(at)), map(ne, targets, repeat(c))))
    if not other:
        return
    starts, deps = history.starts[c], history.deps[c]
    ks = list(map(bisect_right, repeat(starts), map(at.__getitem__, other)))
    cut = list(map(ne, ks, map(bisect_right, repeat(starts), map(ends.__getitem__, other))))
    seen = map(dict.get, map(deps.__getitem__, ks), map(targets.__getitem__, other), repeat(0))
    beyond = map(gt, map(highs.__getitem__, other), seen)
    firsts, counts = given
    if any(map(and_, beyond, map(not_, cut))) or not all(
        history.saw_run(c, at[q], targets[q], firsts[q], counts[q]) for q in compress(other, cut)
    ):
        raise InvalidValueError(
            "text state: a delete targets a character of another client that it did not depend on"
        )


def _check_other_origins(
    history: History, clients: list[int], seqs: list[int], ocs: list[int], oss: list[int]
) -> None:
    """ValueError unless every origin ``(ocs[i], oss[i])`` of another client than its item's
    is within what the item depended on (:meth:`History.saw`, for thousands of items in a
    document of many authors): C-level passes over those items, each finding its
    checkpoint by ``bisect`` and looking the origin's client up in its dict."""
    idx = list(compress(range(len(seqs)), map(ne, ocs, clients)))
    oc = list(map(ocs.__getitem__, idx))
    if oc and min(oc) < 0:  # (items without an origin have none to check)
        idx = list(compress(idx, map(ge, oc, repeat(0))))
        oc = list(map(ocs.__getitem__, idx))
    if not idx:
        return
    ci = list(map(clients.__getitem__, idx))
    ks = map(bisect_right, map(history.starts.__getitem__, ci), map(seqs.__getitem__, idx))
    seen = map(dict.get, map(getitem, map(history.deps.__getitem__, ci), ks), oc, repeat(0))
    if any(map(gt, map(oss.__getitem__, idx), seen)):
        raise InvalidValueError(
            "text state: an origin of another client is not among what its item depended on"
        )


def _check_right_origins_inside(
    history: History,
    clients: list[int],
    seqs: list[int],
    keys: tuple[list[int], list[int], int],
    rcs: list[int],
    rss: list[int],
) -> None:
    """ValueError unless an item's right origin of another client is also among what its
    author depended on at each of the author's checkpoints that falls inside the item.

    A left origin is the first character's only (each later one follows its own client's
    previous character), but every character shares the item's right origin, and where a
    checkpoint inside the item changes the dependencies, ``changes`` cuts the item in two:
    the second part is checked against the new ones. Found from the checkpoints (few) by
    bisection in the items' sorted keys (C-level passes per client), not item by item.
    """
    fk, lk, shift = keys
    inside: list[tuple[int, int]] = []  # (first key of an item, checkpoint start inside it)
    for c in set(clients):
        starts = history.starts[c]
        # Only starts below ``shift``: one past every item of ``c`` (their seqs are below
        # it) would, as a key, name another client's character, and check its item
        # against ``c``'s checkpoint.
        starts = starts[: bisect_left(starts, shift)]
        ckeys = list(map(add, starts, repeat(c * shift)))
        # The item whose first key is the last at or below each (-1: none, and then
        # fk[-1], the highest first key, is above it: not inside).
        at = list(map(sub, map(bisect_right, repeat(fk), ckeys), repeat(1)))
        hit = list(
            map(
                and_,
                map(lt, map(fk.__getitem__, at), ckeys),
                map(le, ckeys, map(lk.__getitem__, at)),
            )
        )
        inside += zip(map(fk.__getitem__, compress(at, hit)), compress(starts, hit), strict=True)
    if not inside:
        return
    first_keys = map(add, map(mul, clients, repeat(shift)), seqs)
    index = dict(zip(first_keys, range(len(seqs)), strict=True))
    for first_key, start in inside:
        i = index[first_key]
        c, rc = clients[i], rcs[i]
        if rc >= 0 and rc != c and not history.saw(c, start, (rc, rss[i])):
            raise InvalidValueError(
                "text state: an origin of another client is not among what its item depended on"
            )


def _union(lows: list[int], highs: list[int]) -> tuple[list[int], list[int]]:
    """The ints the ranges ``lows[i]..highs[i]`` cover together, as maximal ranges in
    order: their firsts and their lasts (empty lists for no ranges).

    In C-level passes, without pairing the ranges up: with the lows and the highs sorted
    separately (``L`` and ``H``), an int ``x`` is covered iff fewer highs than lows lie
    below it or at it, so the covered ints stop after ``H[i]`` (and start again at
    ``L[i + 1]``) exactly where ``H[i] + 1 < L[i + 1]``.
    """
    if not lows:
        return [], []
    ls, hs = sorted(lows), sorted(highs)
    gaps = list(map(lt, map(add, hs, repeat(1)), islice(ls, 1, None)))
    firsts = [ls[0], *compress(islice(ls, 1, None), gaps)]
    lasts = [*compress(hs, gaps), hs[-1]]
    return firsts, lasts
