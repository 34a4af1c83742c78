"""The document: a JSON-like map of named fields and containers that replicas merge.

Theory of operation
-------------------
Every edit becomes an *operation* numbered by its client: ``(client, seq)``, seq 1, 2, 3...
A replica holds a gap-free prefix of each client's operations, so its version is one number
per client (a :class:`~synckit.core.VersionVector`).

Operations travel in *changes*: gap-free runs of one client's operations together with
operations of other clients the author had seen first (its causal dependencies). A change is
applied only once everything it depends on is here; until then it waits in ``_pending``.
Applying is checked in full before anything is touched, so bad bytes change nothing.

Which operations depend on what is remembered as *checkpoints*: for each client, the seqs at
which its dependencies changed, each with the new ones. ``changes(since)`` cuts a client's
operations at checkpoints so every change it sends carries the right dependencies.

Dependencies are *minimal*, not the author's whole version (which grows with every client
that ever wrote the document, and once cost a document that much per edit, in memory, in
snapshots and on the wire). A local operation depends on:

* the document's *heads* other than its own client -- the operations no other held operation
  depends on (``_heads``: the clients whose latest operation is one) -- when changes arrived
  since its previous operation (``_deps_stale``). Everything the replica holds is one of them
  or something they depend on, so a receiver that holds them holds all the author had seen:
  causal delivery is kept. Its own earlier operations cover the rest, so an operation after a
  local one depends on no other heads;
* every item of another client it refers to (a text origin or delete target, a list item, a
  set tag, a map epoch, the steps to a nested container), when the dependencies in force do
  not already name it (:meth:`Document._cover`). A receiver then checks references against
  the dependencies directly, as before, and a snapshot loader likewise.

A checkpoint thus holds the few clients that wrote concurrently and the few items referred to,
however many clients the document has seen. Whole versions (what earlier code wrote) remain
valid dependencies and load unchanged.

Field writes carry a hybrid logical clock (HLC): wall milliseconds shifted left 16 bits, plus
a counter in the low bits, never behind any clock this replica has seen. Because a change is
applied only after its dependencies, a write that has seen another always carries a larger
clock, and wins even if its writer's wall clock is far behind. Ties break on client id.

Non-text operations are kept in a per-client log (for ``changes``); text containers keep
their own run-length encoded history (:mod:`synckit.core._text`).

Where each job is
-----------------
This module holds the document's state, its client table, local field edits, views and
subscribers, and :meth:`Document._apply_op`, which applies a received or loaded operation
(other than a text edit) to the state. The document's other jobs have a module each,
whose functions take the document and work on its state as its methods would:

==================  ====================================================================
``_changes.py``     what ``changes(since)`` sends: operations cut at checkpoints
``_remote.py``      ``apply`` and ``merge``: plan, check and integrate remote changes
``_snapshot.py``    ``save`` and ``load``
``_compact.py``     ``compact``: a document kept as its snapshot bytes until next used
==================  ====================================================================

Each container's handle sits beside its state: ``_counter.py``, ``_orset.py``,
``_list.py``, ``_text/_handle.py`` (the text's state is :mod:`synckit.core._text`). Handles
use only the document's small internal interface, :class:`~synckit.core._host.Host`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import compress
from secrets import token_hex
from types import MappingProxyType
from typing import Any

from synckit.core import _changes, _remote, _snapshot
from synckit.core import _ops as K
from synckit.core._change import Change
from synckit.core._counter import Counter
from synckit.core._events import (
    _NO_EDITS,
    _NO_PATH_EDITS,
    ChangeEvent,
    Subscriber,
    TextEdit,
    Unsubscribe,
    WithoutTextEdits,
)
from synckit.core._host import (
    COUNTER,
    DELETED,
    EMPTY,
    FIELD,
    LIST,
    MAP,
    NO_DEPS,
    NONE,
    SET,
    TEXT,
)
from synckit.core._ids import ContainerId, ItemId, root_of
from synckit.core._list import List, ListState
from synckit.core._map import Child, Map, MapState
from synckit.core._ops import REF_KINDS, Op, op_refs, path_refs
from synckit.core._orset import ORSet, ORSetState
from synckit.core._text import TextState
from synckit.core._text._handle import Text
from synckit.core._values import JSONInput, JSONValue, check_text, clone_json, copy_json
from synckit.core._version import VersionVector
from synckit.errors import InvalidTypeError

__all__ = ["Counter", "Document", "List", "Map", "ORSet", "Text"]

#: A clock returns wall time in milliseconds since the Unix epoch.
Clock = Callable[[], int]

_HLC_SHIFT = 16
# Clocks are below this (the decoder refuses larger ones).
_MAX_HLC = 2**62
_NO_PATHS: frozenset[tuple[str | int, ...]] = frozenset()

# Field names repeat across documents; one copy of each saves memory with many documents.
_intern = sys.intern


def wall_clock_ms() -> int:
    """The default clock: the system's wall time in milliseconds."""
    return time.time_ns() // 1_000_000


