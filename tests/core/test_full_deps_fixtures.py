"""Snapshots and change sets whose checkpoints hold whole version vectors still load.

The bytes under ``fixtures/full_deps`` were written by the code before dependencies became
minimal (see ``make_full_deps.py`` there), and are never regenerated: every checkpoint in
them holds its author's whole version. Today's code reads them unchanged (a whole version is
a valid, if large, set of dependencies), re-saves a snapshot of them byte for byte, and keeps
editing the documents they hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synckit.core import Document

HERE = Path(__file__).resolve().parent / "fixtures" / "full_deps"
EXPECTED = json.loads((HERE / "expected.json").read_text())


def read(name: str) -> bytes:
    return (HERE / name).read_bytes()


def test_snapshot_loads_unchanged() -> None:
    data = read("merged.snapshot")
    doc = Document.load(data, client_id="server")  # its writer: the same client table
    assert doc.to_json() == EXPECTED["merged"]
    assert dict(doc.version()) == EXPECTED["merged_version"]
    assert doc.waiting == 0
    assert doc.save() == data  # the checkpoints are kept as they were written


def test_change_set_applies_unchanged() -> None:
    doc = Document("reader")
    doc.apply(read("merged.changes"))
    assert doc.to_json() == EXPECTED["merged"]
    assert dict(doc.version()) == EXPECTED["merged_version"]


def test_partial_change_set_waits_for_its_base() -> None:
    doc = Document("reader")
    doc.apply(read("concurrent_a.changes"))
    assert doc.waiting > 0 and doc.to_json() == {}
    doc.apply(read("merged.changes"))
    assert doc.waiting == 0 and doc.to_json() == EXPECTED["merged"]


def test_snapshot_with_waiting_changes_loads_them() -> None:
    doc = Document.load(read("waiting.snapshot"))
    assert doc.waiting == 1
    assert doc.to_json() == EXPECTED["waiting"]
    doc.apply(read("carol_first.changes"))
    assert doc.waiting == 0
    assert doc.to_json() == EXPECTED["with_carol"]


@pytest.mark.parametrize("how", ["snapshot", "changes"])
def test_old_documents_keep_working(how: str) -> None:
    if how == "snapshot":
        a = Document.load(read("merged.snapshot"), client_id="new-a")
    else:
        a = Document("new-a")
        a.apply(read("merged.changes"))
    b = Document.load(a.save(), client_id="new-b")
    assert b.to_json() == EXPECTED["merged"]
    a.get_text("notes").insert(5, "[a]")
    a.get_text("notes").delete(0, 2)
    a.get_list("items").move(4, 0)
    a.get_set("tags").remove("t3")
    b.get_list("items").get_map(2).get_text("t").insert(6, "!")
    b.get_list("items").delete(1)
    b.get_map("cfg").get_list("inner").delete(2)
    a.apply(b.changes(a.version()))
    b.apply(a.changes(b.version()))
    assert a.to_json() == b.to_json()
    fresh = Document("fresh")
    fresh.apply(a.changes())
    assert fresh.to_json() == a.to_json()
    assert Document.load(a.save()).to_json() == a.to_json()
    view = a.to_json()
    assert "[a]" in str(view["notes"]) and "t3" not in view["tags"]  # type: ignore[operator]
