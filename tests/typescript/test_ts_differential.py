"""Differential tests of the TypeScript core against the Python core (needs Node.js).

- Damaged change sets and snapshots (bytes flipped, cut, inserted; fields of decoded
  messages changed: ints, clocks, seqs, dependencies, kinds, values, keys, names, clients,
  checkpoints, versions, text columns) go to both cores: each refuses with the same error
  class, or accepts and shows the same view. A refused change set leaves the TypeScript
  document exactly as it was.
- Seeded random scenarios run on TypeScript replicas (``scripts/trace.ts``) are replayed by
  the Python core: after every step, every replica's ``save()`` and ``changes()`` bytes are
  the same.

Known deviations, allowed here: a 64-bit integer beyond 2^53 is refused by the TypeScript
core (``DecodeError``), and a field operation naming a nested container is refused by it
where the Python core fails with ``TypeError`` half-way through applying it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from synckit.errors import DecodeError
from synckit.v1 import changes_pb2

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
VECTORS = PACKAGE / "test" / "vectors"
_OUT_OF_RANGE = re.compile(r"(-?\d+) is out of range")


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


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js, with the package installed and compiled (skips without Node.js)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed")
    if not (PACKAGE / "node_modules" / ".bin" / "tsc").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True)
    subprocess.run(
        [str(PACKAGE / "node_modules" / ".bin" / "tsc"), "-b", "tsconfig.json"],
        cwd=PACKAGE,
        check=True,
        timeout=300,
    )
    return node


def _run(node: str, script: str, *args: str) -> Any:
    done = subprocess.run(
        [node, f"build/scripts/{script}", *args],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def _vectors() -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in VECTORS.glob("*.bin")}
    files |= {"ft/" + p.name: p.read_bytes() for p in (VECTORS / "from-ts").glob("*.bin")}
    return {name: data for name, data in files.items() if data}


def _small(rng: random.Random) -> int:
    return rng.choice([0, 1, 2, 3, -1, 5, 7, 100, 2**31, 2**62, -(2**62), 2**53 + 1])


def _mutate_change(rng: random.Random, ch: Any) -> None:
    r = rng.random()
    if r < 0.3 and len(ch.ints):
        i = rng.randrange(len(ch.ints))
        ch.ints[i] = ch.ints[i] + rng.choice([-2, -1, 1, 2]) if rng.random() < 0.7 else _small(rng)
    elif r < 0.4 and len(ch.hlcs):
        ch.hlcs[rng.randrange(len(ch.hlcs))] += rng.choice([-(1 << 16), -1, 1, 1 << 20])
    elif r < 0.5:
        ch.start = max(0, ch.start + rng.choice([-3, -1, 1, 2, 50]))
    elif r < 0.6 and len(ch.dep_seqs):
        i = rng.randrange(len(ch.dep_seqs))
        ch.dep_seqs[i] = max(0, ch.dep_seqs[i] + rng.choice([-2, -1, 1, 3]))
    elif r < 0.65 and len(ch.dep_clients):
        ch.dep_clients[rng.randrange(len(ch.dep_clients))] = rng.randrange(4)
    elif r < 0.75 and len(ch.kinds):
        ch.kinds[rng.randrange(len(ch.kinds))] = rng.randrange(17)
    elif r < 0.8:
        ch.client = rng.randrange(4)
    elif r < 0.87 and ch.values:
        values = json.loads(ch.values)
        if values:
            values[rng.randrange(len(values))] = rng.choice([None, 1.5, [1], {"a": 1}, "x", True])
            ch.values = json.dumps(values)
    elif r < 0.93 and len(ch.strs):
        i = rng.randrange(len(ch.strs))
        ch.strs[i] = rng.choice(
            ["", "0", "V0", "abc", "Z", ch.strs[i] + "1", ch.strs[i][:-1] or "1"]
        )
    elif len(ch.dep_clients):
        del ch.dep_clients[-1]
        del ch.dep_seqs[-1]


def _damaged_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.15 and len(out) > 1:
            out = out[: rng.randrange(len(out))]
        elif r < 0.3:
            out.insert(rng.randrange(len(out) + 1), rng.randrange(256))
        elif r < 0.4 and len(out) > 1:
            del out[rng.randrange(len(out))]
        elif out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _sealed(body: bytes) -> bytes:
    return body + b"\x5d" + zlib.crc32(body).to_bytes(4, "little")


def _damaged_change_set(rng: random.Random, data: bytes) -> bytes:
    msg = changes_pb2.ChangeSet()
    msg.ParseFromString(data)
    for _ in range(rng.randint(1, 2)):
        r = rng.random()
        if r < 0.8 and msg.changes:
            _mutate_change(rng, rng.choice(msg.changes))
        elif r < 0.9 and msg.names:
            i = rng.randrange(len(msg.names))
            msg.names[i] = rng.choice(
                ['\x00[0,"k",0,0]', "\x00[5,1,1]", '\x00"x"', '\x00"\\u0000x"', "\x00[0,0,1]"]
            )
        elif msg.clients:
            msg.clients[rng.randrange(len(msg.clients))] = rng.choice(["alice", "bob", "tsa"])
    return msg.SerializeToString()


def _damaged_snapshot(rng: random.Random, data: bytes) -> bytes:
    snap = changes_pb2.Snapshot()
    snap.ParseFromString(data)
    r = rng.random()
    if r < 0.4 and snap.changes:
        _mutate_change(rng, rng.choice(snap.changes))
    elif r < 0.55 and len(snap.checkpoints):
        i = rng.randrange(len(snap.checkpoints))
        snap.checkpoints[i] = max(0, snap.checkpoints[i] + rng.choice([-1, 1, 2]))
    elif r < 0.65 and len(snap.version_seqs):
        i = rng.randrange(len(snap.version_seqs))
        snap.version_seqs[i] = max(0, snap.version_seqs[i] + rng.choice([-2, -1, 1]))
    elif r < 0.8 and snap.texts:
        text = rng.choice(snap.texts)
        if len(text.ints):
            text.ints[rng.randrange(len(text.ints))] += rng.choice([-1, 1, 2])
        else:
            text.content += "x"
    elif len(snap.version_clients):
        snap.version_clients[rng.randrange(len(snap.version_clients))] = rng.randrange(4)
    snap.checksum = 0
    return _sealed(snap.SerializeToString())


def _cases(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    files = _vectors()
    change_sets = sorted(n for n in files if "snapshot" not in n)
    snapshots = sorted(n for n in files if "snapshot" in n)
    cases: list[dict[str, Any]] = []
    for k in range(n):
        how = k % 4
        if how == 0:
            name = rng.choice(sorted(files))
            kind = "snapshot" if "snapshot" in name else "changes"
            data = _damaged_bytes(rng, files[name])
            if kind == "snapshot" and rng.random() < 0.7:
                data = _sealed(data[:-5])
        elif how in (1, 2):
            kind, data = "changes", _damaged_change_set(rng, files[rng.choice(change_sets)])
        else:
            kind, data = "snapshot", _damaged_snapshot(rng, files[rng.choice(snapshots)])
        case: dict[str, Any] = {"kind": kind, "hex": data.hex()}
        if kind == "changes" and rng.random() < 0.4:
            case["base"] = files[rng.choice(snapshots)].hex()
        cases.append(case)
    return cases


def _python_outcome(case: dict[str, Any]) -> dict[str, Any]:
    base = bytes.fromhex(case["base"]) if "base" in case else None
    try:
        outcome: dict[str, Any] = _tool()._outcome(case["kind"], bytes.fromhex(case["hex"]), base)
    except DecodeError:  # pragma: no cover - _outcome catches these
        raise
    except Exception as exc:
        return {"error": f"crash: {type(exc).__name__}"}
    return outcome


# Seed 1 (once the vectors changed) and seeds 8, 10 and 28 found the last two disagreements (a
# checkpoint naming a client twice; a text character taken for a list item); 40 seeds agree since.
@pytest.mark.parametrize("seed", [1, 2, 8, 10, 28])
def test_damaged_inputs_read_alike(node: str, tmp_path: Path, seed: int) -> None:
    cases = _cases(seed, 1200)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    theirs = _run(node, "judge.js", str(path))
    disagreements: list[tuple[Any, ...]] = []
    for i, (case, ts) in enumerate(zip(cases, theirs, strict=True)):
        py = _python_outcome(case)
        if ts["error"] is not None and ts["error"].startswith("crash"):
            disagreements.append((i, "the TypeScript core crashed", ts["error"]))
        elif ts["error"] is not None and case["kind"] == "changes" and not ts["unchanged"]:
            disagreements.append((i, "a refused change set changed the document", ts["error"]))
        elif py["error"] is not None and py["error"].startswith("crash"):
            if ts["error"] != "DecodeError":
                disagreements.append((i, "the Python core crashed, TypeScript took it", py))
        elif ts["error"] != py["error"]:
            deviation = py["error"] is None and ts["error"] == "DecodeError" and _beyond_2_53(case)
            if not deviation:
                disagreements.append((i, f"TypeScript: {ts['error']}, Python: {py['error']}"))
        elif py["error"] is None and (
            _as_js(ts["json"]) != _as_js(py["json"]) or ts["waiting"] != py["waiting"]
        ):
            disagreements.append((i, "views differ", ts["json"], py["json"]))
    assert not disagreements, disagreements[:5]


def _as_js(value: Any) -> Any:
    """``value`` as a JavaScript view holds it: integers beyond 2^53 rounded to doubles."""
    if isinstance(value, dict):
        return {k: _as_js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_js(v) for v in value]
    if type(value) is int and abs(value) > 2**53:
        return float(value)
    return value


def _beyond_2_53(case: dict[str, Any]) -> bool:
    """Whether the case holds a 64-bit integer beyond 2^53 (the TypeScript core refuses it)."""
    data = bytes.fromhex(case["hex"])
    messages: list[Any] = []
    if case["kind"] == "changes":
        msg = changes_pb2.ChangeSet()
        try:
            msg.ParseFromString(data)
        except Exception:
            return False
        messages = list(msg.changes)
    else:
        snap = changes_pb2.Snapshot()
        try:
            snap.ParseFromString(data)
        except Exception:
            return False
        messages = list(snap.changes)
    limit = 2**53 - 1
    return any(abs(v) > limit for ch in messages for v in [*ch.ints, ch.start, *ch.dep_seqs])


def test_random_scenarios_make_the_same_bytes_at_every_step(node: str) -> None:
    traces: dict[str, Any] = _run(node, "trace.js", "100", "40")
    replay_class = _tool().Replay
    for seed, case in traces.items():
        scenario = case["scenario"]
        replay = replay_class(scenario["replicas"])
        for i, step in enumerate(scenario["steps"]):
            replay.step(step)
            got = ",".join(_hash(doc.save()) + _hash(doc.changes()) for doc in replay.docs.values())
            assert got == case["trace"][i], f"seed {seed}, step {i}: {step}"


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def test_extended_whole_changes_read_alike(node: str, tmp_path: Path) -> None:
    """A server's kept whole changes followed by what came since (:mod:`synckit.core._whole`:
    the tables and changes of a ChangeSet in two pieces each) read by the TypeScript core as
    one change set, with the view the Python core shows."""
    sys.path.insert(0, str(ROOT / "tests" / "core"))
    from test_whole_changes import _edit, _gathered

    from synckit.core import Document
    from synckit.core._whole import extend_whole, whole_changes

    cases: list[dict[str, Any]] = []
    views: list[Any] = []
    for seed in range(30):
        rng = random.Random(seed)
        authors = [Document(f"a{i}") for i in range(rng.randint(1, 3))]
        server = Document("server")
        _edit(rng, authors, rng.randint(0, 50))
        _gathered(server, authors)
        kept = whole_changes(server)
        _edit(rng, authors, rng.randint(1, 50))
        _gathered(server, authors)
        data = extend_whole(server, kept)
        assert data is not None
        cases.append({"kind": "changes", "hex": data.hex()})
        views.append(server.to_json())
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    theirs = _run(node, "judge.js", str(path))
    for i, (ts, view) in enumerate(zip(theirs, views, strict=True)):
        assert ts["error"] is None, (i, ts)
        assert _as_js(ts["json"]) == _as_js(view) and ts["waiting"] == 0, i
