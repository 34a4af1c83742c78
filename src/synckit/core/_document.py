"""The document: a JSON-like map of named fields and containers that replicas merge.

Theory of operation
-------------------
Every edit becomes an *operation* numbered by its client: ``(client, seq)``, seq 1, 2, 3...
A replica holds a gap-free prefix of each client's operations, so its version is one number
per client (a :class:`~synckit.core.VersionVector`).

Operations travel in *changes*: gap-free runs of one client's operations together with the
versions of other clients the author had seen first (its causal dependencies). A change is
applied only once everything it depends on is here; until then it waits in ``_pending``.
Applying is checked in full before anything is touched, so bad bytes change nothing.

Which operations depend on what is remembered as *checkpoints*: for each client, the seqs at
which its author's view of others changed, each with that view. ``changes(since)`` cuts a
client's operations at checkpoints so every change it sends carries the right dependencies.

Field writes carry a hybrid logical clock (HLC): wall milliseconds shifted left 16 bits, plus
a counter in the low bits, never behind any clock this replica has seen. Because a change is
applied only after its dependencies, a write that has seen another always carries a larger
clock, and wins even if its writer's wall clock is far behind. Ties break on client id.

Non-text operations are kept in a per-client log (for ``changes``); text containers keep
their own run-length encoded history (:mod:`synckit.core._text`).
"""

from __future__ import annotations

import builtins
import sys
import time
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import accumulate, chain, islice, starmap
from operator import ge, itemgetter
from secrets import token_hex
from types import MappingProxyType
from typing import Any, cast

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.core import _ops as K
from synckit.core._codec import (
    FORMAT,
    Change,
    ChangeSetWriter,
    check_client_table,
    decode_changes,
    parse_change_set,
)
from synckit.core._cursor import Bind, Cursor
from synckit.core._events import ChangeEvent, Subscriber, TextEdit, Unsubscribe
from synckit.core._fractional import key_between, operation_suffix
from synckit.core._ids import ItemId
from synckit.core._list import ListState
from synckit.core._ops import Op, op_width
from synckit.core._orset import ORSetState
from synckit.core._text import History as TextHistory
from synckit.core._text import TextState
from synckit.core._values import (
    JSONInput,
    JSONScalar,
    JSONValue,
    check_scalar,
    check_text,
    copy_json,
)
from synckit.core._version import VersionVector
from synckit.errors import DecodeError, UnsupportedFormatError
from synckit.v1 import changes_pb2

__all__ = ["Counter", "Document", "List", "ORSet", "Text"]

#: A clock returns wall time in milliseconds since the Unix epoch.
Clock = Callable[[], int]

_HLC_SHIFT = 16
#: The value of a deleted field (a tombstone).
_DELETED: Any = object()
#: Texts at least this long are saved DEFLATE-compressed (TextState.content_deflate).
_DEFLATE_FROM = 256
_DEFLATE_LEVEL = 6
#: Protobuf tag of Snapshot.checksum (field 11, fixed32), always the last 5 bytes but 4.
_CHECKSUM_TAG = bytes([11 << 3 | 5])
#: Shared empty containers of documents that have none (read-only, so never mutated).
_EMPTY: Any = MappingProxyType({})
_NONE: Any = ()
#: Shared by every checkpoint without dependencies (never mutated).
_NO_DEPS: dict[int, int] = {}

# Kind names, for error messages and for the order in which a name used by several kinds
# concurrently is shown by to_json (later wins).
_FIELD, _COUNTER, _SET, _LIST, _TEXT = "field", "counter", "set", "list", "text"


# Field names repeat across documents; one copy of each saves memory with many documents.
_intern = sys.intern


def wall_clock_ms() -> int:
    """The default clock: the system's wall time in milliseconds."""
    return time.time_ns() // 1_000_000


