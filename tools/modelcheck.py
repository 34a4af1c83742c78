#!/usr/bin/env python3
"""Exhaustive model checking of the real SyncKit core.

The seed's TLA+ models (LWW merge, vector-clock causality, convergence) explored 118,711
states of an abstract model. This checker explores the state graph of the *real* code:
three :class:`synckit.Document` replicas, each with a short script of local operations
(concurrent field writes on skewed clocks, deletes, counter increments, set add/remove of
one member, list inserts at one index and moves, text inserts at one position), and a
network of in-flight messages. Every local operation's delta (``changes(before)``) is sent
to each other replica as its own message; messages are delivered in every possible order,
and each delivery may also leave a duplicate behind (up to a budget). The small bound gives
each replica one operation (two duplicate deliveries allowed); the full bound runs each
scenario twice: r0 and r1 with two operations and r2 with one (one duplicate allowed), then
all three with two (no duplicates).

A global state is: each replica's ``save()`` bytes and script position, the multiset of
messages in flight, the duplicates left, and which variant of each operation its author
produced. The search is a depth-first walk over that graph, remembering every global state
it has visited, so each is expanded once; replica transitions are memoised too (a replica
state plus a message always gives the same next state).

In every reached state it asserts, for every replica:

* causality: every operation the replica holds (its version is a gap-free prefix per
  client) has all its causal predecessors held too, and nothing shows that is not held;
* LWW: each field shows the value of the maximal ``(hlc, client id)`` write held (absent
  when that is a delete), and a write made after seeing another carries a larger hlc;
* counters equal the sum of held increments; sets equal the add-wins result of held adds
  and removes; lists hold each held, undeleted item exactly once; texts hold exactly the
  held, undeleted characters;

and at quiescence (scripts done, nothing in flight) that all replicas have the same
``version()`` and ``to_json()``. It prints the number of distinct states explored.

Usage::

    .venv/bin/python tools/modelcheck.py          # the small bound (what CI runs)
    .venv/bin/python tools/modelcheck.py --full   # the full bound: > 118,711 states
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synckit import Document, VersionVector
from synckit.v1 import changes_pb2 as pb

#: States the seed's TLA+ models explored; the full run must explore more.
TLA_STATES = 118_711
REPLICAS = ("r0", "r1", "r2")

JSON = Any
Action = Callable[[Document, str], None]  # (replica, unique label) -> None


class InvariantError(AssertionError):
    """An invariant failed in a reached state."""


# ----------------------------------------------------------------------------- ops


@dataclass(frozen=True)
class OpInfo:
    """One operation as the model knows it (decoded from its author's delta bytes)."""

    client: str
    seq: int
    width: int
    kind: int
    name: Any  # a top-level name, or a nested container's canonical id (see _canonical_names)
    hlc: int = 0
    value: JSON = None
    item: tuple[str, int] | None = None  # list move/delete target; text delete target
    tags: tuple[tuple[str, int], ...] = ()
    deps: tuple[tuple[str, int], ...] = ()  # the author's version before the action
    key: str = ""  # map operations: the key
    child: int = 0  # MAP_CREATE, LIST_CREATE: the kind of container made (1 map .. 5 set)
    epoch: tuple[str, int] | None = None  # MAP_CREATE: the write it replaced at its key


def _canonical_names(names: list[str], clients: list[str], fmt: int) -> list[Any]:
    """A message's name table with nested entries (format 2) made independent of the
    message: ``(parent, key, epoch)`` and ``(parent, (client, seq))`` with client id strings."""
    out: list[Any] = []
    for text in names:
        if fmt < 2 or not text.startswith("\x00"):
            out.append(text)
            continue
        entry = json.loads(text[1:])
        if isinstance(entry, str):
            out.append(entry)
        elif len(entry) == 4:
            parent, key, ec, es = entry
            out.append((out[parent], key, (clients[ec - 1], es) if ec else None))
        else:
            parent, c, seq = entry
            out.append((out[parent], (clients[c], seq)))
    return out


def decode_ops(data: bytes, deps: VersionVector) -> list[OpInfo]:
    """The operations in a ChangeSet, with ``deps`` as each one's causal predecessors."""
    msg = pb.ChangeSet()
    msg.ParseFromString(data)
    clients = list(msg.clients)
    names = _canonical_names(list(msg.names), clients, msg.format)
    dep_items = tuple(sorted(deps.items()))
    out: list[OpInfo] = []
    for ch in msg.changes:
        author = clients[ch.client]
        ints, hlcs, strs = list(ch.ints), list(ch.hlcs), list(ch.strs)
        values = json.loads(ch.values) if ch.values else []
        ii = hi = vi = si = ti = 0
        hlc = 0
        seq = ch.start

        def ref(c: int, s: int) -> tuple[str, int]:
            return (clients[c], s)

        for kind in ch.kinds:
            if kind == pb.OP_KIND_SKIP:
                seq += ints[ii]
                ii += 1
                continue
            name = names[ints[ii]]
            ii += 1
            info: dict[str, Any] = {}
            width = 1
            if kind in (pb.OP_KIND_FIELD_SET, pb.OP_KIND_FIELD_DELETE):
                hlc += hlcs[hi]
                hi += 1
                info["hlc"] = hlc
                if kind == pb.OP_KIND_FIELD_SET:
                    info["value"] = values[vi]
                    vi += 1
            elif kind == pb.OP_KIND_COUNTER_ADD:
                info["value"] = ints[ii]
                ii += 1
            elif kind == pb.OP_KIND_SET_ADD:
                info["value"] = values[vi]
                vi += 1
            elif kind == pb.OP_KIND_SET_REMOVE:
                n = ints[ii]
                info["tags"] = tuple(
                    ref(ints[ii + 1 + 2 * k], ints[ii + 2 + 2 * k]) for k in range(n)
                )
                ii += 1 + 2 * n
                info["value"] = values[vi]
                vi += 1
            elif kind == pb.OP_KIND_LIST_INSERT:
                hlc += hlcs[hi]
                hi += 1
                info["hlc"] = hlc
                info["value"] = values[vi]
                vi += 1
                si += 1
            elif kind == pb.OP_KIND_LIST_MOVE:
                info["item"] = ref(ints[ii], ints[ii + 1])
                ii += 2
                hlc += hlcs[hi]
                hi += 1
                info["hlc"] = hlc
                si += 1
            elif kind == pb.OP_KIND_LIST_DELETE:
                info["item"] = ref(ints[ii], ints[ii + 1])
                ii += 2
            elif kind == pb.OP_KIND_TEXT_INSERT:
                width = ints[ii + 4]
                info["value"] = ch.text[ti : ti + width]
                ti += width
                ii += 5
            elif kind == pb.OP_KIND_TEXT_DELETE:
                info["item"] = ref(ints[ii], ints[ii + 1])
                info["value"] = ints[ii + 2]  # signed count
                ii += 3
                width = abs(info["value"])
            elif kind in (pb.OP_KIND_MAP_SET, pb.OP_KIND_MAP_DELETE, pb.OP_KIND_MAP_CREATE):
                if kind == pb.OP_KIND_MAP_CREATE:
                    info["child"] = ints[ii]
                    if ints[ii + 1]:
                        info["epoch"] = ref(ints[ii + 1] - 1, ints[ii + 2])
                    ii += 3
                hlc += hlcs[hi]
                hi += 1
                info["hlc"] = hlc
                info["key"] = strs[si]
                si += 1
                if kind == pb.OP_KIND_MAP_SET:
                    info["value"] = values[vi]
                    vi += 1
            elif kind == pb.OP_KIND_LIST_CREATE:
                info["child"] = ints[ii]
                ii += 1
                hlc += hlcs[hi]
                hi += 1
                info["hlc"] = hlc
                si += 1
            else:
                raise InvariantError(f"unknown op kind {kind} in a delta")
            out.append(OpInfo(author, seq, width, kind, name, deps=dep_items, **info))
            seq += width
    return out


def _skipped_seqs(data: bytes) -> list[int]:
    """Seqs a ChangeSet marks as skipped (superseded operations it need not carry)."""
    msg = pb.ChangeSet()
    msg.ParseFromString(data)
    out: list[int] = []
    for ch in msg.changes:
        seq = ch.start
        ii = si = 0
        ints, strs = list(ch.ints), list(ch.strs)
        for kind in ch.kinds:
            if kind == pb.OP_KIND_SKIP:
                out.extend(range(seq, seq + ints[ii]))
                seq += ints[ii]
                ii += 1
                continue
            width, ii, si = _width_and_advance(kind, ints, strs, ii, si)
            seq += width
    return out


def _width_and_advance(
    kind: int, ints: list[int], strs: list[str], ii: int, si: int
) -> tuple[int, int, int]:
    """(seqs taken, next ints index, next strs index) for one non-skip operation."""
    ii += 1  # the name
    if kind == pb.OP_KIND_COUNTER_ADD:
        return 1, ii + 1, si
    if kind == pb.OP_KIND_SET_REMOVE:
        return 1, ii + 1 + 2 * ints[ii], si
    if kind == pb.OP_KIND_LIST_INSERT:
        return 1, ii, si + 1
    if kind == pb.OP_KIND_LIST_MOVE:
        return 1, ii + 2, si + 1
    if kind == pb.OP_KIND_LIST_DELETE:
        return 1, ii + 2, si
    if kind == pb.OP_KIND_TEXT_INSERT:
        return ints[ii + 4], ii + 5, si
    if kind == pb.OP_KIND_TEXT_DELETE:
        return abs(ints[ii + 2]), ii + 3, si
    if kind in (pb.OP_KIND_MAP_SET, pb.OP_KIND_MAP_DELETE):
        return 1, ii, si + 1
    if kind == pb.OP_KIND_MAP_CREATE:
        return 1, ii + 3, si + 1
    if kind == pb.OP_KIND_LIST_CREATE:
        return 1, ii + 1, si + 1
    return 1, ii, si  # field set/delete, set add


# ----------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """Three replicas starting from one shared base state, each with a script."""

    name: str
    skews: tuple[int, int, int]  # each replica's wall clock (ms)
    base: Callable[[Document], None]
    scripts: tuple[tuple[Action, ...], tuple[Action, ...], tuple[Action, ...]]
    dups: int = 1  # how many times a delivery may leave a duplicate in flight


def set_field(name: str) -> Action:
    return lambda d, label: d.set(name, label)


def delete_field(name: str) -> Action:
    return lambda d, label: d.delete(name)


def update_fields(a: str, b: str) -> Action:
    return lambda d, label: d.update({a: label, b: [label, {"n": 1}]})


def increment(name: str, n: int) -> Action:
    return lambda d, label: d.get_counter(name).increment(n)


def set_add(name: str, member: JSON) -> Action:
    return lambda d, label: d.get_set(name).add(member)


def set_discard(name: str, member: JSON) -> Action:
    return lambda d, label: d.get_set(name).discard(member)


def list_insert(name: str, index: int) -> Action:
    def act(d: Document, label: str) -> None:
        lst = d.get_list(name)
        lst.insert(min(index, len(lst)), label)

    return act


def list_move_first_to(name: str, to: int) -> Action:
    def act(d: Document, label: str) -> None:
        lst = d.get_list(name)
        if len(lst) >= 2:
            lst.move(0, min(to, len(lst) - 1))

    return act


def list_move_value(name: str, value: str, to: int) -> Action:
    def act(d: Document, label: str) -> None:
        lst = d.get_list(name)
        items = list(lst)
        if value in items:
            lst.move(items.index(value), min(to, len(lst) - 1))

    return act


def list_delete_value(name: str, value: str) -> Action:
    def act(d: Document, label: str) -> None:
        lst = d.get_list(name)
        items = list(lst)
        if value in items:
            lst.delete(items.index(value))

    return act


def text_insert(name: str, pos: int, s: str) -> Action:
    def act(d: Document, label: str) -> None:
        t = d.get_text(name)
        t.insert(min(pos, len(t)), s)

    return act


def text_delete(name: str, pos: int, n: int) -> Action:
    def act(d: Document, label: str) -> None:
        t = d.get_text(name)
        if pos < len(t):
            t.delete(pos, min(n, len(t) - pos))

    return act


def todo_set(key: str) -> Action:
    """Set ``key`` of the first todo item (a map inside the list ``todos``)."""

    def act(d: Document, label: str) -> None:
        todos = d.get_list("todos")
        if len(todos):
            todos.get_map(0).set(key, label)

    return act


def todo_delete_and_tag(d: Document, label: str) -> None:
    """Delete the first todo item, and add a tag (creating the ``tags`` list if unset)."""
    todos = d.get_list("todos")
    if len(todos):
        todos.delete(0)
    tag(d, label)


def tag(d: Document, label: str) -> None:
    """Add a tag to the list at ``settings.tags``, creating it when the key is unset."""
    d.get_map("settings").get_list("tags").append(label)


def todo_note(d: Document, label: str) -> None:
    """Type into the notes text of the first todo item (creating it when unset)."""
    todos = d.get_list("todos")
    if len(todos):
        todos.get_map(0).get_text("notes").insert(0, "n")


def untag_all(d: Document, label: str) -> None:
    """Delete the ``tags`` key: its list is gone for good."""
    d.get_map("settings").delete("tags")


def color(d: Document, label: str) -> None:
    d.get_map("settings").get_map("colors").set("bg", label)


def _nested_base(d: Document) -> None:
    d.get_list("todos").insert_map(0).set("title", "t")


def _no_base(d: Document) -> None:
    pass


def _list_base(d: Document) -> None:
    lst = d.get_list("l")
    for v in ("p", "q", "z"):
        lst.append(v)


def _set_base(d: Document) -> None:
    d.get_set("s").add(1)
    d.get_counter("c").increment(10)


def _text_base(d: Document) -> None:
    d.get_text("t").insert(0, "ab")


def scenarios(full: bool) -> list[Scenario]:
    """The operation sets: 1 op per replica at the small bound, 2 at the full one."""
    # Skewed clocks: r0 runs far ahead, r2 far behind.
    skews = (5_000_000, 1_000_000, 0)
    small = [
        Scenario(
            "lww",
            skews,
            _no_base,
            ((set_field("x"),), (set_field("x"),), (delete_field("x"),)),
        ),
        Scenario(
            "counter+set",
            skews,
            _set_base,
            ((set_discard("s", 1),), (set_add("s", 1),), (increment("c", -3),)),
        ),
        Scenario(
            "list",
            skews,
            _list_base,
            ((list_insert("l", 1),), (list_insert("l", 1),), (list_move_first_to("l", 2),)),
        ),
        Scenario(
            "text",
            skews,
            _text_base,
            ((text_insert("t", 1, "é"),), (text_insert("t", 1, "xy"),), (text_delete("t", 0, 2),)),
        ),
        Scenario(
            "nested",
            skews,
            _nested_base,
            ((todo_set("done"),), (tag,), (todo_delete_and_tag,)),
        ),
    ]
    if not full:
        # Up to two duplicate deliveries: ~60,000 states, under a second.
        return [Scenario(sc.name, sc.skews, sc.base, sc.scripts, dups=2) for sc in small]
    # Two operations for r0 and r1, one for r2, one duplicate delivery allowed; then
    # two operations for every replica, no duplicates (~10x more states each).
    three_by_two = {
        "lww": (delete_field("x"), set_field("y")),
        "counter+set": (set_discard("s", 1), increment("c", 5)),
        "list": (list_move_value("l", "p", 2), list_insert("l", 0)),
        "text": (text_delete("t", 0, 2), text_insert("t", 1, "w")),
        "nested": (todo_delete_and_tag, color),
    }
    mixed = _full_mixed(skews)
    return mixed + [
        Scenario(
            f"{sc.name}/3x2",
            sc.skews,
            sc.base,
            (sc.scripts[0], sc.scripts[1], three_by_two[sc.name]),
            dups=0,
        )
        for sc in mixed
    ]


def _full_mixed(skews: tuple[int, int, int]) -> list[Scenario]:
    return [
        Scenario(
            "lww",
            skews,
            _no_base,
            (
                (set_field("x"), delete_field("x")),
                (set_field("x"), update_fields("x", "y")),
                (delete_field("x"),),
            ),
        ),
        Scenario(
            "counter+set",
            skews,
            _set_base,
            (
                (set_discard("s", 1), increment("c", 2)),
                (set_add("s", 1), increment("c", -3)),
                (set_discard("s", 1),),
            ),
        ),
        Scenario(
            "list",
            skews,
            _list_base,
            (
                (list_insert("l", 1), list_delete_value("l", "p")),
                (list_insert("l", 1), list_move_value("l", "p", 1)),
                (list_move_value("l", "p", 2),),
            ),
        ),
        Scenario(
            "text",
            skews,
            _text_base,
            (
                (text_insert("t", 1, "é"), text_delete("t", 0, 1)),
                (text_insert("t", 1, "xy"), text_insert("t", 0, "🙂")),
                (text_delete("t", 0, 2),),
            ),
        ),
        Scenario(
            "nested",
            skews,
            _nested_base,
            (
                (todo_set("done"), untag_all),
                (tag, todo_note),
                (todo_delete_and_tag,),
            ),
        ),
    ]


# ----------------------------------------------------------------------------- the checker

_MAP_KINDS = (pb.OP_KIND_MAP_SET, pb.OP_KIND_MAP_DELETE, pb.OP_KIND_MAP_CREATE)


def _root(name: Any) -> str:
    while isinstance(name, tuple):
        name = name[0]
    return str(name)


def _nested_roots(held: list[OpInfo]) -> dict[str, int]:
    """Top-level containers that are maps or hold nested containers: name -> kind (1 map,
    2 list)."""
    roots: dict[str, int] = {}
    for op in held:
        if isinstance(op.name, tuple):
            top = op.name
            while isinstance(top[0], tuple):
                top = top[0]
            roots.setdefault(top[0], 1 if len(top) == 3 else 2)
        elif op.kind in _MAP_KINDS:
            roots[op.name] = 1
        elif op.kind == pb.OP_KIND_LIST_CREATE:
            roots[op.name] = 2
    return roots


def _matches(want: tuple[str, Any], got: JSON) -> bool:
    """Whether a view matches the model's expectation (lists and texts as multisets)."""
    what, expected = want
    if what == "value":
        return json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    if what == "map":
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(_matches(expected[k], got[k]) for k in expected)
        )
    if what == "text":
        return isinstance(got, str) and sorted(got) == expected
    if what == "set":
        return (
            isinstance(got, list)
            and sorted((type(m).__name__, json.dumps(m)) for m in got) == expected
        )
    # a list: some matching of the model's items to the shown ones, one to one
    if not isinstance(got, list) or len(got) != len(expected):
        return False
    return _assign(list(expected), got)


