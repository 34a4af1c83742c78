"""Protobuf wire pieces written in bulk: what the change writer's fast paths join into bytes
without building messages (the protobuf runtime converts every element one by one).

Each function returns exactly the bytes the protobuf library writes for the same field, so a
message put together from them is byte for byte the one it would serialize.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from operator import sub
from typing import Any

__all__ = [
    "json_array",
    "length_prefixed",
    "packed_sint_deltas",
    "sint_range",
    "table_entries",
    "varint",
]

_ONE_BYTE_VARINTS = [bytes([n]) for n in range(128)]


def varint(n: int) -> bytes:
    """Protobuf's base-128 encoding of a non-negative int."""
    if n < 128:
        return _ONE_BYTE_VARINTS[n]
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_prefixed(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: ``tag``, the length of ``data``, ``data``."""
    n = len(data)
    return b"".join((tag, _ONE_BYTE_VARINTS[n] if n < 128 else varint(n), data))


def _zigzag_varints(values: Sequence[int]) -> bytes:
    out = bytearray()
    for v in values:
        n = (v << 1) ^ (v >> 63)
        while n > 127:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


# The packed sint64 encodings of 0, 1, 2, ... (zigzag: 2i), one after another, and where each
# starts: a run of consecutive table positions is then one slice.
_RANGE_END = 1 << 13
_SINT_RANGE = _zigzag_varints(range(_RANGE_END))


def _range_offset(i: int) -> int:
    # 0..63 take one byte (2i < 128), 64..8191 two (2i < 16384).
    return i if i < 64 else 64 + 2 * (i - 64)


def sint_range(start: int, n: int) -> bytes:
    """The packed sint64 encoding of ``start, start + 1, ..., start + n - 1`` (non-negative)."""
    if start + n <= _RANGE_END:
        return _SINT_RANGE[_range_offset(start) : _range_offset(start + n)]
    return _zigzag_varints(range(start, start + n))


# Per tag: the framing of a short ASCII entry, tag and length as one str, by length.
_FRAMES = {tag: [chr(tag[0]) + chr(n) for n in range(128)] for tag in (b"\x12", b"\x1a")}


def table_entries(tag: bytes, texts: list[str]) -> bytes:
    """``texts`` as a repeated string field: each ``tag``, its UTF-8 length, its UTF-8."""
    frames = _FRAMES.get(tag)
    if frames is not None and texts and "".join(texts).isascii():
        # Each entry's framing put before it and the whole encoded once (ASCII encodes char
        # for char); an entry of 128 characters or more has no frame here (IndexError).
        out = texts * 2
        try:
            out[0::2] = map(frames.__getitem__, map(len, texts))
        except IndexError:
            pass
        else:
            out[1::2] = texts
            return "".join(out).encode()
    parts: list[bytes] = []
    for text in texts:
        data = text.encode()
        parts += (tag, varint(len(data)), data)
    return b"".join(parts)


# Zigzag of 0..63 (2n, one byte each); 255, which no one-byte zigzag varint is, for 64..255.
_DOUBLE = bytes([2 * n for n in range(64)] + [255] * 192)


def packed_sint_deltas(tag: bytes, values: Sequence[int]) -> bytes:
    """The packed sint64 field ``tag`` holding the first of ``values`` and then each one's
    difference from the one before (non-empty ``values``): how a change's clocks are written.

    Clocks written in one burst step by 0 to 63: those steps are one byte each, made in one
    pass (``bytes`` of the differences, doubled by ``translate``); anything else takes the
    general loop.
    """
    first = values[0]
    head = varint((first << 1) ^ (first >> 63))
    if len(values) > 1:
        try:
            steps = bytes(map(sub, values[1:], values)).translate(_DOUBLE)
        except ValueError:  # a step below 0 or above 255
            steps = b"\xff"
        if b"\xff" in steps:
            steps = _zigzag_varints(list(map(sub, values[1:], values)))
        return length_prefixed(tag, head + steps)
    return length_prefixed(tag, head)


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
#: ``_dumps`` of a list without the wrapper's per-call set-up (None where json has no C
#: accelerator). No check for cycles: a document's values are its own copies of JSON values,
#: which have none.
_encode = (
    c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)


def json_array(values: Sequence[Any]) -> str:
    """``values`` as compact JSON: the text ``_dumps(values)`` gives for a document's values."""
    if _encode is None:  # pragma: no cover - CPython has the accelerator
        return _dumps(values)
    return "".join(_encode(values, 0))