def _clone(value: JSONValue) -> JSONValue:
    if type(value) is dict:
        return {k: _clone(v) for k, v in value.items()}
    if type(value) is list:
        return [_clone(v) for v in value]
    return value


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
        "_checkpoints",
        "_client_id",
        "_client_index",
        "_clients",
        "_clock",
        "_counters",
        "_deps_stale",
        "_field_top",
        "_fields",
        "_hlc",
        "_lists",
        "_log",
        "_me",
        "_packed",
        "_pending",
        "_sets",
        "_subscribers",
        "_texts",
        "_vv",
    )

    def __init__(self, client_id: str | None = None, *, clock: Clock | None = None) -> None:
        if client_id is None:
            client_id = token_hex(8)
        elif not isinstance(client_id, str) or not client_id:
            raise TypeError(f"client_id must be a non-empty str, got {client_id!r}")
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning milliseconds")
        self._clock: Clock = clock or wall_clock_ms
        self._client_id = client_id
        self._clients: list[str] = []
        self._client_index: dict[str, int] = {}
        self._vv: list[int] = []
        # Per client, its operations other than field writes and text edits, in seq order.
        # Field writes live only in _fields: a write that lost is never needed again, and
        # changes() covers its seq with a SKIP operation.
        self._log: list[list[Op]] = []
        self._checkpoints: list[list[tuple[int, dict[int, int]]]] = []
        self._hlc = 0
        # field name -> (hlc, writer client index, seq, value or _DELETED), kept in the order
        # the entries were written: a write moves its field to the end. One client's entries
        # are then in seq order, so changes() finds those after a seq from the end.
        self._fields: dict[str, tuple[int, int, int, Any]] = {}
        # Per client, the highest seq of a field write it made (0: none), so changes()
        # looks through the fields only when they may hold something to send.
        self._field_top: list[int] = []
        # Containers, waiting changes and subscribers start as shared read-only empties
        # (many documents never have any) and get their own dict or list on first write.
        self._counters: dict[str, int] = _EMPTY
        self._sets: dict[str, ORSetState] = _EMPTY
        self._lists: dict[str, ListState] = _EMPTY
        self._texts: dict[str, TextState] = _EMPTY
        self._pending: list[Change] = _NONE
        self._subscribers: list[Subscriber] = _NONE
        self._deps_stale = True
        # The snapshot a compacted document is kept as (see compact()); None while live.
        self._packed: bytes | None = None
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
            self._log.append([])
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
        hlc = max(hlc, now)
        self._hlc = hlc
        return hlc

    def _next_seq(self) -> int:
        """Reserve the checkpoint for the next local operation and return its seq."""
        me = self._me
        seq = self._vv[me] + 1
        if self._deps_stale:
            self._deps_stale = False
            vv = self._vv
            deps = {c: s for c, s in enumerate(vv) if s and c != me} or _NO_DEPS
            cps = self._checkpoints[me]
            # No checkpoint means no dependencies, so a first one without any is left out.
            if (cps[-1][1] != deps) if cps else deps:
                cps.append((seq, deps))
        return seq

    def _log_local(self, op: Op) -> None:
        me = self._me
        self._vv[me] = op[1]
        self._log[me].append(op)

    def _emit(
        self,
        local: bool,
        names: Iterable[str],
        text_edits: dict[str, tuple[TextEdit, ...]] | None = None,
    ) -> None:
        if self._subscribers:
            if text_edits:  # (always a fresh dict of the caller's: no copy needed)
                event = ChangeEvent(local, frozenset(names), MappingProxyType(text_edits))
            else:
                event = ChangeEvent(local, frozenset(names))
            for callback in tuple(self._subscribers):
                callback(event)

    def _check_kind(self, name: object, kind: str) -> str:
        if not isinstance(name, str):
            raise TypeError(f"{kind} names must be str, got {type(name).__name__}")
        check_text(name, f"{kind} name")
        for other, table in (
            (_FIELD, self._fields),
            (_COUNTER, self._counters),
            (_SET, self._sets),
            (_LIST, self._lists),
            (_TEXT, self._texts),
        ):
            if other != kind and name in table:
                if other == _FIELD and self._fields[name][3] is _DELETED:
                    continue  # a deleted field no longer claims its name
                raise TypeError(f"{name!r} is a {other} in this document, not a {kind}")
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
            self._check_kind(field, _FIELD)
            field = _intern(field)
        seq = self._next_seq()
        self._write_own_field(field, self._tick(), seq, value)
        if self._subscribers:
            self._emit(True, (field,))

    def _write_own_field(self, field: str, hlc: int, seq: int, value: Any) -> None:
        """Record a local write (or, with ``_DELETED``, a delete) of ``field`` at ``seq``.

        A local write always wins: its clock is above every clock this replica has seen.
        """
        fields = self._fields
        if field in fields:
            del fields[field]  # re-inserted last: see _fields
        fields[field] = (hlc, self._me, seq, value)
        self._vv[self._me] = self._field_top[self._me] = seq

    def get(self, field: str, default: JSONValue = None) -> JSONValue:
        """The value of ``field``, or ``default`` when it is unset or deleted.

        Lists and dicts are returned as copies; changing them does not change the document.
        """
        entry = self._fields.get(field)
        if entry is None or entry[3] is _DELETED:
            return default
        value = entry[3]
        return _clone(value) if type(value) in (list, dict) else value

    def delete(self, field: str) -> None:
        """Delete ``field`` (a tombstone that wins or loses like any write).

        Deleting a field that is not set still records the delete, so it also removes a
        concurrent write that loses to it.
        """
        self._check_kind(field, _FIELD)
        seq = self._next_seq()
        self._write_own_field(_intern(field), self._tick(), seq, _DELETED)
        self._emit(True, (field,))

    def update(self, mapping: Mapping[str, JSONInput]) -> None:
        """Set several fields. Every value is checked first: a bad one changes nothing."""
        if not isinstance(mapping, Mapping):
            raise TypeError(f"update takes a mapping, got {type(mapping).__name__}")
        items = []
        for field, value in mapping.items():
            if field not in self._fields:
                self._check_kind(field, _FIELD)
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
        return Counter(self, self._check_kind(name, _COUNTER))

    def get_set(self, name: str) -> ORSet:
        """A handle on the add-wins set ``name`` (taking it changes nothing)."""
        return ORSet(self, self._check_kind(name, _SET))

    def get_list(self, name: str) -> List:
        """A handle on the ordered list ``name`` (taking it changes nothing)."""
        return List(self, self._check_kind(name, _LIST))

    def get_text(self, name: str) -> Text:
        """A handle on the collaborative text ``name`` (taking it changes nothing)."""
        return Text(self, self._check_kind(name, _TEXT))

    def _text_state(self, name: str) -> TextState:
        state = self._texts.get(name)
        if state is None:
            if self._texts is _EMPTY:
                self._texts = {}
            state = self._texts[name] = TextState(self._clients)
        return state

    # ------------------------------------------------------------------ views

    def to_json(self) -> dict[str, JSONValue]:
        """The plain JSON view: fields, and counters/sets/lists/texts as int/list/list/str.

        Containers appear once something has been written to them. If concurrent replicas
        used one name for different kinds, the view shows text over list over set over
        counter over field; each value stays reachable through its own accessor.
        """
        out: dict[str, JSONValue] = {}
        for name, (_, _, _, value) in self._fields.items():
            if value is not _DELETED:
                out[name] = _clone(value)
        for name, total in self._counters.items():
            out[name] = total
        for name, members in self._sets.items():
            out[name] = list(members)
        for name, items in self._lists.items():
            out[name] = _clone(items.values())
        for name, text in self._texts.items():
            out[name] = str(text)
        return out

    def subscribe(self, callback: Subscriber, *, text_edits: bool = True) -> Unsubscribe:
        """Call ``callback(event)`` after every local or remote change.

        Returns a function that unsubscribes. Exceptions raised by a callback propagate to
        the caller of the edit or ``apply`` (the change itself is already complete).

        ``text_edits=False`` says the callback does not read ``event.text_edits``: while no
        subscriber wants them, remote changes are applied without recording them (about
        6% less work per remote keystroke), and events of remote changes carry none.
        """
        if not callable(callback):
            raise TypeError("subscribe takes a callable")
        entry: Subscriber = callback if text_edits else _WithoutTextEdits(callback)
        self._subscribers = [*self._subscribers, entry]

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers = [s for s in self._subscribers if s is not entry]

        return unsubscribe

    # ------------------------------------------------------------------ versions & changes

    def version(self) -> VersionVector:
        """The version of this replica: for each client, the highest seq it holds."""
        clients = self._clients
        return VersionVector._trusted({clients[c]: s for c, s in enumerate(self._vv) if s})

    @property
    def waiting(self) -> int:
        """How many received changes wait for causal predecessors this replica lacks.

        They are applied as soon as those arrive, and :meth:`save` keeps them meanwhile.
        """
        return len(self._pending)

    def changes(self, since: VersionVector | None = None) -> bytes:
        """Exactly the operations a replica at version ``since`` lacks (None: everything).

        The bytes are a protobuf ``synckit.v1.ChangeSet`` for :meth:`apply`.
        """
        if since is not None and not isinstance(since, VersionVector):
            raise TypeError(f"since must be a VersionVector or None, got {type(since).__name__}")
        writer = ChangeSetWriter(self._clients)
        clients = self._clients
        held = since._seqs if since is not None else {}
        for c, have in enumerate(self._vv):
            after = held.get(clients[c], 0)
            if have > after:
                self._write_client(writer, c, after)
        return writer.to_bytes()

    def _ops_since(self, c: int, after: int) -> list[Op]:
        """Client ``c``'s operations after seq ``after`` in seq order, gaps filled by SKIPs."""
        log = self._log[c]
        if log and log[-1][1] + op_width(log[-1]) - 1 > after:
            i = bisect_right(log, after, key=_seq_of)
            ops = log[i:]
            if i > 0:
                prev = log[i - 1]
                if prev[0] == K.SKIP and prev[1] + prev[2] - 1 > after:
                    ops.insert(0, (K.SKIP, after + 1, prev[1] + prev[2] - 1 - after))
        else:
            ops = []
        sources = 1 if ops else 0
        if self._field_top[c] > after:
            sources += 2  # newest first: always sort
            for name, (hlc, writer, seq, value) in reversed(self._fields.items()):
                if writer == c:
                    if seq <= after:
                        break  # every older entry of this client is older still
                    if value is _DELETED:
                        ops.append((K.FIELD_DELETE, seq, name, hlc))
                    else:
                        ops.append((K.FIELD_SET, seq, name, hlc, value))
        for name, text in self._texts.items():
            text_ops = text.ops_since(c, after)
            if text_ops:
                sources += 1
                for top in text_ops:
                    if top[0] == "i":
                        ops.append((K.TEXT_INSERT, top[1], name, top[2], top[3], top[4]))
                    else:
                        ops.append((K.TEXT_DELETE, top[1], name, top[2], top[3], top[4]))
        if sources > 1:
            ops.sort(key=_seq_of)
        # Seqs of writes that lost (or of skips made elsewhere) become SKIPs.
        filled: list[Op] = []
        expect = after + 1
        for op in ops:
            if op[1] > expect:
                filled.append((K.SKIP, expect, op[1] - expect))
            filled.append(op)
            expect = op[1] + op_width(op)
        if expect <= self._vv[c]:
            filled.append((K.SKIP, expect, self._vv[c] - expect + 1))
        return filled

    def _write_client(self, writer: ChangeSetWriter, c: int, after: int) -> None:
        """Add client ``c``'s operations after seq ``after``, cut at its checkpoints."""
        ops = self._ops_since(c, after)
        cps = self._checkpoints[c]
        if not cps:
            writer.add(c, ops[0][1], _NO_DEPS, ops)
            return
        if ops[0][1] >= cps[-1][0]:
            # The common case: everything lies after the latest checkpoint; one change.
            writer.add(c, ops[0][1], cps[-1][1], ops)
            return
        last = len(cps) - 1
        k = bisect_right(cps, ops[0][1], key=_first) - 1

        def deps(k: int) -> dict[int, int]:
            return cps[k][1] if k >= 0 else _NO_DEPS

        group: list[Op] = []
        for op in ops:
            seq = op[1]
            while k < last and seq >= cps[k + 1][0]:
                if group:
                    writer.add(c, group[0][1], deps(k), group)
                    group = []
                k += 1
            # Runs merged in a text may span a checkpoint: split them there.
            while k < last and seq + op_width(op) - 1 >= cps[k + 1][0]:
                head, op = _split_op(c, op, cps[k + 1][0] - seq)
                group.append(head)
                writer.add(c, group[0][1], deps(k), group)
                group = []
                seq = op[1]
                k += 1
            group.append(op)
        if group:
            writer.add(c, group[0][1], deps(k), group)

    # ------------------------------------------------------------------ applying changes

    def apply(self, data: bytes) -> None:
        """Apply changes made by :meth:`changes` on any replica.

        Idempotent and order-free: changes already held are ignored, and changes whose
        causal predecessors have not arrived wait inside the document and apply when they do.

        Raises:
            DecodeError: the bytes are corrupt, truncated, hostile or of an unknown format;
                the document is left exactly as it was.
        """
        msg = parse_change_set(data)
        client_ids = msg.clients[:]
        check_client_table(client_ids, "changes")
        n_clients = len(self._clients)
        try:
            idx = [self._intern(c) for c in client_ids]
            incoming = decode_changes(msg.changes, idx, msg.names[:])
            if self._pending:
                incoming = [ch for ch in incoming if not self._is_pending(ch)]
            ready, waiting = self._plan(self._pending, incoming)
        except DecodeError:
            self._forget_clients_from(n_clients)
            raise
        self._pending = waiting
        if ready:
            subscribers = self._subscribers
            if not any(type(s) is not _WithoutTextEdits for s in subscribers):
                names = self._integrate(ready, None)
                if subscribers:
                    self._emit(False, names)
                return
            edits: dict[str, TextState] = {}
            try:
                names = self._integrate(ready, edits)
            finally:
                recorded = {
                    name: tuple(starmap(TextEdit, st.take_edits())) for name, st in edits.items()
                }
            self._emit(False, names, recorded)

    def merge(self, other: Document) -> None:
        """Pull in everything ``other`` holds that this document lacks."""
        if not isinstance(other, Document):
            raise TypeError(f"merge takes a Document, got {type(other).__name__}")
        self.apply(other.changes(self.version()))
        if other._pending:
            # Pass on what waits there too: it may complete what waits here.
            writer = ChangeSetWriter(other._clients)
            for ch in other._pending:
                writer.add(ch.client, ch.start, ch.deps, ch.ops)
            self.apply(writer.to_bytes())

    def _is_pending(self, ch: Change) -> bool:
        """Whether a waiting change already covers all of ``ch``."""
        end = ch.end
        return any(
            p.client == ch.client and p.start <= ch.start and end <= p.end for p in self._pending
        )

    def _plan(
        self, pending: list[Change], incoming: list[Change]
    ) -> tuple[list[Change], list[Change]]:
        """Order the changes that can apply now, trimmed of what is held; check every reference.

        Touches nothing. Returns (ready in application order, still waiting). A bad change
        among ``incoming`` raises DecodeError; a bad one among ``pending`` (accepted earlier,
        when it could not be checked yet) is dropped, so it cannot wedge the document.
        """
        vv = self._vv.copy()
        created = _Created()
        ready: list[Change] = []
        was_pending = {id(ch) for ch in pending}
        waiting = [*pending, *incoming]
        progress = True
        while progress and waiting:
            progress = False
            still: list[Change] = []
            for ch in waiting:
                have = vv[ch.client]
                if ch.end <= have:
                    continue  # every op held already
                if ch.start - 1 > have or any(vv[c] < s for c, s in ch.deps.items()):
                    still.append(ch)
                    continue
                original = ch
                if ch.start <= have:
                    ch = _trim_change(ch, have)
                mark = created.mark()
                try:
                    self._check_refs(ch, created)
                except DecodeError:
                    if id(original) not in was_pending:
                        raise
                    created.rollback(mark)
                    continue  # drop it: it can never apply
                vv[ch.client] = ch.end
                ready.append(ch)
                progress = True
            waiting = still
        return ready, waiting

    def _check_refs(self, ch: Change, created: _Created) -> None:
        """Every item an op refers to must exist (held, or created earlier in this batch),
        and be one its author had seen: an earlier op of its own, or within the change's
        dependencies. (Otherwise a replica that holds the item would accept the change and
        one that does not yet would refuse it, and they would part ways.)"""
        client_id = self._clients[ch.client]
        author, deps = ch.client, ch.deps

        def unseen(ref: ItemId, seq: int) -> bool:
            return ref[1] >= seq if ref[0] == author else ref[1] > deps.get(ref[0], 0)

        def refuse(what: str, ref: ItemId) -> DecodeError:
            return DecodeError(
                f"changes: {what} {self._clients[ref[0]]}:{ref[1]}, which it had not seen"
            )

        for op in ch.ops:
            kind = op[0]
            if kind == K.TEXT_INSERT:
                text = self._texts.get(op[2])
                if text is not None and text.continues_remote(author, op[1], op[3], op[4]):
                    # The author typing on after its insert integrated last: both origins
                    # are here (no lookup), and the left one is its own. The right one
                    # must still be one this change had seen: a hostile author could
                    # send a later change with fewer dependencies than the earlier one.
                    right = op[4]
                    if right is not None and unseen(right, op[1]):
                        raise refuse(
                            f"text insert {client_id}:{op[1]} in {op[2]!r} refers to", right
                        )
                    created.add(op[2], author, op[1], op[1] + len(op[5]) - 1)
                    continue
                for origin in (op[3], op[4]):
                    if origin is None:
                        continue
                    # In-batch lookups first: they are cheap, and usually hit.
                    if not (
                        created.holds(op[2], origin) or (text is not None and text.has_item(origin))
                    ):
                        raise DecodeError(
                            f"changes: text insert {client_id}:{op[1]} in {op[2]!r} refers to "
                            f"an unknown character {self._clients[origin[0]]}:{origin[1]}"
                        )
                    if unseen(origin, op[1]):
                        raise refuse(
                            f"text insert {client_id}:{op[1]} in {op[2]!r} refers to", origin
                        )
                created.add(op[2], ch.client, op[1], op[1] + len(op[5]) - 1)
            elif kind == K.TEXT_DELETE:
                text = self._texts.get(op[2])
                first, count = op[4], op[5]
                lo, hi = (first, first + count - 1) if count > 0 else (first + count + 1, first)
                if not (
                    created.holds_run(op[2], op[3], lo, hi)
                    or (text is not None and text.has_run(op[3], first, count))
                ):
                    step = 1 if count > 0 else -1
                    for i in range(abs(count)):
                        target = (op[3], first + i * step)
                        if not (
                            created.holds(op[2], target)
                            or (text is not None and text.has_item(target))
                        ):
                            raise DecodeError(
                                f"changes: text delete {client_id}:{op[1]} in {op[2]!r} targets "
                                f"an unknown character {self._clients[target[0]]}:{target[1]}"
                            )
                if unseen((op[3], hi), op[1]):
                    raise refuse(
                        f"text delete {client_id}:{op[1]} in {op[2]!r} targets", (op[3], hi)
                    )
            elif kind == K.LIST_INSERT:
                created.add(op[2], ch.client, op[1], op[1])
            elif kind == K.SET_REMOVE:
                for tag in op[4]:
                    if unseen(tag, op[1]):
                        raise refuse(f"set remove {client_id}:{op[1]} in {op[2]!r} removes", tag)
            elif kind in (K.LIST_MOVE, K.LIST_DELETE):
                lst = self._lists.get(op[2])
                item = op[3]
                if not ((lst is not None and lst.has_item(item)) or created.holds(op[2], item)):
                    raise DecodeError(
                        f"changes: list operation {client_id}:{op[1]} in {op[2]!r} refers to "
                        f"an unknown item {self._clients[item[0]]}:{item[1]}"
                    )
                if unseen(item, op[1]):
                    raise refuse(f"list operation {client_id}:{op[1]} in {op[2]!r} refers to", item)

    def _integrate(
        self, ready: list[Change], recording: dict[str, TextState] | None
    ) -> builtins.set[str]:
        """Apply checked, trimmed changes in order; return the names they touched.

        ``recording`` (when not None) gets every text state the changes touch, each set to
        record its visible edits (:meth:`TextState.record_edits`) before the first of them.
        """
        names: builtins.set[str] = builtins.set()
        clients = self._clients
        for ch in ready:
            c = ch.client
            cps = self._checkpoints[c]
            if (cps[-1][1] != ch.deps) if cps else ch.deps:
                cps.append((ch.start, ch.deps))
            log = self._log[c]
            writer = clients[c]
            for op in ch.ops:
                kind = op[0]
                if kind in (K.TEXT_INSERT, K.TEXT_DELETE):
                    state = self._text_state(op[2])
                    if recording is not None and op[2] not in recording:
                        state.record_edits()
                        recording[op[2]] = state
                    if kind == K.TEXT_INSERT:
                        state.apply_insert(c, op[1], op[3], op[4], op[5], checked=True)
                    else:
                        state.apply_delete(c, op[1], op[3], op[4], op[5], checked=True)
                    names.add(op[2])
                    continue
                if kind not in (K.FIELD_SET, K.FIELD_DELETE):
                    log.append(op)  # field writes live in _fields only
                if kind != K.SKIP:
                    self._apply_op(c, writer, op)
                    names.add(op[2])
            self._vv[c] = ch.end
        self._deps_stale = True
        return names

    def _apply_op(self, c: int, writer: str, op: Op) -> None:
        """Apply one non-text operation to the state (not the log)."""
        kind = op[0]
        if kind in (K.FIELD_SET, K.FIELD_DELETE):
            name, hlc = op[2], op[3]
            self._hlc = max(self._hlc, hlc)
            self._field_top[c] = max(self._field_top[c], op[1])
            cur = self._fields.get(name)
            if cur is None or (hlc, writer) > (cur[0], self._clients[cur[1]]):
                value = op[4] if kind == K.FIELD_SET else _DELETED
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

    def _counter_add(self, name: str, delta: int) -> None:
        if self._counters is _EMPTY:
            self._counters = {}
        self._counters[name] = self._counters.get(name, 0) + delta

    def _set_state(self, name: str) -> ORSetState:
        state = self._sets.get(name)
        if state is None:
            if self._sets is _EMPTY:
                self._sets = {}
            state = self._sets[name] = ORSetState()
        return state

    def _list_state(self, name: str) -> ListState:
        state = self._lists.get(name)
        if state is None:
            if self._lists is _EMPTY:
                self._lists = {}
            state = self._lists[name] = ListState()
        return state

    # ------------------------------------------------------------------ snapshots

    def save(self) -> bytes:
        """A compact snapshot of everything this replica holds (``synckit.v1.Snapshot``)."""
        snap = changes_pb2.Snapshot(format=FORMAT, hlc=self._hlc)
        writer = ChangeSetWriter(self._clients)
        # Intern every client first so the snapshot's table matches the version.
        for c in range(len(self._clients)):
            writer.client_pos(c)
        per_client: list[list[Op]] = [list(log) for log in self._log]
        for name, (hlc, c, seq, value) in self._fields.items():
            if value is _DELETED:
                per_client[c].append((K.FIELD_DELETE, seq, name, hlc))
            else:
                per_client[c].append((K.FIELD_SET, seq, name, hlc, value))
        for c, ops in enumerate(per_client):
            ops.sort(key=_seq_of)
            # Runs of consecutive seqs, so each change is gap-free.
            run: list[Op] = []
            for op in ops:
                if run and run[-1][1] + op_width(run[-1]) != op[1]:
                    writer.add(c, run[0][1], {}, run)
                    run = []
                run.append(op)
            if run:
                writer.add(c, run[0][1], {}, run)
        for name, text in self._texts.items():
            ints, content, deletes = text.encode_state()
            state = changes_pb2.TextState(name=writer.name_pos(name), ints=ints, deletes=deletes)
            if len(content) >= _DEFLATE_FROM:
                state.content_deflate = zlib.compress(content.encode(), _DEFLATE_LEVEL)
            else:
                state.content = content
            snap.texts.append(state)
        snap.version_clients.extend(range(len(self._clients)))
        snap.version_seqs.extend(self._vv)
        flat: list[int] = []
        for c, cps in enumerate(self._checkpoints):
            for start, deps in cps:
                flat += (c, start, len(deps))
                for dc, ds in deps.items():
                    flat += (dc, ds)
        snap.checkpoints.extend(flat)
        if self._pending:
            pending = ChangeSetWriter(self._clients)
            for ch in self._pending:
                pending.add(ch.client, ch.start, ch.deps, ch.ops)
            snap.pending = pending.to_bytes()
        snap.changes.extend(writer.changes)
        snap.clients.extend(writer.clients)
        snap.names.extend(writer.names)
        body = snap.SerializeToString()
        return body + _CHECKSUM_TAG + zlib.crc32(body).to_bytes(4, "little")

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
        if type(self) is not Document:
            return
        data = self.save()
        self._clients = self._vv = self._log = self._checkpoints = self._field_top = _NONE
        self._client_index = self._fields = _EMPTY
        self._counters = self._sets = self._lists = self._texts = _EMPTY
        self._pending = _NONE
        self._packed = data
        self.__class__ = _CompactDocument

    @property
    def compacted(self) -> bool:
        """True while this document is kept as snapshot bytes (see :meth:`compact`)."""
        return self._packed is not None

    def _expand(self) -> None:
        """Decode a compacted document back into live state, in place."""
        data = self._packed
        assert data is not None
        live = Document.load(data, self._client_id, clock=self._clock)
        for slot in _STATE_SLOTS:
            setattr(self, slot, getattr(live, slot))
        self._packed = None

    @classmethod
    def load(
        cls, data: bytes, client_id: str | None = None, *, clock: Clock | None = None
    ) -> Document:
        """Rebuild a document from :meth:`save` bytes.

        Loading with a ``client_id`` that already wrote into the snapshot continues that
        client's sequence. Raises DecodeError when the bytes are not a valid snapshot.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Document.load takes bytes, got {type(data).__name__}")
        data = bytes(data)
        sealed = len(data) >= 5 and data[-5] == _CHECKSUM_TAG[0]
        intact = sealed and zlib.crc32(memoryview(data)[:-5]) == int.from_bytes(data[-4:], "little")
        snap = changes_pb2.Snapshot()
        try:
            snap.ParseFromString(data)
        except _ProtoDecodeError as exc:
            if sealed and not intact:
                raise DecodeError("snapshot: checksum mismatch (corrupt or truncated)") from None
            raise DecodeError(f"snapshot: truncated or not a protobuf Snapshot ({exc})") from None
        if snap.format != FORMAT:
            if snap.format == 0:
                raise DecodeError("snapshot: empty or not a Snapshot (no format version)")
            raise UnsupportedFormatError(
                f"snapshot: format version {snap.format} is not supported (reads {FORMAT})"
            )
        if not sealed:
            raise DecodeError("snapshot: truncated (the checksum at the end is missing)")
        if not intact:
            raise DecodeError("snapshot: checksum mismatch (corrupt or truncated)")
        clients = list(snap.clients)
        check_client_table(clients, "snapshot")
        doc = cls(client_id, clock=clock)
        # Rebuild the client table in snapshot order, then our own id if it is new.
        doc._clients, doc._client_index = [], {}
        doc._vv, doc._log, doc._field_top, doc._checkpoints = [], [], [], []
        for c in clients:
            doc._intern(c)
        doc._me = doc._intern(doc._client_id)
        n = len(clients)
        try:
            doc._load_body(snap, n)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise DecodeError(f"snapshot: inconsistent contents ({exc})") from None
        return doc

    def _check_loaded_ops(self, text_seqs: dict[int, list[tuple[list[int], list[int]]]]) -> None:
        """No two operations of a client share a seq, and none lies beyond the version.

        ``text_seqs``: per client, the seqs its text items and deletes take (see
        :class:`~synckit.core._text.History`), as sorted ``(firsts, lasts)`` runs.
        """
        runs: list[list[tuple[int, int]]] = [
            [(op[1], op_width(op)) for op in log] for log in self._log
        ]
        for _, c, seq, _ in self._fields.values():
            runs[c].append((seq, 1))
        for c, client_runs in enumerate(runs):
            _check_seq_runs(client_runs, self._vv[c])
        for c, parts in text_seqs.items():
            if runs[c]:
                ops = sorted(runs[c])
                parts = [*parts, ([f for f, _ in ops], [f + w - 1 for f, w in ops])]
            if len(parts) == 1:
                firsts, lasts = parts[0]  # one text's items alone: already checked
            else:
                # Each part is sorted: sorting their concatenation merges runs.
                firsts = sorted(chain.from_iterable(p[0] for p in parts))
                lasts = sorted(chain.from_iterable(p[1] for p in parts))
                if any(map(ge, lasts, islice(firsts, 1, None))):
                    raise DecodeError(f"snapshot: two operations of client {c} share a seq")
            if firsts[0] < 1 or lasts[-1] > self._vv[c]:
                raise DecodeError("snapshot: a text operation lies beyond the snapshot's version")

    def _load_body(self, snap: changes_pb2.Snapshot, n: int) -> None:
        names = list(snap.names)
        if len(snap.version_clients) != len(snap.version_seqs):
            raise DecodeError("snapshot: version clients and seqs differ in number")
        for vc, vs in zip(snap.version_clients, snap.version_seqs, strict=True):
            if vc >= n:
                raise DecodeError(f"snapshot: version client index {vc} outside the table")
            self._vv[vc] = vs
        self._hlc = snap.hlc
        flat = snap.checkpoints[:]
        i = 0
        while i < len(flat):
            c, start, k = flat[i], flat[i + 1], flat[i + 2]
            if c >= n or not start >= 1 or k > n:
                raise DecodeError("snapshot: invalid dependency checkpoint")
            deps = {int(flat[i + 3 + 2 * j]): int(flat[i + 4 + 2 * j]) for j in range(k)}
            if any(dc >= n or dc == c or ds > self._vv[dc] for dc, ds in deps.items()):
                raise DecodeError("snapshot: dependency checkpoint beyond the snapshot's version")
            cps = self._checkpoints[c]
            if start > self._vv[c] + 1 or (cps and cps[-1][0] >= start):
                raise DecodeError("snapshot: dependency checkpoints out of order")
            cps.append((start, deps or _NO_DEPS))
            i += 3 + 2 * k
        _check_causal_order(self._checkpoints)
        history = TextHistory(self._vv, self._checkpoints)
        changes = decode_changes(snap.changes, list(range(n)), names, "snapshot")
        second_pass: list[tuple[int, Op]] = []
        for ch in changes:
            log = self._log[ch.client]
            if log and log[-1][1] >= ch.start:
                raise DecodeError("snapshot: a client's operations are out of order")
            if ch.end > self._vv[ch.client]:
                raise DecodeError("snapshot: an operation lies beyond the snapshot's version")
            writer = self._clients[ch.client]
            for op in ch.ops:
                if op[0] in (K.TEXT_INSERT, K.TEXT_DELETE):
                    raise DecodeError("snapshot: text operations belong in text states")
                if op[0] not in (K.FIELD_SET, K.FIELD_DELETE):
                    log.append(op)
                if op[0] in (K.LIST_MOVE, K.LIST_DELETE, K.SET_REMOVE):
                    second_pass.append((ch.client, op))
                elif op[0] != K.SKIP:
                    self._apply_op(ch.client, writer, op)
        for c, op in second_pass:
            lst = self._lists.get(op[2])
            if op[0] != K.SET_REMOVE and not (lst is not None and lst.has_item(op[3])):
                raise DecodeError("snapshot: a list operation refers to an unknown item")
            refs = op[4] if op[0] == K.SET_REMOVE else (op[3],)
            if not all(history.saw(c, op[1], ref) for ref in refs):
                raise DecodeError(
                    "snapshot: an operation refers to an item made after it (or by a client "
                    "it did not depend on)"
                )
            self._apply_op(c, self._clients[c], op)
        for ts in snap.texts:
            if ts.name >= len(names):
                raise DecodeError("snapshot: text name index outside the name table")
            name = names[ts.name]
            if name in self._texts:
                raise DecodeError(f"snapshot: text {name!r} appears twice")
            if self._texts is _EMPTY:
                self._texts = {}
            content = ts.content
            if ts.content_deflate:
                if content:
                    raise DecodeError(f"snapshot: text {name!r} has both plain and deflated text")
                content = _inflate_text(ts.content_deflate, sum(self._vv), name)
            self._texts[name] = TextState.decode_state(
                self._clients, ts.ints[:], content, ts.deletes[:], history
            )
        self._check_loaded_ops(history.used)
        if snap.pending:
            msg = parse_change_set(snap.pending)
            idx = [self._intern(c) for c in msg.clients]
            self._pending = decode_changes(msg.changes, idx, list(msg.names), "snapshot pending")


class _CompactDocument(Document):
    """A :class:`Document` kept as snapshot bytes (see :meth:`Document.compact`).

    Only the class changes, so the object -- and every reference to it -- stays the same.
    Any attribute access other than the few below turns it back into a live ``Document``
    first, which is what makes every public method, handle and internal path safe.
    """

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name not in _COMPACT_SAFE:
            object.__setattr__(self, "__class__", Document)
            object.__getattribute__(self, "_expand")()
        return object.__getattribute__(self, name)

    def save(self) -> bytes:
        data = object.__getattribute__(self, "_packed")
        assert data is not None
        return cast(bytes, data)


#: What a compacted document answers without decoding itself.
_COMPACT_SAFE = frozenset(
    {"__class__", "_packed", "_client_id", "client_id", "compacted", "compact", "save"}
)
#: The slots :meth:`Document._expand` takes from the decoded document.
_STATE_SLOTS = tuple(
    s for s in Document.__slots__ if s not in ("_clock", "_client_id", "_subscribers", "_packed")
)


class _WithoutTextEdits:
    """A subscriber that does not read ``ChangeEvent.text_edits`` (see
    :meth:`Document.subscribe`)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Subscriber) -> None:
        self.callback = callback

    def __call__(self, event: ChangeEvent) -> object:
        return self.callback(event)


