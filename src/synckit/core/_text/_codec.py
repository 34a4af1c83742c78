"""The snapshot codec: a text state as integer columns (format 2), and back, checked.

``encode_state`` (see its docstring for the exact layout) writes the items in document
order as integer columns: the clients run-length encoded, seqs delta-coded, signed lengths,
and each origin as a *reference to an item*: the left origin of item ``i`` is the last
character of item ``j`` and the right origin the first character of item ``j``, written as
the step from the previous item's ``j``.  Then come the short lists of items without an
origin and of the rare origins inside an item (an offset from that last / first character;
only merged tombstone runs make those).  Then the visible text and, per client, the delete
log as columns (seq steps, target moves, counts).

``decode_state`` rebuilds the blocks with slicing and C-level ``map``/``accumulate``,
without integrating anything, after validating everything a hostile input could break:
lengths, client ranges, trailing ints, overlapping ids, origins naming no character.
No check is a Python loop per item.  Ids overlap unless the separately sorted first and
last seqs interleave (two ``sorted`` calls on integer keys).  An origin needs no check
of its own: looking up item ``j``'s last (first) seq in a list *is* the origin's seq,
and an index outside the items raises; only the short lists are checked entry by entry.
Since those lookups return the int objects of the ``seqs`` and ``lasts`` lists, the
origin columns allocate no new ints on their way into ``array('q')`` columns, and big
temporaries are dropped early, which keeps the peak memory of a load (and the allocator
pages it leaves behind) low.  The delete log is checked the same way: seq steps at
least the previous run's size, nonzero counts, no target below seq 0.

Given the document's version and checkpoints (:class:`~._load_checks.History`),
``decode_state`` also checks the text against them (:mod:`._load_checks`), so that a
hostile snapshot cannot load into a document whose later changes other replicas refuse.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, islice, repeat
from operator import add, ge, gt, invert, lt, mul, ne, sub

from synckit.core._text._blocks import _Block, _col
from synckit.core._text._history import _DeleteLog
from synckit.core._text._load_checks import History, _check_history
from synckit.errors import InvalidValueError

_FORMAT = 2  # first int of encode_state
_DECODE_ITEMS = 1024  # items per block made by decode_state


def encode_state(
    blocks: list[_Block], dels: dict[int, _DeleteLog], content: str
) -> tuple[list[int], str, list[int]]:
    """``(ints, content, deletes)``: the items, the visible text, the delete log.

    ``ints`` holds the items in document order as columns (format 2)::

        2, n,
        runs of item clients:             k, (client, count) * k
        seq - previous item's seq:        n values
        signed lengths (< 0 deleted):     n values
        left origin items:                n values, j - previous j: the left origin
                                          of item i is the last character of item j
        right origin items:               n values, likewise: the first character
        items without a left origin:      k, i * k   (their j repeats the previous j)
        items without a right origin:     k, i * k
        left origins inside their item:   k, (i, back) * k: the left origin of item i
                                          is ``back`` characters before that last one
        right origins inside their item:  k, (i, skip) * k: ``skip`` characters after
                                          that first one

    An origin names an item by its position rather than a character by its id, so
    it cannot name a character that is not here, and its client is that item's.
    Nearly every origin is the last (left) or first (right) character of a nearby
    item: the steps between the j's are small numbers and the other lists short.

    ``deletes`` holds, per client, ``client, m``, runs of ``target client - client``
    (``k, (value, count) * k``) and three columns of ``m`` values: ``seq - previous
    run's seq``, ``target first - previous run's target first``, signed count.
    """
    # (list += list is a C-level copy; the seq columns are arrays, joined at C speed
    # and made lists once)
    clients: list[int] = []
    lens: list[int] = []
    lcs: list[int] = []
    rcs: list[int] = []
    for blk in blocks:
        clients += blk.clients
        lens += blk.lens
        lcs += blk.lcs
        rcs += blk.rcs
    seqs = _join([blk.seqs for blk in blocks]).tolist()
    lss = _join([blk.lss for blk in blocks]).tolist()
    rss = _join([blk.rss for blk in blocks]).tolist()
    n = len(seqs)
    ints = [_FORMAT, n]
    ints += _rle(clients)
    ints += map(sub, seqs, chain((0,), seqs))
    ints += lens
    ints += _origin_columns(clients, seqs, lens, (lcs, lss, rcs, rss))
    deletes: list[int] = []
    for c, log in dels.items():
        m = len(log.seqs)
        deletes += (c, m)
        targets = log.targets
        if m and targets.count(c) == m:
            deletes += (1, 0, m)  # every run deletes its own client's characters
        else:
            deletes += _rle(list(map(sub, targets, repeat(c))))
        deletes += map(sub, log.seqs, chain((0,), log.seqs))
        deletes += map(sub, log.firsts, chain((0,), log.firsts))
        deletes += log.counts
    return ints, content, deletes


def decode_state(
    client_ids: list[str],
    ints: list[int],
    content: str,
    deletes: list[int],
    history: History | None = None,
    *,
    trusted: bool = False,
) -> tuple[list[_Block], dict[int, _DeleteLog]]:
    """The blocks and delete logs of the state :func:`encode_state` wrote (no blocks for an
    empty text), after checking everything a hostile input could break; raises ValueError
    naming the problem.

    With ``history`` (the document's version and dependency checkpoints, see
    :class:`History`), the items and deletes must also fit it: every id within the
    version, and everything an operation refers to made before it (by its own client
    earlier, or within what it depended on), so the document's later ``changes`` are
    ones other replicas accept.

    ``trusted`` (bytes this code wrote, authenticated by the caller; then ``history`` is
    None) skips the check that no two items share an id, which only a hostile author
    breaks; what keeps decoding itself safe (lengths, ranges, origins naming items) stays.
    """
    try:
        return _decode(client_ids, ints, content, deletes, history, trusted)
    except (OverflowError, TypeError) as e:  # out-of-range or non-integer values
        raise InvalidValueError(f"text state: bad value ({e})") from None


def _decode(
    client_ids: list[str],
    ints: list[int],
    content: str,
    deletes: list[int],
    history: History | None,
    trusted: bool = False,
) -> tuple[list[_Block], dict[int, _DeleteLog]]:
    if len(ints) < 2 or ints[0] != _FORMAT:
        raise InvalidValueError(f"text state: unknown format (this version reads {_FORMAT})")
    nclients = len(client_ids)
    n = ints[1]
    r = _Reader(ints, 2)
    clients, cvals = r.runs(n, 0)
    if cvals and (min(cvals) < 0 or max(cvals) >= nclients):
        raise InvalidValueError("text state: item client out of range")
    seqs = list(accumulate(r.take(n)))
    lens = r.take(n)
    lsteps = r.take(n)
    rsteps = r.take(n)
    lnone = r.take(r.take(1)[0])
    rnone = r.take(r.take(1)[0])
    lodd = r.take(2 * r.take(1)[0])
    rodd = r.take(2 * r.take(1)[0])
    if r.pos != len(ints):
        raise InvalidValueError("text state: trailing ints")
    dels = _decode_deletes(deletes, nclients)
    if not n:
        if content:
            raise InvalidValueError("text state: content length does not match the items")
        if history is not None and any(log.seqs for log in dels.values()):
            raise InvalidValueError("text state: a delete targets a character that is not there")
        return [], dels
    if 0 in lens:
        raise InvalidValueError("text state: empty item")
    alens = list(map(abs, lens))  # item sizes
    lasts = list(map(add, seqs, map(sub, alens, repeat(1))))  # seq of each last char
    single = None if len(cvals) > 1 else cvals[0]  # the one writer of every item
    keys = None
    if not trusted or history is not None:
        keys = _check_disjoint(None if single is not None else clients, seqs, lasts)
    # Origin seqs are looked up in seqs and lasts (no new ints) and go straight into
    # the blocks' int64 columns.
    lcs, lss = _origins((lsteps, lnone, lodd), 1, lasts, clients, single, alens)
    rcs, rss = _origins((rsteps, rnone, rodd), -1, seqs, clients, single, alens)
    if history is not None and keys is not None:
        items = (seqs, lasts, lens)
        _check_history(history, clients, single, items, keys, (lcs, lss, rcs, rss), dels)
    del keys
    als = _col(lss)
    del lss, lasts
    ars = _col(rss)
    del rss
    aseq = _col(seqs)
    del seqs
    blocks: list[_Block] = []
    step = _DECODE_ITEMS  # big blocks: _locate splits them when an edit gets there
    voff = 0
    for a in range(0, n, step):
        e = a + step
        chunk = lens[a:e]
        size = (sum(chunk) + sum(alens[a:e])) >> 1
        blocks.append(
            _Block(
                len(blocks),
                clients[a:e],
                aseq[a:e],
                chunk,
                lcs[a:e],
                als[a:e],
                rcs[a:e],
                ars[a:e],
                content[voff : voff + size],
                size,
            )
        )
        voff += size
    if voff != len(content):
        raise InvalidValueError("text state: content length does not match the items")
    return blocks, dels


class _Reader:
    """Takes checked slices of a list of ints."""

    __slots__ = ("ints", "pos")

    def __init__(self, ints: list[int], pos: int) -> None:
        self.ints = ints
        self.pos = pos

    def take(self, k: int) -> list[int]:
        p = self.pos
        if k < 0 or p + k > len(self.ints):
            raise InvalidValueError("text state: truncated")
        self.pos = p + k
        return self.ints[p : p + k]

    def runs(self, n: int, offset: int) -> tuple[list[int], list[int]]:
        """A run-length-encoded column of ``n`` values, each added to ``offset``, plus
        the values that occur.

        Columns of ``n`` plain ints follow it, so an ``n`` beyond the ints left is a
        truncation, refused before the runs are expanded (a hostile count must not allocate).
        """
        (k,) = self.take(1)
        flat = self.take(2 * k)
        if n > len(self.ints) - self.pos:
            raise InvalidValueError("text state: truncated")
        counts = flat[1::2]
        if (k and min(counts) < 1) or sum(counts) != n:
            raise InvalidValueError("text state: bad run lengths")
        values = flat[0::2]
        if offset:
            values = list(map(add, values, repeat(offset)))
        return list(chain.from_iterable(map(repeat, values, counts))), values


def _rle(values: list[int]) -> list[int]:
    """``k, (value, count) * k`` for a column, in C-level passes: the run starts are
    where a value differs from the one before it."""
    n = len(values)
    if not n:
        return [0]
    if values.count(values[0]) == n:  # one run (one writer): one C-level count
        return [1, values[0], n]
    starts = [0, *compress(range(1, n), map(ne, islice(values, 1, None), values))]
    out = [len(starts)]
    counts = map(sub, [*islice(starts, 1, None), n], starts)
    out += chain.from_iterable(zip(map(values.__getitem__, starts), counts, strict=True))
    return out


def _join(columns: list[array[int]]) -> array[int]:
    """The ``array('q')`` columns one after the other (C-level copies)."""
    out = _col()
    for col in columns:
        out += col
    return out


def _origin_columns(
    clients: list[int],
    seqs: list[int],
    lens: list[int],
    origins: tuple[list[int], Sequence[int], list[int], Sequence[int]],
) -> list[int]:
    """The origin columns of format 2 for items in document order (see
    :func:`encode_state`): the steps of both sides, then their lists.

    Each origin is looked up as one int key (``client * shift + seq``; just the seq
    when one client wrote every item and origin) among the items' last (left) or first
    (right) characters with a C-level ``map`` over ``dict.get``; only the rare items
    without an origin or with one inside an item take a Python step (:class:`_Inside`).
    """
    one = _one_writer(clients, origins[0], origins[2])
    inside: _Inside | None = None
    out: list[int] = []
    nones: list[int] = []
    odds: list[int] = []
    for side, (cs, ss, item_at, keys) in enumerate(_lookups(clients, seqs, lens, origins, one)):
        js = list(map(item_at.get, keys, repeat(-1)))
        del item_at
        for i in _positions(cs, -1):
            js[i] = -1  # no origin (whatever its key happened to match)
        none: list[int] = []
        odd: list[int] = []
        for i in _positions(js, -1):  # in order: js[i - 1] is final
            if cs[i] < 0:
                none.append(i)
                js[i] = js[i - 1] if i else 0  # (j stays as it was: a step of 0)
            else:  # a character inside an item
                if inside is None:
                    inside = _Inside(clients, seqs, lens, one)
                j, back = inside.find(side, cs[i], ss[i])
                js[i] = j
                odd += (i, back)
        out += map(sub, js, chain((0,), js))
        nones += (len(none), *none)
        odds += (len(odd) >> 1, *odd)
    out += nones
    out += odds
    return out


def _lookups(
    clients: list[int],
    seqs: list[int],
    lens: list[int],
    origins: tuple[list[int], Sequence[int], list[int], Sequence[int]],
    one: bool,
) -> Iterator[tuple[list[int], Sequence[int], dict[int, int], Iterable[int]]]:
    """For the left side, then the right: its origin clients and seqs, the dict from the
    key of each item's last (left) or first (right) character to the item's index, and
    the origins' keys, computed as the lookup consumes them.  One dict at a time (the
    caller drops each before asking for the next); both share one list of indexes."""
    lcs, lss, rcs, rss = origins
    at = list(range(len(seqs)))  # one int object per item, in both dicts
    if one:
        # A character's id is its seq: no passes to scale and add a client.
        lasts = map(sub, map(add, seqs, map(abs, lens)), repeat(1))
        yield lcs, lss, dict(zip(lasts, at, strict=True)), lss
        yield rcs, rss, dict(zip(seqs, at, strict=True)), rss
        return
    ends = list(map(add, seqs, map(abs, lens)))
    shift = max(ends, default=0) + 1  # a character id as one int: client * shift + seq
    base = list(map(mul, clients, repeat(shift)))
    lasts = map(sub, map(add, base, ends), repeat(1))
    del ends
    lkeys = map(add, map(mul, lcs, repeat(shift)), lss)
    yield lcs, lss, dict(zip(lasts, at, strict=True)), lkeys
    rkeys = map(add, map(mul, rcs, repeat(shift)), rss)
    yield rcs, rss, dict(zip(map(add, base, seqs), at, strict=True)), rkeys


class _Inside:
    """Finds the item holding a character that is no item's first or last (an origin
    inside an item): the items' first characters as int keys (``client * shift + seq``;
    just the seq for one writer), sorted once, then a bisect per origin."""

    __slots__ = ("firsts", "lasts", "order", "shift", "sorted_firsts")

    def __init__(self, clients: list[int], seqs: list[int], lens: list[int], one: bool) -> None:
        if one:  # every item and origin is one client's: a character's id is its seq
            self.shift = 0
            self.firsts = seqs
            self.lasts = list(map(sub, map(add, seqs, map(abs, lens)), repeat(1)))
        else:
            ends = list(map(add, seqs, map(abs, lens)))
            self.shift = max(ends, default=0) + 1
            base = list(map(mul, clients, repeat(self.shift)))
            self.firsts = list(map(add, base, seqs))
            self.lasts = list(map(sub, map(add, base, ends), repeat(1)))
        self.order = sorted(range(len(seqs)), key=self.firsts.__getitem__)
        self.sorted_firsts = list(map(self.firsts.__getitem__, self.order))

    def find(self, side: int, client: int, seq: int) -> tuple[int, int]:
        """``(j, offset)``: the item holding character ``(client, seq)`` and how far the
        character is from its last (``side`` 0) or first (``side`` 1) character."""
        key = client * self.shift + seq
        j = self.order[bisect_right(self.sorted_firsts, key) - 1]
        return j, abs(key - (self.firsts[j] if side else self.lasts[j]))


def _positions(column: list[int], value: int) -> list[int]:
    """The indexes of ``value`` in ``column``, in order: ``list.index`` scans at C speed
    between them (few, here: items without an origin, or with one inside an item)."""
    out: list[int] = []
    i = -1
    try:
        while True:
            i = column.index(value, i + 1)
            out.append(i)
    except ValueError:
        return out


def _one_writer(clients: list[int], lcs: list[int], rcs: list[int]) -> bool:
    """Whether one client wrote every item and every origin names one of its characters
    (or none): then a character id needs no client part."""
    if not clients:
        return False
    c = clients[0]
    n = len(clients)
    if clients.count(c) != n:
        return False
    return all(col.count(c) + col.count(-1) == n for col in (lcs, rcs))


def _check_disjoint(
    clients: list[int] | None, seqs: list[int], lasts: list[int]
) -> tuple[list[int], list[int], int]:
    """ValueError unless the items' ids ``seqs[i] .. lasts[i]`` (of ``clients[i]``; of
    one writer when ``clients`` is None) are all distinct and every seq is >= 1.

    Every id becomes one integer key ``client * shift + seq`` (just ``seq`` for one
    writer: ``shift`` 0).  Sorting first and last keys separately, the ranges are
    disjoint iff each last is below the next first (then the i-th first and i-th last
    belong together): two C-level sorts rather than a Python loop per item.  Returns the
    sorted first keys, the sorted last keys and ``shift``.
    """
    shift = 0
    if clients is None:
        fk = sorted(seqs)
        if fk[0] < 1:
            raise InvalidValueError("text state: an item seq below 1")
        lk = sorted(lasts)
    else:
        if min(seqs) < 1:
            raise InvalidValueError("text state: an item seq below 1")
        shift = max(lasts) + 1
        base = list(map(mul, clients, repeat(shift)))
        fk = sorted(map(add, base, seqs))
        lk = sorted(map(add, base, lasts))
    if any(map(ge, lk, islice(fk, 1, None))):
        raise InvalidValueError("text state: items overlap")
    return fk, lk, shift


def _origins(
    lists: tuple[list[int], list[int], list[int]],
    sign: int,
    edges: list[int],
    clients: list[int],
    single: int | None,
    sizes: list[int],
) -> tuple[list[int], list[int]]:
    """The client and seq columns of one side's origins from its ``(steps, items
    without one, exceptions)`` (see :func:`encode_state`).

    ``sign`` 1 is the left side (``edges``: the seq of each item's last character), -1
    the right side (``edges``: each item's first seq).  An item index outside the items
    or an offset outside its item is a ValueError; anything else names a character of
    this state by construction, so the lookups (C-level ``accumulate`` and ``map`` over
    ``list.__getitem__``) are the whole check.  ``single`` is the client of every item
    when one writer wrote them all (then no client column is looked up).
    """
    steps, none, odd = lists
    n = len(steps)
    js: list[int] = []
    try:
        if single is not None and not odd:
            seqs = list(map(edges.__getitem__, accumulate(steps)))
        else:
            js = list(accumulate(steps))
            seqs = list(map(edges.__getitem__, js))
        cs = [single] * n if single is not None else list(map(clients.__getitem__, js))
    except IndexError:
        raise InvalidValueError(
            "text state: an origin refers to an item that is not there"
        ) from None
    # (A j below 0 counts from the end, as list indexes do: still one of the items.)
    for i in none:
        if not 0 <= i < n:
            raise InvalidValueError("text state: an item without an origin is not there")
        cs[i] = -1
        seqs[i] = 0
    for p in range(0, len(odd), 2):
        i, off = odd[p], odd[p + 1]
        if not 0 <= i < n or cs[i] < 0:
            raise InvalidValueError("text state: an origin offset names no origin")
        j = js[i]
        if not 0 < off < sizes[j]:
            raise InvalidValueError("text state: an origin refers to a character that is not there")
        seqs[i] = edges[j] - sign * off
    return cs, seqs


def _decode_deletes(deletes: list[int], nclients: int) -> dict[int, _DeleteLog]:
    """The delete logs :func:`encode_state` wrote, checked: known clients,
    non-empty runs that do not overlap and whose targets have seqs >= 0."""
    logs: dict[int, _DeleteLog] = {}
    r = _Reader(deletes, 0)
    while r.pos < len(deletes):
        c, m = r.take(2)
        if not 0 <= c < nclients or c in logs:
            raise InvalidValueError("text state: bad delete log client")
        targets, tvals = r.runs(m, c)
        steps = r.take(m)
        moves = r.take(m)
        counts = r.take(m)
        log = _DeleteLog()
        if m:
            if min(tvals) < 0 or max(tvals) >= nclients:
                raise InvalidValueError("text state: delete target client out of range")
            if 0 in counts:
                raise InvalidValueError("text state: empty delete run")
            # Each run starts at or after the previous run's end (the first at seq >= 0).
            if steps[0] < 0 or any(map(gt, map(abs, counts), islice(steps, 1, None))):
                raise InvalidValueError("text state: delete runs overlap")
            firsts = list(accumulate(moves))
            # The lowest target of a run is its first, or first + count + 1 = first - ~count
            # for a backspace run (count < 0; for count > 0, ~count < 0 <= first).
            if min(firsts) < 0 or any(map(lt, firsts, map(invert, counts))):
                raise InvalidValueError("text state: delete target seq out of range")
            # (values beyond int64: OverflowError -> ValueError)
            log.seqs = _col(list(accumulate(steps)))
            log.targets = targets
            log.firsts = _col(firsts)
            log.counts = counts
        logs[c] = log
    return logs
