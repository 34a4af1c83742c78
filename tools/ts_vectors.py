"""Golden vectors for the TypeScript client (``clients/typescript``), written by the Python core.

Each scenario is a list of steps (edits on named replicas, and exchanges of change sets
between them) kept as data in ``scenarios.json``, so that the TypeScript test suite replays
exactly the same steps on its own core. Every replica runs with a fixed client id and a
stepping clock (``start + step * n`` at its ``n``-th reading), so everything is deterministic.

For each scenario the vectors are, for its first replica at the end: ``<name>.changes.bin``
(``changes()``), ``<name>.snapshot.bin`` (``save()``) and ``<name>.<label>.bin`` for each
change set a ``capture`` or ``range`` step made; ``expected.json`` holds, per scenario, the
version vector's encoding (hex) and every replica's ``to_json()`` and count of changes held
waiting. ``bad.json`` holds damaged change sets and snapshots with what the Python core
makes of each (the error class, or the view). ``plan_order.json`` holds change sets applied
one after the other to a fresh document, each with the changes it applied, in order, and those
left waiting: both cores must apply changes in the same order.

Run from the repository root, with the package on the path::

    PYTHONPATH=src .venv/bin/python tools/ts_vectors.py           # (re)write the vectors
    PYTHONPATH=src .venv/bin/python tools/ts_vectors.py --check   # fail if they are stale

``tests/typescript/test_ts_vectors.py`` runs the check, and replays the vectors the
TypeScript side writes (``from-ts/``) with the Python core.
"""

from __future__ import annotations

import json
import random
import sys
import zlib
from pathlib import Path
from typing import Any

from synckit import Document, VersionVector
from synckit.v1 import changes_pb2

__all__ = ["OUT", "Clock", "Replay", "generate", "main", "scenarios"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "clients" / "typescript" / "test" / "vectors"

Step = list[Any]


class Clock:
    """Wall milliseconds ``start, start + step, start + 2 * step, ...``, one per reading."""

    def __init__(self, start: int, step: int) -> None:
        self.start = start
        self.step = step
        self.calls = 0

    def __call__(self) -> int:
        now = self.start + self.step * self.calls
        self.calls += 1
        return now


def _handle(doc: Document, path: list[Any]) -> Any:
    """The container a step's path names: ``[kind, name, kind, key or index, ...]``."""
    handle: Any = getattr(doc, f"get_{path[0]}")(path[1])
    for i in range(2, len(path), 2):
        handle = getattr(handle, f"get_{path[i]}")(path[i + 1])
    return handle


class Replay:
    """Runs the steps of one scenario on Python documents."""

    def __init__(self, replicas: dict[str, list[int]]) -> None:
        self.clocks = {name: Clock(start, step) for name, (start, step) in replicas.items()}
        self.docs = {name: Document(name, clock=clock) for name, clock in self.clocks.items()}
        self.captured: dict[str, bytes] = {}
        self.marks: dict[str, VersionVector] = {}

    def run(self, steps: list[Step]) -> None:
        for step in steps:
            self.step(step)

    def step(self, step: Step) -> None:
        op = step[0]
        if op == "capture":  # [capture, label, src, since replica or null]
            _, label, src, since = step
            version = self.docs[since].version() if since is not None else None
            self.captured[label] = self.docs[src].changes(version)
            return
        if op == "mark":  # [mark, label, replica]: remember its version
            self.marks[step[1]] = self.docs[step[2]].version()
            return
        if op == "range":  # [range, label, src, since mark or null, until mark or null]
            _, label, src, since, until = step
            self.captured[label] = self.docs[src].changes(
                self.marks[since] if since is not None else None,
                self.marks[until] if until is not None else None,
            )
            return
        if op == "deliver":  # [deliver, label, dst]
            self.docs[step[2]].apply(self.captured[step[1]])
            return
        if op == "sync":  # [sync, src, dst]
            dst = self.docs[step[2]]
            dst.apply(self.docs[step[1]].changes(dst.version()))
            return
        if op == "reload":  # [reload, replica]: saved and loaded again, same id and clock
            rid = step[1]
            self.docs[rid] = Document.load(self.docs[rid].save(), rid, clock=self.clocks[rid])
            return
        if op == "trim":  # [trim, replica]: forget spent dependencies
            self.docs[step[1]].trim_history()
            return
        if op == "syncall":
            for _ in range(2):
                for a in self.docs.values():
                    for b in self.docs.values():
                        if a is not b:
                            b.apply(a.changes(b.version()))
            return
        doc = self.docs[step[1]]
        args = step[2:]
        if op == "set":
            doc.set(args[0], args[1])
        elif op == "delete":
            doc.delete(args[0])
        elif op == "update":
            doc.update(args[0])
        else:
            handle = _handle(doc, args[0])
            rest = args[1:]
            if op == "inc":
                handle.increment(rest[0])
            elif op == "add":
                handle.add(rest[0])
            elif op == "discard":
                handle.discard(rest[0])
            elif op == "insert":
                handle.insert(rest[0], rest[1])
            elif op == "append":
                handle.append(rest[0])
            elif op == "move":
                handle.move(rest[0], rest[1])
            elif op == "ldel":
                handle.delete(rest[0])
            elif op == "tins":
                handle.insert(rest[0], rest[1])
            elif op == "tdel":
                handle.delete(rest[0], rest[1])
            elif op == "insert_child":
                getattr(handle, f"insert_{rest[1]}")(rest[0])
            elif op == "mset":
                handle.set(rest[0], rest[1])
            elif op == "mdel":
                handle.delete(rest[0])
            elif op == "mget":
                getattr(handle, f"get_{rest[1]}")(rest[0])
            else:
                raise ValueError(f"unknown step {step!r}")


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    12345678901234,
    1.5,
    -0.25,
    1e-07,
    1e21,
    3.141592653589793,
    "",
    "plain",
    'quote " backslash \\ newline \n tab \t control \x01',
    "héllo wörld ✓ 🙂 \u2028",
    [],
    [1, "two", [3.5, None]],
    {},
    {"b": 1, "a": [True, {"z": None}], "é": "x"},
]