class Document:
    """A replicated JSON-like document of named top-level fields and containers.

    Args:
        client_id: this replica's id (non-empty str); a random one when None. Two replicas
            must never edit under the same id unless one continues the other's saved state.
        clock: returns wall time in milliseconds; defaults to the system clock. Tests pass
            their own to make everything deterministic.

    Fields are last-writer-wins registers of JSON values (see :meth:`set`). Containers are
    taken with :meth:`get_counter`, :meth:`get_set`, :meth:`get_list` and :meth:`get_text`;
    a name belongs to one kind of field or container on a replica.
    """

    __slots__ = (
        "_awaited",
        "_checkpoints",
        "_client_id",
        "_client_index",
        "_clients",
        "_clock",
        "_counters",
        "_deps_stale",
        "_field_top",
        "_fields",
        "_foreign_refs",
        "_heads",
        "_hlc",
        "_list_runs",
        "_lists",
        "_log",
        "_maps",
        "_me",
        "_packed",
        "_pending",
        "_sets",
        "_subscribers",
        "_texts",
        "_version_memo",
        "_version_stale",
        "_vv",
    )

    def __init__(self, client_id: str | None = None, *, clock: Clock | None = None) -> None:
        if client_id is None:
            client_id = token_hex(8)
        elif not isinstance(client_id, str) or not client_id:
            raise InvalidTypeError(f"client_id must be a non-empty str, got {client_id!r}")
        if clock is not None and not callable(clock):
            raise InvalidTypeError("clock must be a callable returning milliseconds")
        self._clock: Clock = clock or wall_clock_ms
        self._client_id = client_id
        self._clients: list[str] = []
        self._client_index: dict[str, int] = {}
        self._vv: list[int] = []
        # What version() last returned, and the clients whose entry of _vv rose since (every
        # place that raises an entry adds its client): a server asks for the version around
        # every push, and a push raises one entry or a few of a document's many.
        self._version_memo: VersionVector | None = None
        self._version_stale: set[int] = set()
        # Per client, its operations other than field writes and text edits, in seq order.
        # Field writes live only in _fields: a write that lost is never needed again, and
        # changes() covers its seq with a SKIP operation. A client that logged nothing has the
        # shared empty NONE, not a list of its own: most clients of a document only write
        # fields, and a process holding many documents would otherwise keep a list per
        # document and client for the garbage collector to walk.
        self._log: list[list[Op]] = []
        self._checkpoints: list[list[tuple[int, dict[int, int]]]] = []
        self._hlc = 0
        # field name -> (hlc, writer client index, seq, value or DELETED), kept in the order
        # the entries were written: a write moves its field to the end. One client's entries
        # are then in seq order, so changes() finds those after a seq from the end.
        self._fields: dict[str, tuple[int, int, int, Any]] = {}
        # Per client, the highest seq of a field write it made (0: none), so changes()
        # looks through the fields only when they may hold something to send.
        self._field_top: list[int] = []
        # Containers, waiting changes and subscribers start as shared read-only empties
        # (many documents never have any) and get their own dict or list on first write.
        # Keyed by container id: a top-level container's name, or a nested one's tuple.
        self._counters: dict[ContainerId, int] = EMPTY
        self._sets: dict[ContainerId, ORSetState] = EMPTY
        self._lists: dict[ContainerId, ListState] = EMPTY
        self._texts: dict[ContainerId, TextState] = EMPTY
        self._maps: dict[ContainerId, MapState] = EMPTY
        self._pending: list[Change] = NONE
        # What the waiting changes wait for, per client (see _remote.Awaited); None until
        # first needed, and stale once _pending is another list.
        self._awaited: _remote.Awaited | None = None
        self._subscribers: list[Subscriber] = NONE
        self._deps_stale = True
        # The clients whose latest operation no other held operation depends on (see the
        # module docstring); None until first needed (after a load: from the checkpoints).
        self._heads: set[int] | None = None
        # The snapshot a compacted document is kept as (see compact()); None while live.
        self._packed: bytes | None = None
        # While compacted: each list's run state (local only, not in snapshots), by name.
        self._list_runs: dict[ContainerId, tuple[str, int, int]] | None = None
        # Per nested container edited here: the items of other clients its path names,
        # which every local operation in it must depend on (see _record); None until used.
        self._foreign_refs: dict[ContainerId, tuple[ItemId, ...]] | None = None
        self._me = self._intern(client_id)

    # ------------------------------------------------------------------ identity & clients

    @property
    def client_id(self) -> str:
        """This replica's client id."""
        return self._client_id

    def _intern(self, client_id: str) -> int:
        idx = self._client_index.get(client_id)
        if idx is None:
            idx = self._client_index[client_id] = len(self._clients)
            self._clients.append(client_id)
            self._vv.append(0)
            self._log.append(NONE)  # its own list on its first logged op (see _log)
            self._field_top.append(0)
            self._checkpoints.append([])
        return idx

    def _forget_clients_from(self, n: int) -> None:
        """Undo :meth:`_intern` of every client from index ``n`` on (they hold nothing)."""
        for client_id in self._clients[n:]:
            del self._client_index[client_id]
        for column in (self._clients, self._vv, self._log, self._field_top, self._checkpoints):
            del column[n:]

    # ------------------------------------------------------------------ local edits: plumbing

    def _tick(self) -> int:
        """The next hybrid logical clock value for a local write."""
        hlc = self._hlc + 1
        now = self._clock() << _HLC_SHIFT
        if now > hlc:  # noqa: PLR1730 - comparisons, not max and min: this runs per local write
            hlc = now
        # Never past the largest clock the format carries: a write received with that clock
        # must not make every later local write undecodable (ties go to the larger client id).
        if hlc >= _MAX_HLC:
            hlc = _MAX_HLC - 1
        self._hlc = hlc
        return hlc

    def _next_seq(self) -> int:
        """Reserve the checkpoint for the next local operation and return its seq."""
        me = self._me
        seq = self._vv[me] + 1
        if self._deps_stale:
            self._deps_stale = False
            vv = self._vv
            heads = self._heads
            if heads is None:
                heads = self._heads = _heads_of(self)
            # (In client order: the bytes must not depend on a set's order.)
            deps = {c: vv[c] for c in sorted(heads) if c != me} or NO_DEPS
            # After this operation every other head is one it depends on.
            heads.clear()
            heads.add(me)
            cps = self._checkpoints[me]
            # No new heads: the operation depends on its own previous one, which covers
            # all the dependencies in force (and no checkpoint means none).
            if deps and (not cps or cps[-1][1] != deps):
                cps.append((seq, deps))
        return seq

    def _cover(self, seq: int, refs: Iterable[ItemId]) -> None:
        """Make the dependencies of local operation ``seq`` (reserved by :meth:`_next_seq`)
        name every item of another client in ``refs``, the items the operation refers to.

        When one is missing, they are added to the operation's checkpoint if it starts one,
        else a checkpoint starts at ``seq`` holding all of them (its own earlier operations
        cover the dependencies before it, but a receiver checks references against the
        checkpoint alone).
        """
        me = self._me
        cps = self._checkpoints[me]
        deps = cps[-1][1] if cps else NO_DEPS
        need: dict[int, int] | None = None
        missing = False
        for c, s in refs:
            if c != me:
                if deps.get(c, 0) < s:
                    missing = True
                if need is None:
                    need = {c: s}
                elif need.get(c, 0) < s:
                    need[c] = s
        if not missing or need is None:
            return
        if cps and cps[-1][0] == seq:
            merged = dict(deps)
            for c, s in need.items():
                if merged.get(c, 0) < s:
                    merged[c] = s
            cps[-1] = (seq, merged)
        else:
            cps.append((seq, need))

    def _record(self, op: Op) -> None:
        """Record a local counter, set or list operation its handle has just made: log it
        for :meth:`changes`, make its dependencies name the items it refers to
        (:meth:`_cover`), advance the version and tell subscribers."""
        me = self._me
        cid = op[2]
        if op[0] in REF_KINDS:
            self._cover(op[1], op_refs(op))
        elif type(cid) is tuple:
            # Only the path refers to items here, the same ones at every operation in this
            # container: found once, and nothing to cover when all of them are ours.
            known = self._foreign_refs
            if known is None:
                known = self._foreign_refs = {}
            foreign = known.get(cid)
            if foreign is None:
                foreign = known[cid] = tuple(r for r in path_refs(cid, []) if r[0] != me)
            if foreign:
                self._cover(op[1], foreign)
        self._vv[me] = op[1]
        self._version_stale.add(me)
        log = self._log[me]
        if log is NONE:
            log = self._log[me] = []
        log.append(op)
        if self._subscribers:
            self._emit(True, (op[2],))

    def _emit(
        self,
        local: bool,
        names: Iterable[ContainerId],
        text_edits: dict[ContainerId, tuple[TextEdit, ...]] | None = None,
    ) -> None:
        if self._subscribers:
            top = set(names)
            nested = {n for n in top if type(n) is tuple}
            paths: frozenset[tuple[str | int, ...]] = _NO_PATHS
            if nested:
                from synckit.core._views import path_of

                top -= nested
                found = [path_of(self, n) for n in nested]
                paths = frozenset(p for p in found if p is not None)
                top.update(root_of(n) for n in nested)
            top_names: frozenset[str] = frozenset(top)  # type: ignore[arg-type]
            if text_edits:  # (always a fresh dict of the caller's: no copy needed)
                flat, by_path = _split_edits(self, text_edits) if nested else (text_edits, {})
                event = ChangeEvent(
                    local,
                    top_names,
                    MappingProxyType(flat),  # type: ignore[arg-type]
                    paths,
                    MappingProxyType(by_path) if by_path else _NO_PATH_EDITS,
                )
            else:  # (every field given: defaults built by factories cost a call each)
                event = ChangeEvent(local, top_names, _NO_EDITS, paths, _NO_PATH_EDITS)
            for callback in tuple(self._subscribers):
                callback(event)

    def _check_kind(self, name: object, kind: str) -> ContainerId:
        if type(name) is tuple:
            return name  # a nested container: its handle came from its parent
        if not isinstance(name, str):
            raise InvalidTypeError(f"{kind} names must be str, got {type(name).__name__}")
        check_text(name, f"{kind} name")
        for other, table in (
            (FIELD, self._fields),
            (COUNTER, self._counters),
            (SET, self._sets),
            (LIST, self._lists),
            (TEXT, self._texts),
            (MAP, self._maps),
        ):
            if other != kind and name in table:
                if other == FIELD and self._fields[name][3] is DELETED:
                    continue  # a deleted field no longer claims its name
                raise InvalidTypeError(f"{name!r} is a {other} in this document, not a {kind}")
        return name

    # ------------------------------------------------------------------ LWW fields

    def set(self, field: str, value: JSONInput) -> None:
        """Set top-level ``field`` to a JSON value, replacing the old value whole.

        Raises:
            TypeError: ``value`` is not a JSON value (nothing changes), or ``field`` is not a
                str or names a container.
        """
        value = copy_json(value, f"value of {field!r}")
        if field not in self._fields:
            self._check_kind(field, FIELD)
            field = _intern(field)
        seq = self._next_seq()
        self._write_own_field(field, self._tick(), seq, value)
        if self._subscribers:
            self._emit(True, (field,))

    def _write_own_field(self, field: str, hlc: int, seq: int, value: Any) -> None:
        """Record a local write (or, with ``DELETED``, a delete) of ``field`` at ``seq``.

        A local write wins: its clock is above every clock this replica has seen, except at
        the largest clock the format carries, where the larger client id wins as everywhere
        (the write then loses here too, and its seq is sent as a SKIP).
        """
        fields = self._fields
        me = self._me
        self._vv[me] = self._field_top[me] = seq
        self._version_stale.add(me)
        current = fields.get(field)
        if (
            current is not None
            and current[0] >= hlc
            and (current[0], self._clients[current[1]]) > (hlc, self._clients[me])
        ):
            return
        if current is not None:
            del fields[field]  # re-inserted last: see _fields
        fields[field] = (hlc, me, seq, value)

    def get(self, field: str, default: JSONValue = None) -> JSONValue:
        """The value of ``field``, or ``default`` when it is unset or deleted.

        Lists and dicts are returned as copies; changing them does not change the document.
        """
        entry = self._fields.get(field)
        if entry is None or entry[3] is DELETED:
            return default
        value = entry[3]
        return clone_json(value) if type(value) in (list, dict) else value

    def delete(self, field: str) -> None:
        """Delete ``field`` (a tombstone that wins or loses like any write).

        Deleting a field that is not set still records the delete, so it also removes a
        concurrent write that loses to it.
        """
        self._check_kind(field, FIELD)
        seq = self._next_seq()
        self._write_own_field(_intern(field), self._tick(), seq, DELETED)
        self._emit(True, (field,))

    def update(self, mapping: Mapping[str, JSONInput]) -> None:
        """Set several fields. Every value is checked first: a bad one changes nothing."""
        if not isinstance(mapping, Mapping):
            raise InvalidTypeError(f"update takes a mapping, got {type(mapping).__name__}")
        items = []
        for field, value in mapping.items():
            if field not in self._fields:
                self._check_kind(field, FIELD)
            items.append((_intern(field), copy_json(value, f"value of {field!r}")))
        # One clock value serves the whole batch: it names each field once, so no two of
        # its writes ever compete, and the next write anywhere still gets a later clock.
        hlc = self._tick() if items else 0
        for field, value in items:
            self._write_own_field(field, hlc, self._next_seq(), value)
        if items:
            self._emit(True, [f for f, _ in items])

    # ------------------------------------------------------------------ containers

    def get_counter(self, name: str) -> Counter:
        """A handle on the PN-counter ``name`` (taking it changes nothing)."""
        return Counter(self, self._check_kind(name, COUNTER))

    def get_set(self, name: str) -> ORSet:
        """A handle on the add-wins set ``name`` (taking it changes nothing)."""
        return ORSet(self, self._check_kind(name, SET))

    def get_list(self, name: str) -> List:
        """A handle on the ordered list ``name`` (taking it changes nothing)."""
        return List(self, self._check_kind(name, LIST))

    def get_text(self, name: str) -> Text:
        """A handle on the collaborative text ``name`` (taking it changes nothing)."""
        return Text(self, self._check_kind(name, TEXT))

    def get_map(self, name: str) -> Map:
        """A handle on the map ``name``, whose keys merge one by one and may hold nested
        containers (taking it changes nothing). See :class:`~synckit.Map`."""
        return Map(self, self._check_kind(name, MAP))

    # ------------------------------------------------------------------ views

    def to_json(self) -> dict[str, JSONValue]:
        """The plain JSON view: fields, and counters/sets/lists/texts as int/list/list/str.

        Containers appear once something has been written to them. If concurrent replicas
        used one name for different kinds, the view shows text over list over set over
        counter over field; each value stays reachable through its own accessor.
        """
        out: dict[str, JSONValue] = {}
        for name, (_, _, _, value) in self._fields.items():
            if value is not DELETED:
                out[name] = clone_json(value)
        for cname, total in self._counters.items():
            if type(cname) is str:
                out[cname] = total
        for cname, members in self._sets.items():
            if type(cname) is str:
                out[cname] = list(members)
        from synckit.core._views import render_list, render_map

        for cname in self._maps:
            if type(cname) is str:
                out[cname] = render_map(self, cname)
        for cname in self._lists:
            if type(cname) is str:
                out[cname] = render_list(self, cname)
        for cname, text in self._texts.items():
            if type(cname) is str:
                out[cname] = str(text)
        return out

    def text_length(self) -> int:
        """Characters (code points) in all of the document's texts, nested ones included:
        the part of it a snapshot stores DEFLATE-compressed, so that a store can count the
        document at its decoded size. Reads one counter per text; decodes nothing."""
        return sum(len(text) for text in self._texts.values())

    def decode_deferred(self) -> int:
        """Decode now what loading deferred to first use, and return how many texts that
        was.

        Loading a snapshot whose tag verified (see :class:`SnapshotKey`) leaves each text's
        history encoded: reading the text needs none of it, and the first edit, merge or
        position lookup decodes it (about 35 ms per megabyte of text). A program that loads
        a large document off its event loop and then edits it on the loop calls this off
        the loop too, so that the loop does not pay for the decoding (the server does).
        """
        count = 0
        for text in self._texts.values():
            if text._lazy is not None:
                text._decode_now()
                count += 1
        return count

    def subscribe(self, callback: Subscriber, *, text_edits: bool = True) -> Unsubscribe:
        """Call ``callback(event)`` after every local or remote change.

        Returns a function that unsubscribes. Exceptions raised by a callback propagate to
        the caller of the edit or ``apply`` (the change itself is already complete).

        ``text_edits=False`` says the callback does not read ``event.text_edits``: while no
        subscriber wants them, remote changes are applied without recording them (about
        6% less work per remote keystroke), and events of remote changes carry none.
        """
        if not callable(callback):
            raise InvalidTypeError("subscribe takes a callable")
        entry: Subscriber = callback if text_edits else WithoutTextEdits(callback)
        self._subscribers = [*self._subscribers, entry]

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers = [s for s in self._subscribers if s is not entry]

        return unsubscribe

    # ------------------------------------------------------------------ versions & changes

    def version(self) -> VersionVector:
        """The version of this replica: for each client, the highest seq it holds."""
        memo = self._version_memo
        stale = self._version_stale
        if memo is not None and not stale:
            return memo  # (immutable: one serves every caller until _vv changes)
        clients = self._clients
        vv = self._vv
        if memo is None or len(stale) * 8 > len(clients):
            # Pairs of the clients with a seq, kept in client order, built at C speed.
            memo = VersionVector._trusted(dict(compress(zip(clients, vv, strict=True), vv)))
        else:
            # The last one with the few entries that rose since: a copy at C speed. (A
            # client's first entry goes last, where its index puts it in client order.)
            rose = {clients[c]: vv[c] for c in sorted(stale)}
            memo = VersionVector._trusted({**memo._seqs, **rose})
        stale.clear()
        self._version_memo = memo
        return memo

    @property
    def waiting(self) -> int:
        """How many received changes wait for causal predecessors this replica lacks.

        They are applied as soon as those arrive, and :meth:`save` keeps them meanwhile.
        """
        return len(self._pending)

    #: Exactly the operations a replica at version ``since`` lacks: see
    #: :mod:`synckit.core._changes`. (Module functions serve as methods here and below, with
    #: no wrapper in between: these paths are hot.)
    changes = _changes.changes

    # ------------------------------------------------------------------ other replicas

    #: Apply changes from any replica: see :mod:`synckit.core._remote`.
    apply = _remote.apply

    def trim_history(self) -> int:
        """Forget the causal dependencies of operations this document no longer holds;
        returns how many dependency records went.

        A field write that a later write overwrote is gone (``changes`` and :meth:`save`
        send its seq as a skipped one), but what it depended on is remembered, one record
        per change that brought new dependencies: under writers that keep overwriting the
        same fields, a record per change received, for the document's whole life, in memory,
        in snapshots and in every fresh replica's first sync. Trimming drops the records that
        only such gone operations used (see :mod:`synckit.core._spent`); what the document
        shows, and what every other replica ends with, is unchanged.

        Costs a pass over the fields, the logged operations and the text history of the
        clients concerned; the server trims each document it snapshots. Does nothing to a
        compacted document (it stays compacted).
        """
        if self._packed is not None:
            return 0
        from synckit.core._spent import drop_spent

        return drop_spent(self)

    def merge(self, other: Document) -> None:
        """Pull in everything ``other`` holds that this document lacks."""
        if not isinstance(other, Document):
            raise InvalidTypeError(f"merge takes a Document, got {type(other).__name__}")
        _remote.merge(self, other)

    # ------------------------------------------------------------------ the state

    def _apply_op(self, c: int, writer: str, op: Op) -> None:
        """Apply one non-text operation to the state (not the log)."""
        kind = op[0]
        if kind in (K.FIELD_SET, K.FIELD_DELETE):
            name, hlc = op[2], op[3]
            self._hlc = max(self._hlc, hlc)
            self._field_top[c] = max(self._field_top[c], op[1])
            cur = self._fields.get(name)
            if cur is None or (hlc, writer) > (cur[0], self._clients[cur[1]]):
                value = op[4] if kind == K.FIELD_SET else DELETED
                self._fields.pop(name, None)
                self._fields[_intern(name)] = (hlc, c, op[1], value)
        elif kind == K.COUNTER_ADD:
            self._counter_add(op[2], op[3])
        elif kind == K.SET_ADD:
            self._set_state(op[2]).add(op[3], (c, op[1]))
        elif kind == K.SET_REMOVE:
            self._set_state(op[2]).remove(op[3], op[4])
        elif kind == K.LIST_INSERT:
            self._hlc = max(self._hlc, op[3])
            self._list_state(op[2]).insert((c, op[1]), writer, op[4], op[5], op[3])
        elif kind == K.LIST_MOVE:
            self._hlc = max(self._hlc, op[4])
            self._lists[op[2]].move(op[3], op[5], op[4], writer)
        elif kind == K.LIST_DELETE:
            self._lists[op[2]].delete(op[3])
        elif kind == K.MAP_SET:
            self._hlc = max(self._hlc, op[4])
            self._map_state(op[2]).write(op[3], op[4], writer, c, op[1], op[5])
        elif kind == K.MAP_DELETE:
            self._hlc = max(self._hlc, op[4])
            self._map_state(op[2]).write(op[3], op[4], writer, c, op[1], DELETED)
        elif kind == K.MAP_CREATE:
            self._hlc = max(self._hlc, op[4])
            self._map_state(op[2]).write(op[3], op[4], writer, c, op[1], Child(op[5], op[6]))
        elif kind == K.LIST_CREATE:
            self._hlc = max(self._hlc, op[3])
            self._list_state(op[2]).insert((c, op[1]), writer, Child(op[4]), op[5], op[3])

    def _map_state(self, name: ContainerId) -> MapState:
        state = self._maps.get(name)
        if state is None:
            if self._maps is EMPTY:
                self._maps = {}
            state = self._maps[name] = MapState()
        return state

    def _counter_add(self, name: ContainerId, delta: int) -> None:
        if self._counters is EMPTY:
            self._counters = {}
        self._counters[name] = self._counters.get(name, 0) + delta

    def _set_state(self, name: ContainerId) -> ORSetState:
        state = self._sets.get(name)
        if state is None:
            if self._sets is EMPTY:
                self._sets = {}
            state = self._sets[name] = ORSetState()
        return state

    def _list_state(self, name: ContainerId) -> ListState:
        state = self._lists.get(name)
        if state is None:
            if self._lists is EMPTY:
                self._lists = {}
            state = self._lists[name] = ListState()
        return state

    def _text_state(self, name: ContainerId) -> TextState:
        state = self._texts.get(name)
        if state is None:
            if self._texts is EMPTY:
                self._texts = {}
            state = self._texts[name] = TextState(self._clients)
        return state

    # ------------------------------------------------------------------ snapshots

    #: A snapshot of everything this replica holds: see :mod:`synckit.core._snapshot`.
    save = _snapshot.save
    #: Rebuild a document from :meth:`save` bytes: see :mod:`synckit.core._snapshot`.
    load = classmethod(_snapshot.load)

    def compact(self) -> None:
        """Keep this document as its snapshot bytes until it is used again, to save memory.

        A compacted document drops its decoded state and holds only what :meth:`save`
        returns (a few hundred bytes in all for a document of ten small fields, against about
        2.6 KB live). The next use of the document in any way -- reading, writing, syncing,
        taking or using a handle -- decodes it again in place, so handles, subscribers,
        the client id and the clock all carry on; :meth:`save` of a compacted document
        returns the kept bytes without decoding. Compacting costs one :meth:`save` and the
        next use one :meth:`load` (tens of microseconds for a small document), so compact
        documents an application keeps around but is not using, not ones it edits.

        Compacting an instance of a subclass of ``Document`` does nothing (its layout may
        differ), nor does compacting a compacted document.
        """
        from synckit.core._compact import compact  # here: it subclasses Document

        compact(self)

    @property
    def compacted(self) -> bool:
        """True while this document is kept as snapshot bytes (see :meth:`compact`)."""
        return self._packed is not None