class _Created:
    """Items (text characters, list items) created by the changes planned so far in one apply.

    Per (container name, client): first and last seqs of the runs created, in seq order (a
    client's changes are planned in seq order), searched by bisection.
    """

    __slots__ = ("_added", "_runs")

    def __init__(self) -> None:
        self._runs: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
        self._added: list[tuple[str, int]] = []

    def add(self, name: str, client: int, first: int, last: int) -> None:
        runs = self._runs.get((name, client))
        if runs is None:
            runs = self._runs[(name, client)] = ([], [])
        runs[0].append(first)
        runs[1].append(last)
        self._added.append((name, client))

    def mark(self) -> int:
        """A point to :meth:`rollback` to."""
        return len(self._added)

    def rollback(self, mark: int) -> None:
        """Forget every run added since ``mark``."""
        while len(self._added) > mark:
            runs = self._runs[self._added.pop()]
            runs[0].pop()
            runs[1].pop()

    def holds_run(self, name: str, client: int, lo: int, hi: int) -> bool:
        """Whether one run created so far holds every seq ``lo..hi`` of ``client``."""
        runs = self._runs.get((name, client))
        if runs is None:
            return False
        i = bisect_right(runs[0], lo) - 1
        return i >= 0 and hi <= runs[1][i]

    def holds(self, name: str, item: ItemId) -> bool:
        runs = self._runs.get((name, item[0]))
        if runs is None:
            return False
        i = bisect_right(runs[0], item[1]) - 1
        return i >= 0 and item[1] <= runs[1][i]