def _fields() -> dict[str, Any]:
    steps: list[Step] = [["set", "alice", f"v{i}", v] for i, v in enumerate(VALUES)]
    steps += [
        ["set", "alice", "v1", "overwritten"],
        ["delete", "alice", "v2"],
        ["delete", "alice", "never-set"],
        ["set", "alice", "\x00escaped", "a name starting with U+0000"],
        ["set", "alice", "ünïcode 🙂", 1],
        ["update", "alice", {"u1": 1, "u2": [2], "v3": "updated"}],
        ["capture", "delta", "alice", "bob"],
        ["sync", "alice", "bob"],
        ["set", "bob", "v4", "bob wrote"],
        ["sync", "bob", "alice"],
    ]
    return {"replicas": {"alice": [1000, 1], "bob": [1000, 1]}, "steps": steps}


def _counters() -> dict[str, Any]:
    steps: list[Step] = [
        ["inc", "alice", ["counter", "hits"], 5],
        ["inc", "alice", ["counter", "hits"], -2],
        ["inc", "bob", ["counter", "hits"], 10],
        ["inc", "bob", ["counter", "other"], 1],
        ["inc", "alice", ["counter", "big"], 2**40],
        ["syncall"],
        ["inc", "bob", ["counter", "hits"], 1],
        ["capture", "delta", "bob", "alice"],
        ["sync", "bob", "alice"],
    ]
    return {"replicas": {"alice": [5000, 3], "bob": [4000, 7]}, "steps": steps}


def _sets() -> dict[str, Any]:
    tags = ["set", "tags"]
    steps: list[Step] = [
        ["add", "alice", tags, m] for m in (None, True, False, 1, -3, 2.5, "x", "é🙂", "")
    ]
    steps += [
        ["discard", "alice", tags, -3],
        ["syncall"],
        # Concurrent: alice removes "x" while bob adds it again: the add wins.
        ["discard", "alice", tags, "x"],
        ["add", "bob", tags, "x"],
        # Both remove 1 concurrently; alice re-adds True and removes it again.
        ["discard", "alice", tags, 1],
        ["discard", "bob", tags, 1],
        ["discard", "alice", tags, True],
        ["add", "alice", tags, True],
        ["add", "bob", ["set", "other"], "y"],
        ["syncall"],
    ]
    return {"replicas": {"alice": [1000, 1], "bob": [1000, 1]}, "steps": steps}


def _lists() -> dict[str, Any]:
    rng = random.Random(20261206)
    items = ["list", "items"]
    steps: list[Step] = []
    n = 0
    for k in range(40):
        r = rng.random()
        if r < 0.45 or n < 2:
            steps.append(["insert", "alice", items, rng.randint(0, n), f"i{k}"])
            n += 1
        elif r < 0.65:
            steps.append(["append", "alice", items, k])
            n += 1
        elif r < 0.85:
            steps.append(["move", "alice", items, rng.randrange(n), rng.randrange(n)])
        else:
            steps.append(["ldel", "alice", items, rng.randrange(n)])
            n -= 1
    # A run typed at one place, then at the start and at the end.
    steps += [["insert", "alice", items, 3 + i, f"run{i}"] for i in range(5)]
    steps += [["insert", "alice", items, 0, f"head{i}"] for i in range(3)]
    steps += [["append", "alice", items, f"tail{i}"] for i in range(3)]
    steps += [
        ["capture", "delta", "alice", "bob"],
        ["sync", "alice", "bob"],
        ["move", "bob", items, 0, 5],
        ["ldel", "bob", items, 1],
        ["sync", "bob", "alice"],
    ]
    return {"replicas": {"alice": [1000, 1], "bob": [2000, 1]}, "steps": steps}


