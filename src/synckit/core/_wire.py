"""Protobuf wire pieces written in bulk: what the change writer's fast paths join into bytes
without building messages (the protobuf runtime converts every element one by one).

Each function returns exactly the bytes the protobuf library writes for the same field, so a
message put together from them is byte for byte the one it would serialize.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain, repeat
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = ["json_array", "length_prefixed", "sint_range", "table_entries", "varint"]

_ONE_BYTE_VARINTS = [bytes([n]) for n in range(128)]
_CHARS = [chr(n) for n in range(128)]


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


def table_entries(tag: bytes, texts: list[str]) -> bytes:
    """``texts`` as a repeated string field: each ``tag``, its UTF-8 length, its UTF-8."""
    joined = "".join(texts)
    if joined.isascii() and max(map(len, texts), default=0) < 128:
        # One str with the framing in it, encoded once: ASCII encodes char for char.
        return "".join(
            chain.from_iterable(
                zip(repeat(tag.decode("latin-1")), map(_CHARS.__getitem__, map(len, texts)), texts)
            )
        ).encode()
    parts: list[bytes] = []
    for text in texts:
        data = text.encode()
        parts += (tag, varint(len(data)), data)
    return b"".join(parts)


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