_first = itemgetter(0)


def _inflate_text(data: bytes, max_chars: int, name: str) -> str:
    """The text of a snapshot's ``content_deflate``; DecodeError if it is not valid.

    ``max_chars`` bounds the text (every visible character has a seq of its own, so a
    text holds at most as many as the version counts); at 4 UTF-8 bytes each, that bounds
    the inflating, so a small hostile input cannot expand into gigabytes.
    """
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, min(4 * max_chars + 1, sys.maxsize))
    except zlib.error as exc:
        raise DecodeError(f"snapshot: text {name!r}: corrupt deflated text ({exc})") from None
    if inflater.unconsumed_tail:
        raise DecodeError(
            f"snapshot: text {name!r}: deflated text is longer than the version allows"
        )
    if not inflater.eof:
        raise DecodeError(f"snapshot: text {name!r}: deflated text is truncated")
    if inflater.unused_data:
        raise DecodeError(f"snapshot: text {name!r}: junk after the deflated text")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise DecodeError(f"snapshot: text {name!r}: deflated text is not UTF-8") from None


def _check_causal_order(checkpoints: list[list[tuple[int, dict[int, int]]]]) -> None:
    """DecodeError unless the dependency checkpoints admit a causal order.

    A client's checkpoints cut its operations into segments; each segment comes after the
    client's previous one and after the segment of every operation it depends on. If
    those "comes after" links close a cycle, no replica could ever apply the operations
    (each would wait for another), so a snapshot that says so is refused. Kahn's
    topological sort over the segments; a document with at most one client that
    depended on others has no cycle to look for.
    """
    if sum(1 for cps in checkpoints if cps) < 2:
        return
    starts = [[cp[0] for cp in cps] for cps in checkpoints]
    base = list(accumulate((len(cps) + 1 for cps in checkpoints), initial=0))
    # Segment j of client c is node base[c] + j: j 0 is before the first checkpoint.
    waits = [0] * base[-1]
    unblocks: list[list[int]] = [[] for _ in range(base[-1])]
    for c, cps in enumerate(checkpoints):
        for j, (_, deps) in enumerate(cps, 1):
            node = base[c] + j
            before = [base[c] + j - 1]
            for d, seq in deps.items():
                before.append(base[d] + bisect_right(starts[d], seq))
            for b in before:
                unblocks[b].append(node)
            waits[node] += len(before)
    ready = [node for node, w in enumerate(waits) if not w]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for after in unblocks[node]:
            waits[after] -= 1
            if not waits[after]:
                ready.append(after)
    if done != len(waits):
        raise DecodeError("snapshot: dependency checkpoints form a cycle (no causal order)")