def _lists_concurrent() -> dict[str, Any]:
    items = ["list", "items"]
    steps: list[Step] = [["append", "alice", items, c] for c in "abc"]
    steps += [["syncall"]]
    # Each replica types a run at index 1 while apart; the runs stay in blocks.
    for who in ("alice", "bob", "carol"):
        steps += [["insert", who, items, 1 + i, f"{who}{i}"] for i in range(3)]
    steps += [
        # Concurrent moves of one item (the later clock wins) and a delete against a move.
        ["move", "alice", items, 0, 2],
        ["move", "bob", items, 0, 4],
        ["ldel", "carol", items, 4],
        ["move", "alice", items, 5, 0],
        ["capture", "delta", "carol", "alice"],
        ["syncall"],
        ["append", "carol", items, "last"],
        ["syncall"],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 2], "carol": [999, 1]},
        "steps": steps,
    }


def _nested() -> dict[str, Any]:
    m = ["map", "m"]
    todos = ["list", "todos"]
    steps: list[Step] = [
        ["mset", "alice", m, "title", "nested"],
        ["mset", "alice", [*m, "map", "inner"], "deep", {"x": 1}],
        ["inc", "alice", [*m, "counter", "hits"], 3],
        ["add", "alice", [*m, "set", "tags"], "t"],
        ["append", "alice", [*m, "list", "xs"], 1],
        ["append", "alice", [*m, "list", "xs"], 2],
        ["insert_child", "alice", todos, 0, "map"],
        ["mset", "alice", [*todos, "map", 0], "text", "buy milk"],
        ["mset", "alice", [*todos, "map", 0], "done", False],
        ["insert_child", "alice", todos, 1, "list"],
        ["append", "alice", [*todos, "list", 1], "sub"],
        ["insert_child", "alice", todos, 0, "counter"],
        ["inc", "alice", [*todos, "counter", 0], 2],
        ["insert_child", "alice", todos, 3, "set"],
        ["add", "alice", [*todos, "set", 3], 7],
        ["syncall"],
        # Both create a container at a fresh key while apart: the same container.
        ["append", "alice", [*m, "list", "shared"], "from alice"],
        ["append", "bob", [*m, "list", "shared"], "from bob"],
        # Deleting a key that holds a container, then creating one there again: a new one.
        ["mdel", "alice", m, "xs"],
        ["append", "alice", [*m, "list", "xs"], "fresh"],
        # Concurrent edit inside a list item's map while the item is deleted.
        ["mset", "bob", [*todos, "map", 1], "done", True],
        ["ldel", "alice", todos, 1],
        ["mdel", "bob", m, "title"],
        ["mset", "bob", [*m, "map", "inner", "map", "deeper"], "k", [1, 2]],
        ["capture", "delta", "bob", "alice"],
        ["syncall"],
    ]
    return {"replicas": {"alice": [1000, 1], "bob": [1000, 1]}, "steps": steps}


def _concurrent_fields() -> dict[str, Any]:
    steps: list[Step] = [
        # Equal clocks: the larger client id wins.
        ["set", "alice", "x", "alice"],
        ["set", "bob", "x", "bob"],
        ["set", "carol", "x", "carol"],
        ["sync", "alice", "bob"],
        ["set", "bob", "y", "bob saw alice"],
        ["delete", "bob", "x"],
        ["sync", "bob", "carol"],
        ["set", "carol", "z", "carol saw both"],
        ["capture", "delta1", "carol", "alice"],
        ["set", "alice", "x", "alice again"],
        ["set", "alice", "x", "alice again and again"],
        ["capture", "delta2", "alice", "carol"],
        ["syncall"],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 1], "carol": [1000, 1]},
        "steps": steps,
    }


