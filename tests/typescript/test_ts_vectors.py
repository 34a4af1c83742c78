"""The TypeScript client and the Python core agree on the wire format, in both directions.

``clients/typescript/test/vectors/`` holds golden vectors written by the Python core
(``tools/ts_vectors.py``; the TypeScript suite reads them) and, under ``from-ts/``, vectors
written by the TypeScript core (``npm run vectors``). Here the Python core applies and loads
the TypeScript ones, checks the JSON views recorded beside them, replays their steps to the
same bytes, and checks that the committed Python-written vectors are still what
``tools/ts_vectors.py`` produces (so a format change is noticed). No Node.js needed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from synckit import Document, VersionVector
from synckit.v1 import changes_pb2

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "clients" / "typescript" / "test" / "vectors"
FROM_TS = VECTORS / "from-ts"


def _tool() -> ModuleType:
    name = "ts_vectors"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "ts_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _scenarios() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FROM_TS / "scenarios.json").read_text("utf8"))
    return loaded


def _expected(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FROM_TS / "expected.json").read_text("utf8"))[name]
    return loaded


def _views(name: str) -> dict[str, Any]:
    views: dict[str, Any] = _expected(name)["replicas"]
    return views


def _version(name: str) -> bytes:
    return bytes.fromhex(_expected(name)["version"])


def _inflated(snapshot: bytes) -> bytes:
    """``snapshot`` with every deflated text inflated and no checksum: two DEFLATE
    implementations (zlib here, fflate in TypeScript) may compress one text differently."""
    snap = changes_pb2.Snapshot()
    snap.ParseFromString(snapshot)
    for text in snap.texts:
        if text.content_deflate:
            text.content = zlib.decompress(text.content_deflate).decode()
            text.content_deflate = b""
    snap.checksum = 0
    return snap.SerializeToString()


def _same_snapshot(actual: bytes, expected: bytes) -> None:
    if actual != expected:
        assert _inflated(actual) == _inflated(expected)


def test_python_vectors_are_current() -> None:
    files: dict[str, bytes] = _tool().generate()
    stale = [n for n, data in files.items() if (VECTORS / n).read_bytes() != data]
    assert not stale, f"run tools/ts_vectors.py: stale vectors {stale}"
    written = {p.name for p in VECTORS.iterdir() if p.is_file()}
    assert written == set(files), f"vectors no scenario makes: {sorted(written - set(files))}"


@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_typescript_change_set_applies_to_its_view(name: str) -> None:
    subject = next(iter(_scenarios()[name]["replicas"]))
    expected = _views(name)[subject]
    doc = Document("python-reader")
    doc.apply((FROM_TS / f"{name}.changes.bin").read_bytes())
    assert doc.to_json() == expected["json"]
    assert doc.version() == VersionVector.decode(_version(name))


@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_typescript_snapshot_loads_to_its_view_and_saves_back(name: str) -> None:
    subject = next(iter(_scenarios()[name]["replicas"]))
    expected = _views(name)[subject]
    snap = (FROM_TS / f"{name}.snapshot.bin").read_bytes()
    doc = Document.load(snap, subject)
    assert doc.to_json() == expected["json"]
    assert doc.waiting == expected["waiting"]
    _same_snapshot(doc.save(), snap)
    assert Document.load(snap).to_json() == expected["json"]


@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_typescript_steps_replayed_in_python_make_the_same_bytes(name: str) -> None:
    scenario = _scenarios()[name]
    replay = _tool().Replay(scenario["replicas"])
    replay.run(scenario["steps"])
    subject = replay.docs[next(iter(scenario["replicas"]))]
    assert subject.changes() == (FROM_TS / f"{name}.changes.bin").read_bytes()
    _same_snapshot(subject.save(), (FROM_TS / f"{name}.snapshot.bin").read_bytes())
    assert subject.version().encode() == _version(name)
    assert replay.captured["delta"] == (FROM_TS / f"{name}.delta.bin").read_bytes()
    views = _views(name)
    for rid, doc in replay.docs.items():
        assert doc.to_json() == views[rid]["json"], rid
        assert doc.waiting == views[rid]["waiting"], rid


@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_typescript_delta_applies_on_the_state_it_was_made_for(name: str) -> None:
    # The delta was made by the first replica for the second, just before the final
    # exchange: applied after a full exchange it is a duplicate and changes nothing.
    subject = next(iter(_scenarios()[name]["replicas"]))
    snap = (FROM_TS / f"{name}.snapshot.bin").read_bytes()
    doc = Document.load(snap, "python-reader")
    before = doc.to_json()
    doc.apply((FROM_TS / f"{name}.delta.bin").read_bytes())
    assert doc.to_json() == before == _views(name)[subject]["json"]