def _heads_of(doc: Document) -> set[int]:
    """The clients whose latest operation no other held operation depends on, found from
    the checkpoints (after a load). Direct dependencies suffice: the first operation to
    depend on another's latest one names it (its own earlier ones did not depend on it)."""
    vv = doc._vv
    heads = {c for c, s in enumerate(vv) if s}
    for c, cps in enumerate(doc._checkpoints):
        top = vv[c]
        for start, deps in cps:
            if start > top:
                break  # reserved for an operation never made
            for d, s in deps.items():
                if s >= vv[d]:
                    heads.discard(d)
    return heads


def _split_edits(
    doc: Document, edits: dict[ContainerId, tuple[TextEdit, ...]]
) -> tuple[dict[str, tuple[TextEdit, ...]], dict[tuple[str | int, ...], tuple[TextEdit, ...]]]:
    """Text edits split into those of top-level texts, by name, and those of nested texts,
    by path (a nested text that is not shown, being inside a deleted container, is left
    out)."""
    from synckit.core._views import path_of

    flat: dict[str, tuple[TextEdit, ...]] = {}
    by_path: dict[tuple[str | int, ...], tuple[TextEdit, ...]] = {}
    for name, value in edits.items():
        if type(name) is tuple:
            path = path_of(doc, name)
            if path is not None:
                by_path[path] = value
        else:
            flat[name] = value  # type: ignore[index]
    return flat, by_path