def _causal() -> dict[str, Any]:
    items = ["list", "items"]
    steps: list[Step] = [
        ["append", "alice", items, "a1"],
        ["set", "alice", "f", 1],
        ["capture", "a_first", "alice", None],
        ["sync", "alice", "bob"],
        ["move", "bob", items, 0, 0],
        ["insert", "bob", items, 0, "b1"],
        ["ldel", "bob", items, 1],
        ["capture", "b_after_a", "bob", "alice"],
        # Carol gets bob's change first: it waits for alice's, and a snapshot keeps it.
        ["deliver", "b_after_a", "carol"],
        ["deliver", "b_after_a", "carol"],
    ]
    return {
        "replicas": {"carol": [3000, 1], "alice": [1000, 1], "bob": [2000, 1]},
        "steps": steps,
    }


def _parts() -> dict[str, Any]:
    items = ["list", "items"]
    steps: list[Step] = [["set", "alice", "f", 0]]
    for k in range(6):
        steps += [["append", "alice", items, k], ["set", "alice", "f", k + 1]]
    steps += [
        ["sync", "alice", "bob"],
        ["mark", "m0", "bob"],
        ["set", "bob", "g", "bob"],
        ["sync", "bob", "alice"],
        ["mark", "m1", "alice"],
    ]
    for k in range(4):
        steps += [["insert", "alice", items, 1, f"x{k}"], ["set", "alice", "f", 100 + k]]
    steps += [
        ["inc", "alice", ["counter", "c"], 1],
        ["mark", "m2", "alice"],
        # A long history sent in parts: up to m1, m1 to m2, then the rest.
        ["range", "part1", "alice", None, "m1"],
        ["range", "part2", "alice", "m1", "m2"],
        ["range", "part3", "alice", "m2", None],
        ["range", "since_bob", "alice", "m0", None],
        ["deliver", "part3", "carol"],
        ["deliver", "part2", "carol"],
        ["deliver", "part1", "carol"],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 1], "carol": [1000, 1]},
        "steps": steps,
    }


def _text() -> dict[str, Any]:
    t = ["text", "notes"]
    steps: list[Step] = [
        ["tins", "alice", t, 0, "Hello world"],
        ["syncall"],
        # Concurrent typing at one place, deletes forward and backspaces, astral characters.
        ["tins", "alice", t, 5, ", dear"],
        ["tins", "alice", t, 11, " 🙂"],
        ["tins", "bob", t, 5, " there"],
        ["tdel", "bob", t, 0, 1],
        ["tins", "bob", t, 0, "J"],
        ["tins", "carol", t, 11, "!!"],
        ["tdel", "carol", t, 10, 1],
        ["tdel", "carol", t, 9, 1],
        ["tdel", "carol", t, 8, 1],
        ["capture", "delta", "bob", "alice"],
        ["sync", "bob", "carol"],
        ["tins", "carol", t, 0, "𝄞é"],
        ["syncall"],
        ["tdel", "alice", t, 2, 4],
        # Texts nested in a map and in a list item.
        ["tins", "alice", ["map", "m", "text", "body"], 0, "nested text"],
        ["insert_child", "bob", ["list", "cards"], 0, "text"],
        ["tins", "bob", ["list", "cards", "text", 0], 0, "card one"],
        ["syncall"],
        ["tins", "alice", ["list", "cards", "text", 0], 4, " number"],
        ["tdel", "bob", ["list", "cards", "text", 0], 0, 5],
        ["syncall"],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 1], "carol": [1000, 1]},
        "steps": steps,
    }


def _long_text() -> dict[str, Any]:
    t = ["text", "essay"]
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "far"]
    rng = random.Random(99)
    steps: list[Step] = []
    n = 0
    for _ in range(60):
        word = rng.choice(words) + " "
        steps.append(["tins", "alice", t, n, word])
        n += len(word)
    steps += [
        ["tdel", "alice", t, 10, 5],
        ["sync", "alice", "bob"],
        ["tins", "bob", t, 0, "Title\n"],
    ]
    steps += [["sync", "bob", "alice"]]
    return {"replicas": {"alice": [1000, 1], "bob": [1000, 1]}, "steps": steps}


def _kinds() -> dict[str, Any]:
    # Replicas apart use one name for different kinds: every value stays in the state, and
    # the view shows text over list over map over set over counter over field.
    steps: list[Step] = [
        ["set", "alice", "x", "a field"],
        ["append", "bob", ["list", "x"], "a list"],
        ["tins", "carol", ["text", "x"], 0, "a text"],
        ["inc", "alice", ["counter", "y"], 2],
        ["add", "bob", ["set", "y"], "a set"],
        ["mset", "carol", ["map", "z"], "k", 1],
        ["inc", "alice", ["counter", "z"], 5],
        ["syncall"],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 1], "carol": [1000, 1]},
        "steps": steps,
    }


