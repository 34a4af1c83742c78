"""Fractional position keys for ordered lists.

A key is a string of base-62 digits read as a fraction in (0, 1): ``"V"`` is 31/62. Keys
never end in the zero digit, so comparing two keys as Python strings compares the fractions.
Every generated key is a short *prefix* chosen strictly between its neighbours, followed by
a *suffix* unique to the operation that made it (a hash of the client id and the seq). Two
replicas inserting concurrently at the same place pick the same prefix but different
suffixes, so both items stay, in the same order everywhere, and a later insert can always
go between them.

The prefix is the shortest digit string ``m`` whose whole interval ``[m, m + 62^-len(m))``
lies strictly above the left key and at or below the right key, so that any suffix keeps the
key between them. Appending (no right neighbour) steps by one unit instead of halving, at a
length that grows as the room left shrinks (see :func:`_end_length`), so after thousands of
appends the part before the suffix is a few digits (a run's later keys also carry the run's
first key: about 22 characters on average after 10,000 appends in one run).

Runs. Two replicas that each type several items at one place while apart would, with
prefixes alone, pick the same sequence of prefixes and alternate item by item. So an insert
right after the item the same replica inserted just before it (a *run*) extends the run's
first key instead: its key is that key followed by a short step (and a suffix), see
:func:`key_after`. Every key of a run then starts with the run's first key, which no item
of any other replica starts with, so the run sorts as one block wherever the other
replicas' items land.
"""

from __future__ import annotations

import hashlib

from synckit.errors import InvalidValueError

__all__ = ["DIGITS", "client_tag", "key_after", "key_between", "key_inside", "operation_suffix"]

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE = len(DIGITS)
_VALUE = {c: i for i, c in enumerate(DIGITS)}


def _scaled(key: str, length: int) -> int:
    """The first ``length`` digits of ``key`` as an integer (zero padded)."""
    n = 0
    for i in range(length):
        n = n * _BASE + (_VALUE[key[i]] if i < len(key) else 0)
    return n


def _digits(n: int, length: int) -> str:
    out = []
    for _ in range(length):
        n, r = divmod(n, _BASE)
        out.append(DIGITS[r])
    return "".join(reversed(out))


_PROBE = 8  # digits read to tell how close a key is to either end