def _check_seq_runs(runs: list[tuple[int, int]], top: int) -> None:
    """(first seq, width) runs of one client must not overlap nor pass its version ``top``."""
    runs.sort()
    end = 0
    for first, width in runs:
        if first <= end:
            raise DecodeError(f"snapshot: two operations share seq {first}")
        end = first + width - 1
    if end > top:
        raise DecodeError(f"snapshot: operation seq {end} lies beyond the snapshot's version")


def _seq_of(op: Op) -> int:
    return int(op[1])


def _split_op(client: int, op: Op, k: int) -> tuple[Op, Op]:
    """Split a multi-seq operation of ``client`` after its first ``k`` seqs."""
    kind, seq = op[0], op[1]
    if kind == K.TEXT_INSERT:
        content = op[5]
        head = (kind, seq, op[2], op[3], op[4], content[:k])
        tail = (kind, seq + k, op[2], (client, seq + k - 1), op[4], content[k:])
        return head, tail
    if kind == K.TEXT_DELETE:
        count = op[5]
        step = 1 if count > 0 else -1
        head = (kind, seq, op[2], op[3], op[4], k * step)
        tail = (kind, seq + k, op[2], op[3], op[4] + k * step, count - k * step)
        return head, tail
    if kind == K.SKIP:
        return (kind, seq, k), (kind, seq + k, op[2] - k)
    raise AssertionError(f"operation kind {kind} spans one seq")  # pragma: no cover