def _python_values() -> dict[str, Any]:
    # Values a JavaScript number or object cannot hold as Python does: 1.0 apart from 1, an
    # integer beyond 2^53, integer-like object keys out of order. The TypeScript side does
    # not replay these steps (it would read 1.0 as 1): it checks that it relays what it
    # receives exactly (bob's capture) and saves it back byte for byte.
    steps: list[Step] = [
        ["set", "alice", "float", 1.0],
        ["set", "alice", "big", 2**64 + 1],
        ["set", "alice", "keys", {"b": 1, "2": 2, "1": 1.0, "a": [2.0, 3]}],
        ["add", "alice", ["set", "s"], 1],
        ["add", "alice", ["set", "s"], 1.0],
        ["add", "alice", ["set", "s"], 2.0],
        ["add", "alice", ["set", "s"], 2**60 + 1],
        ["insert", "alice", ["list", "l"], 0, {"10": 1, "9": 2}],
        ["mset", "alice", ["map", "m"], "k", -0.0],
        ["inc", "alice", ["counter", "c"], 2**62],
        ["inc", "alice", ["counter", "c"], -(2**62) + 3],
        ["sync", "alice", "bob"],
        ["capture", "bob_all", "bob", None],
    ]
    return {
        "replicas": {"alice": [1000, 1], "bob": [1000, 1]},
        "steps": steps,
        "python_only": True,
    }


def _trimmed() -> dict[str, Any]:
    """Writers that keep overwriting the same fields, hearing each other between edits, with
    text and list edits among them, trimmed now and then: both cores must drop the same
    checkpoints and fold the same dependencies (``Document.trim_history``)."""
    rng = random.Random(41)
    names = ("alice", "bob", "carol")
    steps: list[Step] = []
    for turn in range(60):
        who = names[rng.randrange(3)]
        roll = rng.random()
        if roll < 0.6:
            steps.append(["set", who, rng.choice("xyz"), turn])
        elif roll < 0.7:
            steps.append(["tins", who, ["text", "t"], 0, f"{turn} "])
        elif roll < 0.8:
            steps.append(["append", who, ["list", "l"], turn])
        else:
            steps.append(["delete", who, rng.choice("xyz")])
        steps.append(["sync", who, names[rng.randrange(3)]])
        if turn % 9 == 8:
            steps.append(["trim", names[rng.randrange(3)]])
    steps += [
        ["capture", "dave_all", "alice", None],
        ["trim", "alice"],
        ["capture", "dave_trimmed", "alice", None],
        ["deliver", "dave_trimmed", "dave"],
        ["syncall"],
        ["trim", "alice"],
        ["trim", "bob"],
    ]
    return {
        "replicas": {"alice": [1000, 3], "bob": [1500, 2], "carol": [900, 5], "dave": [5000, 1]},
        "steps": steps,
    }


def scenarios() -> dict[str, dict[str, Any]]:
    """Every scenario by name: ``{"replicas": {id: [clock start, step]}, "steps": [...]}``."""
    return {
        "fields": _fields(),
        "counters": _counters(),
        "sets": _sets(),
        "lists": _lists(),
        "lists_concurrent": _lists_concurrent(),
        "nested": _nested(),
        "concurrent_fields": _concurrent_fields(),
        "causal": _causal(),
        "parts": _parts(),
        "text": _text(),
        "long_text": _long_text(),
        "kinds": _kinds(),
        "python_values": _python_values(),
        "trimmed": _trimmed(),
    }


def _plan_chain(links: int) -> list[bytes]:
    """``links`` writers, each editing after hearing the one before (a chain of dependencies
    across clients, ``tests/core/test_plan_order.py``): each one's change."""
    prev = Document("w0", clock=Clock(1000, 1))
    prev.get_text("t").insert(0, "a")
    prev.set("k", 0)
    parts = [prev.changes()]
    for i in range(1, links):
        doc = Document(f"w{i}", clock=Clock(1000 + i, 1))
        doc.apply(prev.changes())
        before = doc.version()
        doc.get_text("t").insert(i % 3, "b")
        doc.set("k", i)
        parts.append(doc.changes(before))
        prev = doc
    return parts