def _assign(items: list[tuple[str, Any]], got: list[JSON]) -> bool:
    if not items:
        return True
    first, rest = items[0], items[1:]
    for i, value in enumerate(got):
        if _matches(first, value) and _assign(rest, got[:i] + got[i + 1 :]):
            return True
    return False


@dataclass
class Message:
    """One replica's delta for one local action: its bytes and the ops in it."""

    author: int
    data: bytes
    ops: list[OpInfo]


@dataclass
class Stats:
    states: int = 0
    quiescent: int = 0
    replica_states: int = 0
    transitions: int = 0
    checks: int = 0
    seconds: float = 0.0
    per_scenario: dict[str, int] = field(default_factory=dict)


class Checker:
    """Depth-first search over the global states of one scenario."""

    def __init__(
        self, scenario: Scenario, dup_budget: int, doc_class: type[Document] = Document
    ) -> None:
        self.sc = scenario
        self.doc_class = doc_class
        self.dup_budget = dup_budget
        self._snaps: list[bytes] = []
        self._snap_ids: dict[bytes, int] = {}
        self._views: list[tuple[VersionVector, dict[str, JSON]]] = []
        self.messages: list[Message] = []
        self._msg_ids: dict[tuple[int, bytes, bytes], int] = {}
        self._local: dict[tuple[int, int, int], tuple[int, int | None]] = {}
        self._deliver: dict[tuple[int, int], int] = {}
        self._checked: set[tuple[int, tuple[tuple[int, ...], ...]]] = set()
        self._clock_now = [0]
        # The shared base state, made by a separate client all replicas start from.
        base = doc_class("base", clock=lambda: 1)
        before = base.version()
        scenario.base(base)
        self.base_ops = decode_ops(base.changes(before), VersionVector()) if base.version() else []
        snap = base.save()
        self.start = tuple(
            self._intern(doc_class.load(snap, client_id=r, clock=self._clock).save())
            for r in REPLICAS
        )
        self.stats = Stats()

    # -- replica states

    def _clock(self) -> int:
        return self._clock_now[0]

    def _intern(self, snap: bytes) -> int:
        sid = self._snap_ids.get(snap)
        if sid is None:
            sid = self._snap_ids[snap] = len(self._snaps)
            self._snaps.append(snap)
            doc = self.doc_class.load(snap)
            self._views.append((doc.version(), doc.to_json()))
        return sid

    def _doc(self, sid: int, replica: int) -> Document:
        return self.doc_class.load(self._snaps[sid], client_id=REPLICAS[replica], clock=self._clock)

    def local(self, replica: int, sid: int, pos: int) -> tuple[int, int | None]:
        """Replica does its script's op ``pos``: (new state, message id or None)."""
        key = (replica, sid, pos)
        hit = self._local.get(key)
        if hit is not None:
            return hit
        doc = self._doc(sid, replica)
        self._clock_now[0] = self.sc.skews[replica] + 1000 * (pos + 1)
        before = doc.version()
        self.sc.scripts[replica][pos](doc, f"{REPLICAS[replica]}.{pos}")
        mid: int | None = None
        if doc.version() != before:
            data = doc.changes(before)
            # Keyed by the author's version too: its ops' causal predecessors (OpInfo.deps)
            # are that version, and the bytes alone no longer say it (a change names only
            # the heads it depends on: the same bytes come from versions that differ in what
            # those heads depended on in other delivery orders).
            mkey = (replica, data, before.encode())
            mid = self._msg_ids.get(mkey)
            if mid is None:
                ops = decode_ops(data, before)
                me = REPLICAS[replica]
                made = (before[me] + 1, doc.version()[me])
                seqs = sorted(s for op in ops for s in range(op.seq, op.seq + op.width))
                skipped = _skipped_seqs(data)
                if any(op.client != me for op in ops) or sorted(seqs + skipped) != list(
                    range(made[0], made[1] + 1)
                ):
                    raise InvariantError(
                        f"{self.sc.name}: {me} made seqs {made[0]}..{made[1]} in its action "
                        f"{pos} but changes(before) holds seqs {seqs} (skips {skipped}) of "
                        f"{sorted({op.client for op in ops})}: {ops}"
                    )
                mid = self._msg_ids[mkey] = len(self.messages)
                self.messages.append(Message(replica, data, ops))
        result = (self._intern(doc.save()), mid)
        self._local[key] = result
        self.stats.transitions += 1
        return result

    def deliver(self, replica: int, sid: int, mid: int) -> int:
        key = (sid, mid)
        hit = self._deliver.get(key)
        if hit is not None:
            return hit
        doc = self._doc(sid, replica)
        doc.apply(self.messages[mid].data)
        nsid = self._intern(doc.save())
        self._deliver[key] = nsid
        self.stats.transitions += 1
        return nsid

    # -- invariants

    def check(self, sid: int, emitted: tuple[tuple[int, ...], ...]) -> None:
        key = (sid, emitted)
        if key in self._checked:
            return
        self._checked.add(key)
        self.stats.checks += 1
        version, view = self._views[sid]
        ops = list(self.base_ops)
        for mids in emitted:
            for mid in mids:
                ops.extend(self.messages[mid].ops)
        # Seqs of each author are gap-free in what exists; a replica holds a prefix of them.
        held = [op for op in ops if op.seq + op.width - 1 <= version[op.client]]
        for op in ops:
            if op.seq <= version[op.client] < op.seq + op.width - 1:
                raise InvariantError(f"version {version} splits operation {op}")
        known_max: dict[str, int] = {}
        for op in ops:
            known_max[op.client] = max(known_max.get(op.client, 0), op.seq + op.width - 1)
        for client, seq in version.items():
            if seq > known_max.get(client, 0):
                raise InvariantError(f"version {version} holds {client}:{seq} nobody made")
        # Causality: everything a held op depends on is held.
        for op in held:
            for c, s in op.deps:
                if version[c] < s:
                    raise InvariantError(
                        f"{op.client}:{op.seq} held without its dependency {c}:{s}"
                    )
        self._check_fields(held, view)
        self._check_containers(held, view)
        self._check_nested(held, view)

    @staticmethod
    def _saw(later: OpInfo, earlier: OpInfo) -> bool:
        if later.client == earlier.client:
            return earlier.seq < later.seq
        return dict(later.deps).get(earlier.client, 0) >= earlier.seq

    def _check_fields(self, held: list[OpInfo], view: dict[str, JSON]) -> None:
        writes: dict[str, list[OpInfo]] = {}
        for op in held:
            if op.kind in (pb.OP_KIND_FIELD_SET, pb.OP_KIND_FIELD_DELETE):
                writes.setdefault(op.name, []).append(op)
        for name, ws in writes.items():
            for a in ws:
                for b in ws:
                    if a is not b and self._saw(a, b) and not a.hlc > b.hlc:
                        raise InvariantError(f"{a} saw {b} but its hlc is not larger")
            win = max(ws, key=lambda w: (w.hlc, w.client))
            if win.kind == pb.OP_KIND_FIELD_DELETE:
                if name in view:
                    raise InvariantError(f"field {name!r} shows {view[name]!r}; {win} deleted it")
            elif name not in view or view[name] != win.value:
                raise InvariantError(
                    f"field {name!r} shows {view.get(name)!r}, LWW winner is {win.value!r}"
                )

    def _check_containers(self, held: list[OpInfo], view: dict[str, JSON]) -> None:
        counters: dict[str, int] = {}
        adds: dict[str, list[OpInfo]] = {}
        removed: dict[str, set[tuple[str, int]]] = {}
        inserts: dict[str, dict[tuple[str, int], JSON]] = {}
        deleted: set[tuple[str, int]] = set()
        chars: dict[str, dict[tuple[str, int], str]] = {}
        nested = _nested_roots(held)
        for op in held:
            k = op.kind
            if not isinstance(op.name, str) or op.name in nested:
                continue  # checked by _check_nested
            if k == pb.OP_KIND_COUNTER_ADD:
                counters[op.name] = counters.get(op.name, 0) + op.value
            elif k == pb.OP_KIND_SET_ADD:
                adds.setdefault(op.name, []).append(op)
            elif k == pb.OP_KIND_SET_REMOVE:
                removed.setdefault(op.name, set()).update(op.tags)
            elif k == pb.OP_KIND_LIST_INSERT:
                inserts.setdefault(op.name, {})[(op.client, op.seq)] = op.value
            elif k == pb.OP_KIND_LIST_DELETE:
                assert op.item is not None
                deleted.add(op.item)
            elif k == pb.OP_KIND_TEXT_INSERT:
                cs = chars.setdefault(op.name, {})
                for i, ch in enumerate(op.value):
                    cs[(op.client, op.seq + i)] = ch
            elif k == pb.OP_KIND_TEXT_DELETE:
                assert op.item is not None
                step = 1 if op.value > 0 else -1
                for i in range(abs(op.value)):
                    deleted.add((op.item[0], op.item[1] + i * step))
        for name, total in counters.items():
            if view.get(name) != total:
                raise InvariantError(f"counter {name!r} shows {view.get(name)!r}, held sum {total}")
        for name, name_adds in adds.items():
            gone = removed.get(name, set())
            want = {
                (type(a.value).__name__, a.value)
                for a in name_adds
                if (a.client, a.seq) not in gone
            }
            got = {(type(m).__name__, m) for m in view.get(name, [])}
            if got != want:
                raise InvariantError(f"set {name!r} shows {got}, add-wins gives {want}")
        for name, items in inserts.items():
            want_list = sorted(json.dumps(v) for i, v in items.items() if i not in deleted)
            got_list = sorted(json.dumps(v) for v in view.get(name, []))
            if got_list != want_list:
                raise InvariantError(
                    f"list {name!r} shows {got_list}, want each of {want_list} once"
                )
        for name, cs in chars.items():
            want_chars = sorted(c for i, c in cs.items() if i not in deleted)
            if sorted(view.get(name, "")) != want_chars:
                raise InvariantError(f"text {name!r} shows {view.get(name)!r}, want {want_chars}")

    def _check_nested(self, held: list[OpInfo], view: dict[str, JSON]) -> None:
        """Maps and containers inside containers, against a model of the documented rules:
        each map key shows its last writer's (hlc, client id) write -- a value, nothing, or
        the container that write created (named by its key and the write it replaced); a
        list shows each held, undeleted item once; what is inside a container shows only
        where the container itself shows. Lists and texts are compared as multisets."""
        roots = _nested_roots(held)
        if not roots:
            return
        by_container: dict[Any, list[OpInfo]] = {}
        deleted: set[tuple[str, int]] = set()
        for op in held:
            by_container.setdefault(op.name, []).append(op)
            if op.kind == pb.OP_KIND_LIST_DELETE:
                assert op.item is not None
                deleted.add(op.item)
            elif op.kind == pb.OP_KIND_TEXT_DELETE:
                assert op.item is not None
                step = 1 if op.value > 0 else -1
                deleted.update((op.item[0], op.item[1] + i * step) for i in range(abs(op.value)))
        for root, kind in roots.items():
            want = self._expect(root, kind, by_container, deleted)
            got = view.get(root, {} if kind == 1 else [])
            if not _matches(want, got):
                raise InvariantError(f"{root!r} shows {got!r}; the model gives {want!r}")

    def _expect(
        self,
        cid: Any,
        kind: int,
        by_container: dict[Any, list[OpInfo]],
        deleted: set[tuple[str, int]],
    ) -> tuple[str, Any]:
        ops = by_container.get(cid, [])
        if kind == 1:
            regs: dict[str, OpInfo] = {}
            for op in ops:
                if op.kind in _MAP_KINDS:
                    for other in ops:
                        if (
                            other.kind in _MAP_KINDS
                            and other.key == op.key
                            and other is not op
                            and self._saw(op, other)
                            and not op.hlc > other.hlc
                        ):
                            raise InvariantError(f"{op} saw {other} but its hlc is not larger")
                    cur = regs.get(op.key)
                    if cur is None or (op.hlc, op.client) > (cur.hlc, cur.client):
                        regs[op.key] = op
            shown: dict[str, tuple[str, Any]] = {}
            for key, op in regs.items():
                if op.kind == pb.OP_KIND_MAP_SET:
                    shown[key] = ("value", op.value)
                elif op.kind == pb.OP_KIND_MAP_CREATE:
                    child: Any = (cid, key, op.epoch)
                    shown[key] = self._expect(child, op.child, by_container, deleted)
            return ("map", shown)
        if kind == 2:
            items: list[tuple[str, Any]] = []
            for op in ops:
                if (op.client, op.seq) in deleted:
                    continue
                if op.kind == pb.OP_KIND_LIST_INSERT:
                    items.append(("value", op.value))
                elif op.kind == pb.OP_KIND_LIST_CREATE:
                    item: Any = (cid, (op.client, op.seq))
                    items.append(self._expect(item, op.child, by_container, deleted))
            return ("list", items)
        if kind == 3:
            chars = [
                c
                for op in ops
                if op.kind == pb.OP_KIND_TEXT_INSERT
                for i, c in enumerate(op.value)
                if (op.client, op.seq + i) not in deleted
            ]
            return ("text", sorted(chars))
        if kind == 4:
            return ("value", sum(op.value for op in ops if op.kind == pb.OP_KIND_COUNTER_ADD))
        gone = {t for op in ops if op.kind == pb.OP_KIND_SET_REMOVE for t in op.tags}
        members = {
            (type(op.value).__name__, json.dumps(op.value))
            for op in ops
            if op.kind == pb.OP_KIND_SET_ADD and (op.client, op.seq) not in gone
        }
        return ("set", sorted(members))

    # -- the search

    def run(self, limit: int | None = None) -> int:
        """Explore every reachable global state; return how many there are."""
        gstate = tuple[
            tuple[int, ...],
            tuple[int, ...],
            tuple[tuple[int, int], ...],
            int,
            tuple[tuple[int, ...], ...],
        ]
        n = len(REPLICAS)
        start: gstate = (self.start, (0,) * n, (), self.dup_budget, ((),) * n)
        seen: set[gstate] = {start}
        stack: list[gstate] = [start]
        scripts = self.sc.scripts
        while stack:
            sids, pos, net, dups, emitted = stack.pop()
            for r in range(n):
                self.check(sids[r], emitted)
            succ: list[gstate] = []
            for r in range(n):
                if pos[r] < len(scripts[r]):
                    nsid, mid = self.local(r, sids[r], pos[r])
                    nsids = (*sids[:r], nsid, *sids[r + 1 :])
                    npos = (*pos[:r], pos[r] + 1, *pos[r + 1 :])
                    nnet = net
                    nemitted = emitted
                    if mid is not None:
                        nnet = tuple(sorted(net + tuple((d, mid) for d in range(n) if d != r)))
                        nemitted = (*emitted[:r], (*emitted[r], mid), *emitted[r + 1 :])
                    succ.append((nsids, npos, nnet, dups, nemitted))
            prev: tuple[int, int] | None = None
            for i, (dest, mid) in enumerate(net):
                if (dest, mid) == prev:
                    continue  # a duplicate in flight: delivering either copy is the same
                prev = (dest, mid)
                nsid = self.deliver(dest, sids[dest], mid)
                nsids = (*sids[:dest], nsid, *sids[dest + 1 :])
                succ.append((nsids, pos, net[:i] + net[i + 1 :], dups, emitted))
                if dups:
                    succ.append((nsids, pos, net, dups - 1, emitted))
            if not net and all(pos[r] == len(scripts[r]) for r in range(n)):
                self.stats.quiescent += 1
                views = [self._views[s] for s in sids]
                if any(v != views[0] for v in views[1:]):
                    raise InvariantError(
                        f"{self.sc.name}: replicas differ at quiescence: "
                        + "; ".join(f"{REPLICAS[i]} {v[0]} {v[1]}" for i, v in enumerate(views))
                    )
            for s in succ:
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
            if limit is not None and len(seen) > limit:
                raise InvariantError(f"{self.sc.name}: more than {limit} states")
        self.stats.states = len(seen)
        self.stats.replica_states = len(self._snaps)
        return len(seen)


