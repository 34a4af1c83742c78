"""Every error SyncKit raises on purpose is a SyncKitError, and Python's own type where natural."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import synckit
from synckit import Document, VersionVector
from synckit.client import Client, http_sync_url
from synckit.errors import (
    InvalidTypeError,
    InvalidValueError,
    NotFoundError,
    PositionError,
    SyncKitError,
)

SRC = Path(synckit.__file__).parent


def test_no_module_raises_a_bare_builtin_error() -> None:
    bare = re.compile(r"raise (ValueError|TypeError|IndexError|KeyError|RuntimeError)\(")
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        if "v1" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_misuse_raises_both_kinds() -> None:
    doc = Document("a")
    with pytest.raises(InvalidTypeError) as bad_value:
        doc.set("k", object())  # type: ignore[arg-type]
    assert isinstance(bad_value.value, TypeError)
    with pytest.raises(PositionError) as position:
        doc.get_list("l").insert(5, "x")
    assert isinstance(position.value, IndexError) and isinstance(position.value, SyncKitError)
    with pytest.raises(NotFoundError) as missing:
        doc.get_set("s").remove("nope")
    assert isinstance(missing.value, KeyError)
    with pytest.raises(InvalidTypeError):
        VersionVector({"a": -1})
    with pytest.raises(InvalidTypeError):
        doc.changes(since={"a": 1})  # type: ignore[arg-type]


def test_bad_urls_and_document_ids_are_synckit_errors() -> None:
    with pytest.raises(InvalidValueError) as url:
        Client("ftp://example.com")
    assert isinstance(url.value, ValueError) and "ftp" in str(url.value)
    with pytest.raises(InvalidValueError):
        Client("http://example.com", transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="document id"):
        http_sync_url("http://h", "bad id!")