def _plan_churn(rng: random.Random) -> tuple[list[bytes], bytes, bytes]:
    """Churning writers (``tests/core/test_checkpoint_growth.py``'s driver, small) pushing
    to one document. Returns change sets of it cut at random points (overlapping), and its
    whole history with the changes in reverse order, and shuffled."""
    server = Document("server", clock=Clock(5000, 1))
    slots: list[tuple[Document, int] | None] = [None] * 4
    marks = [server.version()]
    for n in range(160):
        i = rng.randrange(4)
        slot = slots[i]
        if slot is None or slot[1] <= 0:
            client = Document(f"c{n}", clock=Clock(6000 + n, 1))
            client.apply(server.changes())
            slot = (client, rng.randint(5, 25))
        client, left = slot
        client.apply(server.changes(client.version()))
        before = client.version()
        if rng.random() < 0.5:
            client.get_text("t").insert(rng.randint(0, len(client.get_text("t"))), "xy")
        else:
            client.set(f"k{rng.randrange(6)}", n)
        server.apply(client.changes(before))
        slots[i] = (client, left - 1)
        if n % 20 == 19:
            marks.append(server.version())
    marks.append(server.version())
    cuts = []
    for _ in range(10):
        a, b = sorted(rng.sample(range(len(marks)), 2))
        cuts.append(server.changes(marks[a], marks[b]))
    whole = changes_pb2.ChangeSet.FromString(server.changes())
    backward = changes_pb2.ChangeSet()
    backward.CopyFrom(whole)
    backward.ClearField("changes")
    backward.changes.extend(reversed(whole.changes))
    mixed = changes_pb2.ChangeSet()
    mixed.CopyFrom(whole)
    mixed.ClearField("changes")
    order = list(whole.changes)
    rng.shuffle(order)
    mixed.changes.extend(order)
    return cuts, backward.SerializeToString(), mixed.SerializeToString()


def _plan_overlap() -> list[bytes]:
    """One writer's run of edits sent in overlapping pieces (held in part when they arrive,
    so trimmed), a second writer's edits that depend on parts of it, and repeats."""
    alice = Document("alice", clock=Clock(1000, 1))
    bob = Document("bob", clock=Clock(2000, 1))
    t = alice.get_text("t")
    marks = [alice.version()]
    for k in range(6):
        t.insert(len(t), f"a{k}")
        alice.set("f", k)
        marks.append(alice.version())
        if k in (1, 3):
            bob.apply(alice.changes(bob.version()))
            bob.get_text("t").insert(1, "B")
            bob.set("g", k)
    bob_all = bob.changes(marks[4])  # only its own edits
    return [
        bob_all,  # waits for alice's
        alice.changes(marks[2], marks[4]),  # waits for alice's first edits
        alice.changes(marks[2], marks[4]),  # again, while it waits
        alice.changes(None, marks[3]),  # applies; what waits now is held in part
        alice.changes(marks[1], marks[6]),  # held in part
        bob_all,
        alice.changes(),
    ]


def _plan_independent() -> list[bytes]:
    """Writers that never hear each other, each one's edits sent in three parts: the last
    parts first, then the middle ones, then the first ones together (each wakes its own
    writer's waiting parts before the next writer's first part is looked at)."""
    parts: list[list[bytes]] = []
    for w in range(3):
        doc = Document(f"solo{w}", clock=Clock(1000 * (w + 1), 1))
        marks = [doc.version()]
        for k in range(3):
            doc.set(f"f{w}", k)
            doc.get_list("l").append(w * 10 + k)
            marks.append(doc.version())
        parts.append([doc.changes(marks[k], marks[k + 1]) for k in range(3)])
    firsts = Document("firsts", clock=Clock(9000, 1))
    for p in parts:
        firsts.apply(p[0])
    return [*(p[2] for p in parts), parts[1][1], parts[0][1], firsts.changes(), parts[2][1]]


def _plan_woken_together() -> list[bytes]:
    """Two changes waiting on one writer, for different seqs of it (the later one first):
    its edits arrive and wake both, which apply in the order they arrived."""
    alice = Document("alice", clock=Clock(1000, 1))
    late = Document("late", clock=Clock(2000, 1))
    early = Document("early", clock=Clock(3000, 1))
    for k in range(3):
        alice.set("a", k)
        if k == 1:
            early.apply(alice.changes())
    late.apply(alice.changes())
    sends = []
    for doc in (late, early):
        before = doc.version()
        doc.set(doc.client_id, 1)
        sends.append(doc.changes(before))
    return [*sends, alice.changes()]