def run(
    full: bool,
    dup_budget: int | None = None,
    out: Any = None,
    doc_class: type[Document] = Document,
    only: Sequence[str] = (),
) -> Stats:
    """Check every scenario (or those named in ``only``); return the totals.

    Raises InvariantError on a violation.
    """
    total = Stats()
    t0 = time.perf_counter()
    for sc in scenarios(full):
        if only and sc.name not in only:
            continue
        t = time.perf_counter()
        checker = Checker(sc, sc.dups if dup_budget is None else dup_budget, doc_class)
        n = checker.run()
        s = checker.stats
        total.states += n
        total.quiescent += s.quiescent
        total.replica_states += s.replica_states
        total.transitions += s.transitions
        total.checks += s.checks
        total.per_scenario[sc.name] = n
        if out is not None:
            print(
                f"  {sc.name:<16} {n:>10,} states  {s.quiescent:>7,} quiescent  "
                f"{s.replica_states:>6,} replica states  {s.checks:>7,} invariant checks  "
                f"{time.perf_counter() - t:6.1f} s",
                file=out,
                flush=True,
            )
    total.seconds = time.perf_counter() - t0
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full bound (> 118,711 states)")
    parser.add_argument(
        "--dups",
        type=int,
        default=None,
        help="duplicate deliveries allowed (default: per scenario)",
    )
    parser.add_argument("--only", nargs="*", default=(), help="scenario names to run")
    args = parser.parse_args(argv)
    bound = "full" if args.full else "small"
    print(f"model checking the real core, {bound} bound, 3 replicas", flush=True)
    try:
        stats = run(args.full, args.dups, out=sys.stdout, only=args.only)
    except InvariantError as exc:
        print(f"INVARIANT VIOLATED: {exc}", flush=True)
        return 1
    print(
        f"distinct states explored: {stats.states:,} "
        f"({stats.quiescent:,} quiescent, all converged; {stats.replica_states:,} distinct "
        f"replica states) in {stats.seconds:.1f} s",
        flush=True,
    )
    if args.full and stats.states <= TLA_STATES:
        print(f"the full bound must explore more than {TLA_STATES:,} states", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
