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
key between them. Appending (no right neighbour) steps by one unit instead of halving, so a
list built by appending grows its keys by one digit per few dozen items, not per item.
"""

from __future__ import annotations

import hashlib

from synckit.errors import InvalidValueError

__all__ = ["DIGITS", "key_between", "operation_suffix"]

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


def key_between(lo: str | None, hi: str | None, suffix: str) -> str:
    """A key strictly between ``lo`` and ``hi`` (None: start or end), ending in ``suffix``.

    ``lo`` must be less than ``hi`` and ``suffix`` must be non-empty digits not ending in '0'.
    """
    for length in range(1, 1 + max(len(lo or ""), len(hi or "")) + 2):
        a = _scaled(lo, length) if lo is not None else 0
        # hi's first `length` digits; when hi is longer than that its fraction is larger still.
        b = _scaled(hi, length) if hi is not None else _BASE**length
        if b - a >= 2:
            if hi is None:
                m = a + 1
            elif lo is None:
                m = b - 1
            else:
                m = (a + b) // 2
            return _digits(m, length) + suffix
    raise InvalidValueError(f"no key between {lo!r} and {hi!r}")  # unreachable for lo < hi


def operation_suffix(client_id: str, seq: int) -> str:
    """The unique tail of the key made by operation ``(client_id, seq)``."""
    h = int.from_bytes(hashlib.blake2b(client_id.encode(), digest_size=4).digest(), "big")
    tail = _digits(h, 6)
    s = []
    while seq:
        seq, r = divmod(seq, _BASE)
        s.append(DIGITS[r])
    # The final "1" keeps the key from ending in the zero digit.
    return tail + "".join(reversed(s)) + "1"