def _trim_change(ch: Change, have: int) -> Change:
    """The part of ``ch`` after seq ``have`` (which lies inside it)."""
    ops: list[Op] = []
    for op in ch.ops:
        end = op[1] + op_width(op) - 1
        if end <= have:
            continue
        if op[1] <= have:
            op = _split_op(ch.client, op, have + 1 - op[1])[1]
        ops.append(op)
    return Change(ch.client, have + 1, ch.deps, ops)


class Counter:
    """A PN-counter: concurrent increments and decrements all count.

    Deltas are ints (floats would make the total depend on the order they are added in).
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Document, name: str) -> None:
        self._doc = doc
        self._name = name

    @property
    def value(self) -> int:
        """The sum of every increment and decrement this replica holds."""
        return self._doc._counters.get(self._name, 0)

    def increment(self, n: int = 1) -> None:
        """Add ``n`` (an int; may be negative)."""
        if type(n) is not int:
            raise TypeError(f"counter deltas must be int, got {type(n).__name__}")
        doc = self._doc
        doc._check_kind(self._name, _COUNTER)
        seq = doc._next_seq()
        doc._counter_add(self._name, n)
        doc._log_local((K.COUNTER_ADD, seq, self._name, n))
        doc._emit(True, (self._name,))

    def decrement(self, n: int = 1) -> None:
        """Subtract ``n`` (an int)."""
        if type(n) is not int:
            raise TypeError(f"counter deltas must be int, got {type(n).__name__}")
        self.increment(-n)

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Counter({self._name!r}, value={self.value})"


class ORSet:
    """An observed-remove set of JSON scalars; an add wins over a concurrent remove."""

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Document, name: str) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> ORSetState | None:
        return self._doc._sets.get(self._name)

    def add(self, member: JSONScalar) -> None:
        """Add ``member`` (None, bool, int, finite float or str)."""
        member = check_scalar(member)
        doc = self._doc
        doc._check_kind(self._name, _SET)
        seq = doc._next_seq()
        doc._set_state(self._name).add(member, (doc._me, seq))
        doc._log_local((K.SET_ADD, seq, self._name, member))
        doc._emit(True, (self._name,))

    def remove(self, member: JSONScalar) -> None:
        """Remove ``member``; ``KeyError`` when it is not in the set."""
        member = check_scalar(member)
        state = self._state()
        if state is None or member not in state:
            raise KeyError(member)
        self._remove(state, member)

    def discard(self, member: JSONScalar) -> None:
        """Remove ``member`` if present."""
        member = check_scalar(member)
        state = self._state()
        if state is not None and member in state:
            self._remove(state, member)

    def _remove(self, state: ORSetState, member: JSONScalar) -> None:
        doc = self._doc
        tags = state.tags(member)
        seq = doc._next_seq()
        state.remove(member, tags)
        doc._log_local((K.SET_REMOVE, seq, self._name, member, tags))
        doc._emit(True, (self._name,))

    def __contains__(self, member: object) -> bool:
        state = self._state()
        try:
            return state is not None and check_scalar(member) in state
        except TypeError:
            return False

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __iter__(self) -> Iterator[JSONScalar]:
        state = self._state()
        return iter(list(state) if state is not None else [])

    def __repr__(self) -> str:
        return f"ORSet({self._name!r}, {list(self)!r})"


class List:
    """An ordered list of JSON values with insert, move and delete that merge cleanly.

    Concurrent inserts at one index keep both, in the same order everywhere; an item moved
    concurrently by two replicas ends up exactly once (the later move wins); a delete wins
    over a concurrent move.
    """

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Document, name: str) -> None:
        self._doc = doc
        self._name = name

    def _state(self) -> ListState | None:
        return self._doc._lists.get(self._name)

    def __len__(self) -> int:
        state = self._state()
        return len(state) if state is not None else 0

    def __getitem__(self, index: int) -> JSONValue:
        if not isinstance(index, int):
            raise TypeError(f"list indices must be int, got {type(index).__name__}")
        state = self._state()
        if state is None or not -len(state) <= index < len(state):
            raise IndexError(f"list index {index} out of range")
        value = state.item_at(index)[1].value
        return _clone(value)

    def __iter__(self) -> Iterator[JSONValue]:
        state = self._state()
        return iter(_clone(state.values()) if state is not None else [])  # type: ignore[arg-type]

    def insert(self, index: int, value: JSONInput) -> None:
        """Insert ``value`` so that it ends at ``index`` (0 <= index <= len)."""
        if type(index) is not int:
            raise TypeError(f"list indices must be int, got {type(index).__name__}")
        value = copy_json(value)
        n = len(self)
        if not 0 <= index <= n:
            raise IndexError(f"list insert index {index} out of range for length {n}")
        doc = self._doc
        doc._check_kind(self._name, _LIST)
        state = doc._list_state(self._name)
        seq = doc._next_seq()
        lo, hi = state.keys_around(index)
        key = key_between(lo, hi, operation_suffix(doc._client_id, seq))
        hlc = doc._tick()
        state.insert((doc._me, seq), doc._client_id, value, key, hlc)
        doc._log_local((K.LIST_INSERT, seq, self._name, hlc, value, key))
        doc._emit(True, (self._name,))

    def append(self, value: JSONInput) -> None:
        """Insert ``value`` at the end."""
        self.insert(len(self), value)

    def move(self, index: int, to: int) -> None:
        """Move the item at ``index`` so that it ends at index ``to``."""
        n = len(self)
        for i in (index, to):
            if type(i) is not int:
                raise TypeError(f"list indices must be int, got {type(i).__name__}")
            if not 0 <= i < n:
                raise IndexError(f"list index {i} out of range for length {n}")
        if index == to:
            return
        doc = self._doc
        state = cast(ListState, self._state())
        item_id, _ = state.item_at(index)
        seq = doc._next_seq()
        lo, hi = state.keys_around(to, exclude=item_id)
        key = key_between(lo, hi, operation_suffix(doc._client_id, seq))
        hlc = doc._tick()
        state.move(item_id, key, hlc, doc._client_id)
        doc._log_local((K.LIST_MOVE, seq, self._name, item_id, hlc, key))
        doc._emit(True, (self._name,))

    def delete(self, index: int) -> None:
        """Delete the item at ``index``."""
        n = len(self)
        if type(index) is not int:
            raise TypeError(f"list indices must be int, got {type(index).__name__}")
        if not 0 <= index < n:
            raise IndexError(f"list index {index} out of range for length {n}")
        doc = self._doc
        state = cast(ListState, self._state())
        item_id, _ = state.item_at(index)
        seq = doc._next_seq()
        state.delete(item_id)
        doc._log_local((K.LIST_DELETE, seq, self._name, item_id))
        doc._emit(True, (self._name,))

    def __repr__(self) -> str:
        return f"List({self._name!r}, {list(self)!r})"


class Text:
    """Collaborative text; positions count Unicode code points, like ``str`` indexes."""

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Document, name: str) -> None:
        self._doc = doc
        self._name = name

    def __str__(self) -> str:
        state = self._doc._texts.get(self._name)
        return str(state) if state is not None else ""

    def __len__(self) -> int:
        state = self._doc._texts.get(self._name)
        return len(state) if state is not None else 0

    def __repr__(self) -> str:
        return f"Text({self._name!r}, {str(self)!r})"

    def cursor(self, pos: int, bind: Bind = "next") -> Cursor:
        """A :class:`~synckit.Cursor` at ``pos`` (0 <= pos <= len) that moves with the text.

        ``bind="next"`` binds it to the character at ``pos`` (it stays right before it),
        ``"previous"`` to the one before ``pos`` (it stays right after it); they differ
        when text is inserted exactly there. See :mod:`synckit.core._cursor`.

        Raises:
            IndexError: ``pos`` is outside the text.
        """
        if type(pos) is not int:
            raise TypeError(f"text positions must be int, got {type(pos).__name__}")
        if bind not in ("next", "previous"):
            raise ValueError(f"bind must be 'next' or 'previous', got {bind!r}")
        doc = self._doc
        state = doc._texts.get(self._name)
        length = len(state) if state is not None else 0
        if not 0 <= pos <= length:
            raise IndexError(f"text position {pos} out of range for length {length}")
        at = pos if bind == "next" else pos - 1
        if state is None or not 0 <= at < length:
            return Cursor(self._name, None, 0, bind)  # the end / the start of the text
        client, seq = state.char_id(at)
        return Cursor(self._name, doc._clients[client], seq, bind)

    def position(self, cursor: Cursor) -> int | None:
        """Where ``cursor`` is now: a position in this text (0 <= position <= len).

        Works on any replica, for cursors made on any replica, however the text changed
        since. None when this replica does not hold the cursor's character yet (it was
        written by changes that have not arrived here).

        Raises:
            ValueError: the cursor belongs to another text (``cursor.text`` names it).
        """
        if not isinstance(cursor, Cursor):
            raise TypeError(f"position takes a Cursor, got {type(cursor).__name__}")
        if cursor.text != self._name:
            raise ValueError(f"the cursor belongs to text {cursor.text!r}, not {self._name!r}")
        doc = self._doc
        state = doc._texts.get(self._name)
        if cursor.client is None:
            return 0 if cursor.bind == "previous" or state is None else len(state)
        client = doc._client_index.get(cursor.client)
        if client is None or state is None:
            return None
        found = state.char_position(client, cursor.seq)
        if found is None:
            return None
        before, visible = found
        return before + 1 if visible and cursor.bind == "previous" else before

    def insert(self, pos: int, s: str) -> None:
        """Insert ``s`` at code point ``pos`` (0 <= pos <= len); IndexError otherwise."""
        if type(pos) is not int:
            raise TypeError(f"text positions must be int, got {type(pos).__name__}")
        if type(s) is not str:
            raise TypeError(f"text inserts take str, got {type(s).__name__}")
        check_text(s, "inserted text")
        doc = self._doc
        state = doc._texts.get(self._name)
        length = len(state) if state is not None else 0
        if not 0 <= pos <= length:
            raise IndexError(f"text position {pos} out of range for length {length}")
        if not s:
            return
        if state is None:
            doc._check_kind(self._name, _TEXT)
            state = doc._text_state(self._name)
        seq = doc._next_seq()
        state.local_insert(doc._me, seq, pos, s)
        doc._vv[doc._me] = seq + len(s) - 1
        if doc._subscribers:
            doc._emit(True, (self._name,), {self._name: (TextEdit(pos, 0, s),)})

    def delete(self, pos: int, length: int) -> None:
        """Delete ``length`` code points from ``pos``; IndexError if that is not all inside."""
        if type(pos) is not int or type(length) is not int:
            raise TypeError("text delete takes int position and length")
        doc = self._doc
        state = doc._texts.get(self._name)
        size = len(state) if state is not None else 0
        if length < 0 or not 0 <= pos <= size or pos + length > size:
            raise IndexError(f"text range {pos}..{pos + length} out of range for length {size}")
        if length == 0 or state is None:
            return
        seq = doc._next_seq()
        state.local_delete(doc._me, seq, pos, length)
        doc._vv[doc._me] = seq + length - 1
        if doc._subscribers:
            doc._emit(True, (self._name,), {self._name: (TextEdit(pos, length, ""),)})