def _plan_order() -> list[dict[str, Any]]:
    """Change sets applied one after the other to a fresh document, and for each, the
    changes it applied in order and those left waiting (``[client, start, end]``): the
    order changes apply in must be the same in both cores."""
    from synckit.core import _remote

    rng = random.Random(5)
    chain = _plan_chain(30)
    shuffled = list(chain)
    rng.shuffle(shuffled)
    cuts, backward, mixed = _plan_churn(rng)
    cases = {
        "chain_backward": chain[::-1],
        "chain_shuffled": shuffled,
        "overlap": _plan_overlap(),
        "churn_cuts": cuts,
        "churn_backward": [backward],
        "churn_shuffled": [mixed],
        "independent": _plan_independent(),
        "woken_together": _plan_woken_together(),
    }
    # The whole history at once: client by client, each needing the one before.
    last = Document("last", clock=Clock(1000, 1))
    for part in chain:
        last.apply(part)
    cases["chain_catch_up"] = [last.changes()]
    out = []
    integrate = _remote._integrate
    applied: list[Any] = []

    def recording(doc: Any, ready: Any, edits: Any, meter: Any = None) -> Any:
        applied.extend(ready)
        return integrate(doc, ready, edits, meter)

    _remote._integrate = recording  # type: ignore[assignment]
    try:
        for name, deliveries in cases.items():
            doc = Document("reader", clock=Clock(1000, 1))
            steps = []
            for data in deliveries:
                applied.clear()
                doc.apply(data)
                ids = doc._clients
                steps.append(
                    {
                        "changes": data.hex(),
                        "ready": [[ids[ch.client], ch.start, ch.end] for ch in applied],
                        "waiting": [[ids[ch.client], ch.start, ch.end] for ch in doc._pending],
                    }
                )
            out.append({"name": name, "steps": steps, "json": doc.to_json()})
    finally:
        _remote._integrate = integrate
    return out


def _outcome(kind: str, data: bytes, base: bytes | None) -> dict[str, Any]:
    """What the Python core makes of ``data``: the error class it raises, or the view."""
    from synckit.errors import DecodeError

    try:
        if kind == "changes":
            doc = Document.load(base, "reader") if base is not None else Document("reader")
            doc.apply(data)
        else:
            doc = Document.load(data, "reader")
    except DecodeError as exc:
        return {"error": type(exc).__name__}
    return {"error": None, "json": doc.to_json(), "waiting": doc.waiting}


