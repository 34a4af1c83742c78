"""Snapshots and change sets written by format 1 still load, unchanged, into today's model.

The bytes under ``fixtures/format1`` were written by format 1's code (see ``make.py`` there)
and are never regenerated: they are the proof that documents saved before a format change
stay readable after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synckit.core import Document

HERE = Path(__file__).resolve().parent / "fixtures" / "format1"
EXPECTED = json.loads((HERE / "expected.json").read_text())


def read(name: str) -> bytes:
    return (HERE / name).read_bytes()


def test_snapshot_loads_unchanged() -> None:
    doc = Document.load(read("merged.snapshot"))
    assert doc.to_json() == EXPECTED["merged"]
    assert dict(doc.version()) == EXPECTED["merged_version"]
    assert doc.waiting == 0


def test_change_set_applies_unchanged() -> None:
    doc = Document("reader")
    doc.apply(read("merged.changes"))
    assert doc.to_json() == EXPECTED["merged"]
    assert dict(doc.version()) == EXPECTED["merged_version"]


def test_partial_change_set_waits_for_its_base() -> None:
    doc = Document("reader")
    doc.apply(read("concurrent_alice.changes"))
    assert doc.waiting > 0 and doc.to_json() == {}
    doc.apply(read("merged.changes"))
    assert doc.waiting == 0 and doc.to_json() == EXPECTED["merged"]


def test_snapshot_with_waiting_changes_loads_them() -> None:
    doc = Document.load(read("waiting.snapshot"))
    assert doc.waiting == 1
    assert doc.to_json() == EXPECTED["waiting"]
    doc.apply(read("carol_first.changes"))
    assert doc.waiting == 0
    assert doc.to_json() == EXPECTED["waiting_after_carol"]


@pytest.mark.parametrize("how", ["snapshot", "changes"])
def test_old_documents_keep_working(how: str) -> None:
    if how == "snapshot":
        a = Document.load(read("merged.snapshot"), client_id="new-a")
    else:
        a = Document("new-a")
        a.apply(read("merged.changes"))
    b = Document.load(a.save(), client_id="new-b")
    assert b.to_json() == EXPECTED["merged"]
    a.get_list("items").move(3, 0)
    a.get_text("notes").insert(0, ">> ")
    b.get_list("items").insert(2, "pears")
    b.get_counter("done").increment()
    a.apply(b.changes(a.version()))
    b.apply(a.changes(b.version()))
    assert a.to_json() == b.to_json()
    view = a.to_json()
    assert view["done"] == 7
    assert view["notes"] == ">> " + EXPECTED["merged"]["notes"]
    items = view["items"]
    merged_items = EXPECTED["merged"]["items"]
    assert isinstance(items, list) and isinstance(merged_items, list)
    assert items[0] == merged_items[3]
    assert "pears" in items
