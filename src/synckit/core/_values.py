"""JSON values: checking what users store, and copying it so later mutation cannot leak in."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from synckit.errors import InvalidTypeError

__all__ = [
    "JSONInput",
    "JSONScalar",
    "JSONValue",
    "check_scalar",
    "check_text",
    "clone_json",
    "copy_json",
    "scalar_key",
]

JSONScalar: TypeAlias = bool | int | float | str | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
#: What the API accepts as a JSON value (read-only views, so typed containers fit).
JSONInput: TypeAlias = JSONScalar | Sequence["JSONInput"] | Mapping[str, "JSONInput"]

_SCALAR_TYPES = (type(None), bool, int)
_MAX_DEPTH = 64


def copy_json(value: object, what: str = "value") -> JSONValue:
    """Return a private copy of ``value`` if it is a JSON value; raise ``TypeError`` if not.

    JSON values are None, bool, int, finite float, str, lists of JSON values and dicts with
    str keys and JSON values, nested at most 64 deep. Scalars are returned as they are
    (they are immutable); lists and dicts are copied so that mutating the caller's object
    later cannot change the document behind its back.
    """
    return _copy_item(value, what, -1)


def clone_json(value: JSONValue) -> JSONValue:
    """A copy of a JSON value a document holds, to hand out (lists and dicts are copied)."""
    if type(value) is dict:
        return {k: clone_json(v) for k, v in value.items()}
    if type(value) is list:
        return [clone_json(v) for v in value]
    return value


def check_text(value: str, what: str = "text") -> str:
    """Return ``value`` if it is valid Unicode text (encodable as UTF-8), else raise TypeError.

    A Python str may hold lone surrogates (``"\\ud800"``), which no replica could decode.
    """
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise InvalidTypeError(
                f"{what} must be valid Unicode text: {value[exc.start : exc.end]!r} at "
                f"position {exc.start} is a lone surrogate"
            ) from None
    return value


def _copy_container(value: object, what: str, depth: int) -> JSONValue:
    if depth >= _MAX_DEPTH:
        raise InvalidTypeError(f"{what} is nested more than {_MAX_DEPTH} levels deep")
    if type(value) is list:
        return [_copy_item(v, what, depth) for v in value]
    if type(value) is dict:
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            if type(k) is not str:
                raise InvalidTypeError(f"{what} must be a JSON value: dict key {k!r} is not a str")
            out[check_text(k, what)] = _copy_item(v, what, depth)
        return out
    raise InvalidTypeError(
        f"{what} must be a JSON value (None, bool, int, float, str, list, dict), "
        f"got {type(value).__name__}"
    )


def _copy_item(value: object, what: str, depth: int) -> JSONValue:
    t = type(value)
    if t is str:
        return check_text(value, what)  # type: ignore[arg-type]
    if t in _SCALAR_TYPES:
        return value  # type: ignore[return-value]
    if t is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise InvalidTypeError(f"{what} must be a JSON value: {value!r} is not a finite number")
        return value  # type: ignore[return-value]
    return _copy_container(value, what, depth + 1)


def check_scalar(value: object, what: str = "member") -> JSONScalar:
    """Return ``value`` if it is a JSON scalar (None, bool, int, finite float, str), else raise."""
    t = type(value)
    if t is str:
        return check_text(value, what)  # type: ignore[arg-type]
    if t in _SCALAR_TYPES:
        return value  # type: ignore[return-value]
    if t is float and math.isfinite(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    raise InvalidTypeError(
        f"{what} must be a JSON scalar (None, bool, int, finite float, str), got {value!r}"
    )


def scalar_key(value: JSONScalar) -> tuple[str, JSONScalar]:
    """A dict key that keeps ``1``, ``1.0`` and ``True`` apart (Python equates them)."""
    t = type(value)
    if t is str:
        return ("s", value)
    return ("b" if t is bool else "i" if t is int else "f" if t is float else "n", value)