def _end_length(lo: str | None, hi: str | None) -> int:
    """The fewest digits an append (``hi`` None) or a prepend (``lo`` None) may use.

    Stepping one unit at the shortest length would make n appends cost about n/60 digits.
    Instead each time the room left to the end halves the step gets a third of a digit
    finer, so the number of items per digit doubles every few digits: n appends cost about
    log(n) digits (10,000 of them four or five).
    """
    if (lo is None) == (hi is None):
        return 1
    full: int = _BASE**_PROBE
    room = full - _scaled(lo, _PROBE) if lo is not None else _scaled(hi or "", _PROBE)
    halvings = (full // max(room, 1)).bit_length() - 1
    return 1 + halvings // 3


def key_between(lo: str | None, hi: str | None, suffix: str) -> str:
    """A key strictly between ``lo`` and ``hi`` (None: start or end), ending in ``suffix``.

    ``lo`` must be less than ``hi`` and ``suffix`` must be non-empty digits not ending in '0'.
    """
    if lo is not None and hi is not None:
        return key_inside(lo, hi, suffix)
    shortest = _end_length(lo, hi)
    los = lo or ""
    his = hi or ""
    nlo, nhi = len(los), len(his)
    value = _VALUE
    # a, b: the first `length` digits of lo and hi as integers, built one digit at a time
    # (no hi is 1.0, which is 62**length; a longer hi's fraction is larger still).
    a = 0
    b = 1 if hi is None else 0
    for length in range(1, max(nlo, nhi) + 3 + shortest):
        i = length - 1
        a = a * _BASE + (value[los[i]] if i < nlo else 0)
        b = b * _BASE + (value[his[i]] if i < nhi else 0)
        if length >= shortest and b - a >= 2:
            if hi is None:
                m = a + 1
            elif lo is None:
                m = b - 1
            else:
                m = (a + b) // 2
            high, last = divmod(m, _BASE)
            # Usually m differs from lo (or hi) only in its last digit: reuse their digits.
            if high == a // _BASE and i <= nlo:
                return los[:i] + DIGITS[last] + suffix
            if high == b // _BASE and i <= nhi:
                return his[:i] + DIGITS[last] + suffix
            return _digits(m, length) + suffix
    raise InvalidValueError(f"no key between {lo!r} and {hi!r}")  # unreachable for lo < hi


def key_inside(lo: str, hi: str, suffix: str) -> str:
    """:func:`key_between` with both neighbours given, the same key by a shorter path.

    The digits both keys share (``lo`` read with zeros past its end) are the key's first
    digits, so the search of :func:`key_between` starts after them with ``a`` and ``b``
    counting from there: the middle of ``[a, b]`` is the middle of the whole fractions
    with the shared digits in front (both share them, so their sum is even there). Most
    often the first digits that differ are two or more apart, and the key is the shared
    digits, the digit halfway between those two and the suffix.
    """
    nlo, nhi = len(lo), len(hi)
    end = nlo if nlo < nhi else nhi
    p = 0
    while p < end and lo[p] == hi[p]:
        p += 1
    if p == nlo:  # (lo read on with zeros)
        while p < nhi and hi[p] == "0":
            p += 1
    value = _VALUE
    if p < nhi:
        a = value[lo[p]] if p < nlo else 0
        b = value[hi[p]]
        if b - a >= 2:
            return hi[:p] + DIGITS[(a + b) >> 1] + suffix
    a = b = 0
    for i in range(p, max(nlo, nhi) + 3):
        a = a * _BASE + (value[lo[i]] if i < nlo else 0)
        b = b * _BASE + (value[hi[i]] if i < nhi else 0)
        if b - a >= 2:
            m = (a + b) // 2
            if i == p + 1:
                return hi[:p] + DIGITS[m // _BASE] + DIGITS[m % _BASE] + suffix
            return hi[:p] + _digits(m, i + 1 - p) + suffix
    raise InvalidValueError(f"no key between {lo!r} and {hi!r}")  # unreachable for lo < hi


def key_after(lo: str | None, hi: str | None, anchor: int, suffix: str) -> str:
    """A key strictly between ``lo`` and ``hi`` that starts with ``lo[:anchor]``.

    With ``anchor`` 0 this is :func:`key_between`. Otherwise the key is ``lo[:anchor]``
    followed by a key between the rest of ``lo`` and (when ``hi`` starts with the same
    prefix) the rest of ``hi``: it is above ``lo`` because it is above ``lo`` after the
    shared prefix, and below ``hi`` because either ``hi`` has the prefix and is above it after
    it, or ``hi`` is above ``lo`` at a digit inside the prefix and so above anything that
    starts with it. ``hi`` not above ``lo`` (two items with one key, which only a client
    forging keys makes) does not fail: the key then goes just above ``lo``.
    """
    if lo is None or anchor <= 0:
        if lo is not None and hi is not None and hi <= lo:
            return lo + key_between(None, None, suffix)
        return key_between(lo, hi, suffix)
    anchor = min(anchor, len(lo))
    head = lo[:anchor]
    rest_lo = lo[anchor:] or None
    rest_hi = hi[anchor:] if hi is not None and hi > lo and hi.startswith(head) else None
    if hi is not None and hi <= lo:
        return lo + key_between(None, None, suffix)
    return head + key_between(rest_lo, rest_hi, suffix)


def client_tag(client_id: str) -> str:
    """The six digits every key made by ``client_id`` carries (a hash of the id)."""
    h = int.from_bytes(hashlib.blake2b(client_id.encode(), digest_size=4).digest(), "big")
    return _digits(h, 6)


def operation_suffix(client_id: str, seq: int, tag: str | None = None) -> str:
    """The unique tail of the key made by operation ``(client_id, seq)``.

    ``tag`` is :func:`client_tag` of ``client_id``, for callers that keep it.
    """
    if tag is None:
        tag = client_tag(client_id)
    s = []
    while seq:
        seq, r = divmod(seq, _BASE)
        s.append(DIGITS[r])
    # The final "1" keeps the key from ending in the zero digit.
    return tag + "".join(reversed(s)) + "1"