def _bad_inputs(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Damaged change sets and snapshots, and what the Python core makes of each.

    A case holds its bytes as ``hex``, or names a vector file (``file``) and how it was
    damaged: cut to its first ``cut`` bytes, or byte ``at`` set to ``byte``. With ``base``,
    a change set is applied to the document that snapshot loads into.
    """
    rng = random.Random(7)
    cases: list[dict[str, Any]] = [
        {"kind": "changes", "hex": ""},
        {"kind": "changes", "hex": "0803"},  # format 3
        {"kind": "changes", "hex": "08021200"},  # an empty client id
        {"kind": "changes", "hex": "080212027fff"},  # a client id that is not UTF-8
        {"kind": "changes", "hex": "ffffff"},
        {"kind": "snapshot", "hex": ""},
        {
            "kind": "snapshot",
            "file": "fields.snapshot.bin",
            "cut": len(files["fields.snapshot.bin"]) - 1,
        },
    ]
    # Wire-format details the protobuf runtimes must read alike: field number 0, wire types
    # 6 and 7, unmatched groups and varints over 10 bytes are corrupt; unknown fields,
    # groups and known fields sent with another wire type are skipped.
    valid = files["counters.changes.bin"]
    for extra in ("0001", "a701", "a601", "a00105", "1005", "a301a401", "a301ac01"):
        cases.append({"kind": "changes", "hex": valid.hex() + extra})
    cases.append({"kind": "changes", "hex": "088280808020" + valid[2:].hex()})
    cases.append({"kind": "changes", "hex": "0882" + "80" * 9 + "01" + valid[2:].hex()})
    snap = files["counters.snapshot.bin"]
    for extra in ("0001", "a00105", "1005"):
        body = snap[:-5] + bytes.fromhex(extra)
        sealed = body + b"\x5d" + zlib.crc32(body).to_bytes(4, "little")
        cases.append({"kind": "snapshot", "hex": sealed.hex()})
    # Containers nest at most 32 deep: a map set at depth 32 applies, at 33 it is refused.
    for depth in (32, 33):
        cases.append({"kind": "changes", "hex": _nested_change_set(depth).hex()})
    # Hostile snapshots the fuzzer found: an operation in a nested container its author had
    # not seen (a map epoch made after it), a nested text on a path to a list item its
    # parent list does not hold, a map creation replacing a write its author had not seen,
    # a client's field writes out of seq order, and a text item whose right origin falls out
    # of its dependencies at a checkpoint inside it, and (found by the differential test) a
    # checkpoint naming one client twice -- both cores must refuse them on load.
    for name in (
        "resealed-nested-container-unseen",
        "resealed-nested-text-unknown-list-item",
        "resealed-map-create-replaces-unseen",
        "resealed-field-writes-out-of-order",
        "resealed-text-right-origin-out-of-deps",
        "resealed-checkpoint-client-twice",
    ):
        hostile = (ROOT / "fuzz" / "corpus" / "snapshot" / name).read_bytes()
        cases.append({"kind": "snapshot", "hex": hostile.hex()})
    # A change set whose nested operation sits in the container of a "list item" that is a
    # character of a text of the same name, created in the same change set (found by the
    # differential test): both cores must refuse it, keeping characters and items apart.
    corpus = ROOT / "fuzz" / "corpus" / "changes"
    hostile = (corpus / "text-item-as-list-item-container").read_bytes()
    cases.append({"kind": "changes", "hex": hostile.hex()})
    sources = [
        (f"{s}.changes.bin", "changes") for s in ("fields", "lists", "nested", "sets", "text")
    ]
    sources += [
        (f"{s}.snapshot.bin", "snapshot") for s in ("fields", "lists", "nested", "causal", "text")
    ]
    for name, kind in sources:
        size = len(files[name])
        for _ in range(6):
            if rng.random() < 0.3:
                cases.append({"kind": kind, "file": name, "cut": rng.randrange(size)})
            else:
                i = rng.randrange(size)
                byte = (files[name][i] + rng.randrange(1, 256)) % 256
                cases.append({"kind": kind, "file": name, "at": i, "byte": byte})
    # A delta applied on top of the state it was made for, damaged.
    delta = files["lists.delta.bin"]
    for _ in range(6):
        i = rng.randrange(len(delta))
        byte = delta[i] ^ (1 << rng.randrange(8))
        cases.append(
            {
                "kind": "changes",
                "file": "lists.delta.bin",
                "at": i,
                "byte": byte,
                "base": "lists.snapshot.bin",
            }
        )
    for case in cases:
        data = _damaged(files, case)
        base = files[case["base"]] if "base" in case else None
        case.update(_outcome(case["kind"], data, base))
    return cases


def _nested_change_set(depth: int) -> bytes:
    """A change set that sets a key of a map nested ``depth`` deep (maps at fresh keys)."""
    msg = changes_pb2.ChangeSet(format=2, clients=["deep"], names=["root"])
    change = msg.changes.add(client=0, start=1)
    for level in range(depth):
        msg.names.append("\x00" + json.dumps([level, "k", 0, 0], separators=(",", ":")))
        change.kinds.append(14)  # MAP_CREATE of a map at key "k" of the previous map
        change.ints.extend([level, 1, 0, 0])
        change.hlcs.append(65536000 if level == 0 else 1)
        change.strs.append("k")
    change.kinds.append(12)  # MAP_SET in the deepest map
    change.ints.append(depth)
    change.hlcs.append(1)
    change.strs.append("leaf")
    change.values = "[true]"
    return msg.SerializeToString()


def _damaged(files: dict[str, bytes], case: dict[str, Any]) -> bytes:
    """The bytes a bad-input case stands for."""
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    data = bytearray(files[case["file"]])
    if "cut" in case:
        return bytes(data[: case["cut"]])
    data[case["at"]] = case["byte"]
    return bytes(data)


def _dump(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode()


def generate() -> dict[str, bytes]:
    """Every vector file's name and content (``scenarios.json`` included)."""
    files: dict[str, bytes] = {}
    all_scenarios = scenarios()
    files["scenarios.json"] = _dump(all_scenarios)
    expected: dict[str, Any] = {}
    for name, scenario in all_scenarios.items():
        # Through JSON, as the TypeScript side reads the steps.
        scenario = json.loads(json.dumps(scenario))
        replay = Replay(scenario["replicas"])
        replay.run(scenario["steps"])
        subject = replay.docs[next(iter(scenario["replicas"]))]
        files[f"{name}.changes.bin"] = subject.changes()
        files[f"{name}.snapshot.bin"] = subject.save()
        for label, data in replay.captured.items():
            files[f"{name}.{label}.bin"] = data
        views = {
            rid: {"json": doc.to_json(), "waiting": doc.waiting} for rid, doc in replay.docs.items()
        }
        expected[name] = {"version": subject.version().encode().hex(), "replicas": views}
    files["expected.json"] = _dump(expected)
    files["bad.json"] = _dump(_bad_inputs(files))
    files["plan_order.json"] = _dump(_plan_order())
    return files


def main(argv: list[str]) -> int:
    """Write the vectors into :data:`OUT` (``--check``: only compare, 1 when stale)."""
    check = "--check" in argv
    files = generate()
    stale = []
    for name, data in files.items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if check and stale:
        print("stale TypeScript vectors: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not check:
        print(f"wrote {len(files)} files into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
