"""Encoding operations to the protobuf ``synckit.v1`` format and back.

Writers intern client ids and names into per-message tables; readers check every index,
count and value against those tables and raise :class:`~synckit.errors.DecodeError`
naming what is wrong, before anything touches a document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from itertools import count
from operator import sub
from typing import Any, cast

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.core import _ops as K
from synckit.core._change import Change
from synckit.core._field_columns import FIELD_COLUMNS_AT, field_writes
from synckit.core._ids import ContainerId, ItemId
from synckit.core._list_columns import LIST_EDITS, list_columns, list_ops
from synckit.core._ops import Op
from synckit.core._values import JSONValue
from synckit.core._wire import (
    _ONE_BYTE_VARINTS,
    json_array,
    length_prefixed,
    packed_sint_deltas,
    sint_range,
    table_entries,
)
from synckit.core._wire import varint as _varint
from synckit.errors import DecodeError, InvalidTypeError, InvalidValueError, UnsupportedFormatError
from synckit.v1 import changes_pb2

__all__ = [
    "FORMAT",
    "READS",
    "Change",
    "ChangeSetWriter",
    "canonical_changes",
    "decode_changes",
    "parse_change_set",
    "resolve_names",
]

#: The format version this release writes.
FORMAT = 2
#: The format versions this release reads (1: before nested containers).
READS = (1, 2)
#: A name-table entry that is not a plain top-level name starts with this character.
_NESTED_MARK = "\x00"
_MAX_SEQ = 2**62
# Clocks stay far below 2**63 so every difference between two fits a sint64.
_MAX_HLC = 2**62
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _reject_constant(name: str) -> object:
    raise DecodeError(f"values: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    # JSON has no infinities, but a literal too large for a double (1e400) parses as one, and
    # a document holding it could no longer encode its changes or snapshot.
    value = float(text)
    if value in (math.inf, -math.inf):
        raise InvalidValueError(f"{text} is too large for a finite number")
    return value


_loads = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float).decode


class ChangeSetWriter:
    """Builds the client and name tables and the column-wise changes of one message."""

    __slots__ = (
        "_client_ids",
        "_client_pos",
        "_clients",
        "_name_pos",
        "_names",
        "_unindexed",
        "changes",
    )

    def __init__(self, client_ids: list[str]) -> None:
        self._client_ids = client_ids
        self._clients: list[str] = []
        self._client_pos: dict[int, int] = {}
        self._names: list[str] = []
        self._name_pos: dict[ContainerId, int] = {}
        # Where the names add_field_sets put in the table and not yet in _name_pos start
        # (None: none such). A change set of one client's field sets never looks them up.
        self._unindexed: int | None = None
        #: The changes added so far, as standalone messages (or, from
        #: :meth:`add_field_sets`, their bytes).
        self.changes: list[changes_pb2.Change | bytes] = []

    @classmethod
    def continuing(
        cls,
        client_ids: list[str],
        client_pos: dict[int, int],
        clients: tuple[str, ...],
        name_pos: dict[ContainerId, int],
        names: tuple[str, ...],
    ) -> ChangeSetWriter:
        """A writer whose tables start as another change set's (its client and name tables
        and their positions): the changes added refer to those entries, and
        :meth:`tail_bytes` writes what follows that change set."""
        writer = cls(client_ids)
        writer._client_pos = dict(client_pos)
        writer._clients = list(clients)
        writer._name_pos = dict(name_pos)
        writer._names = list(names)
        return writer

    @property
    def client_positions(self) -> dict[int, int]:
        """Document client index -> position in the client table."""
        return self._client_pos

    @property
    def name_positions(self) -> dict[ContainerId, int]:
        """Container -> position in the name table."""
        if self._unindexed is not None:
            self._index_names()
        return self._name_pos

    def _client(self, idx: int) -> int:
        pos = self._client_pos.get(idx)
        if pos is None:
            pos = self._client_pos[idx] = len(self._clients)
            self._clients.append(self._client_ids[idx])
        return pos

    def _name(self, name: ContainerId) -> int:
        pos = self._name_pos.get(name)
        if pos is None:
            if type(name) is str:
                text = _NESTED_MARK + _dumps(name) if name.startswith(_NESTED_MARK) else name
            else:
                # A nested container: its parent's entry comes first (see resolve_names).
                nested = cast(tuple[Any, ...], name)
                parent = self._name(nested[0])
                if len(nested) == 3:
                    epoch: ItemId | None = nested[2]
                    if epoch is None:
                        fields: list[object] = [parent, nested[1], 0, 0]
                    else:
                        fields = [parent, nested[1], self._client(epoch[0]) + 1, epoch[1]]
                else:
                    fields = [parent, self._client(nested[1][0]), nested[1][1]]
                text = _NESTED_MARK + _dumps(fields)
            pos = self._name_pos[name] = len(self._names)
            self._names.append(text)
        return pos

    def add(self, client: int, start: int, deps: dict[int, int], ops: list[Op]) -> None:
        """Append one change: ``ops`` of ``client`` starting at seq ``start``."""
        if self._unindexed is not None:
            self._index_names()
        msg = changes_pb2.Change()
        self.changes.append(msg)
        msg.client = self._client(client)
        msg.start = start
        if deps:
            msg.dep_clients.extend([self._client(c) for c in deps])
            msg.dep_seqs.extend(deps.values())
        if len(ops) == 1 and ops[0][0] == K.TEXT_INSERT:
            # What a client exports after each keystroke: write it without the columns.
            op = ops[0]
            left, right = op[3], op[4]
            pos = self._name_pos.get(op[2])
            msg.kinds.append(K.TEXT_INSERT)
            msg.ints.extend(
                (
                    self._name(op[2]) if pos is None else pos,
                    0 if left is None else self._client(left[0]) + 1,
                    0 if left is None else left[1],
                    0 if right is None else self._client(right[0]) + 1,
                    0 if right is None else right[1],
                    len(op[5]),
                )
            )
            msg.text = op[5]
            return
        if ops[0][0] == K.FIELD_SET and len(ops) == 1:
            # One field written (a ``set`` exported at once): its columns directly, the
            # bytes _add_field_sets writes for it.
            op = ops[0]
            pos = self._name_pos.get(op[2])
            msg.kinds.append(K.FIELD_SET)
            msg.ints.append(self._name(op[2]) if pos is None else pos)
            msg.hlcs.append(op[3])
            msg.values = _dumps([op[4]])
            return
        if ops[0][0] == K.FIELD_SET and ops[-1][0] == K.FIELD_SET:
            kinds = [op[0] for op in ops]
            if kinds.count(K.FIELD_SET) == len(kinds):
                self._add_field_sets(msg, kinds, ops)
                return
        if ops[0][0] in LIST_EDITS and ops[-1][0] in LIST_EDITS:
            name = ops[0][2]
            pos = self._name_pos.get(name)
            columns = list_columns(
                ops, name, self._name(name) if pos is None else pos, self._client_pos, self._client
            )
            if columns is not None:
                _fill(msg, *columns)
                return
        self._add_ops(msg, ops)

    def _add_ops(self, msg: changes_pb2.Change, ops: list[Op]) -> None:
        """The columns of ``ops``, one op at a time (any kinds)."""
        kinds: list[int] = []
        ints: list[int] = []
        hlcs: list[int] = []
        values: list[JSONValue] = []
        strs: list[str] = []
        texts: list[str] = []
        name_pos = self._name_pos
        name_of = self._name
        client_pos = self._client_pos
        client_of = self._client
        # (The kinds as locals, most common first: this runs for every operation sent.)
        field_set, text_insert, text_delete = K.FIELD_SET, K.TEXT_INSERT, K.TEXT_DELETE
        list_insert, list_move, list_delete = K.LIST_INSERT, K.LIST_MOVE, K.LIST_DELETE
        last_hlc = 0
        for op in ops:
            kind = op[0]
            kinds.append(kind)
            if kind == K.SKIP:
                ints.append(op[2])
                continue
            pos = name_pos.get(op[2])
            ints.append(name_of(op[2]) if pos is None else pos)
            if kind == field_set:
                hlcs.append(op[3] - last_hlc)
                last_hlc = op[3]
                values.append(op[4])
            elif kind == text_insert:
                left, right = op[3], op[4]
                if left is None:
                    ints += (0, 0)
                else:
                    pos = client_pos.get(left[0])
                    ints += ((client_of(left[0]) if pos is None else pos) + 1, left[1])
                if right is None:
                    ints += (0, 0, len(op[5]))
                else:
                    pos = client_pos.get(right[0])
                    ints += (
                        (client_of(right[0]) if pos is None else pos) + 1,
                        right[1],
                        len(op[5]),
                    )
                texts.append(op[5])
            elif kind == list_insert:
                hlcs.append(op[3] - last_hlc)
                last_hlc = op[3]
                values.append(op[4])
                strs.append(op[5])
            elif kind == list_move:
                item = op[3]
                pos = client_pos.get(item[0])
                ints += (client_of(item[0]) if pos is None else pos, item[1])
                hlcs.append(op[4] - last_hlc)
                last_hlc = op[4]
                strs.append(op[5])
            elif kind == list_delete:
                item = op[3]
                pos = client_pos.get(item[0])
                ints += (client_of(item[0]) if pos is None else pos, item[1])
            elif kind == text_delete:
                ints += (client_of(op[3]), op[4], op[5])
            elif kind == K.FIELD_DELETE:
                hlcs.append(op[3] - last_hlc)
                last_hlc = op[3]
            elif kind == K.COUNTER_ADD:
                ints.append(op[3])
            elif kind == K.SET_ADD:
                values.append(op[3])
            elif kind == K.SET_REMOVE:
                tags = op[4]
                ints.append(len(tags))
                for c, s in tags:
                    ints += (client_of(c), s)
                values.append(op[3])
            elif kind == K.MAP_SET:
                hlcs.append(op[4] - last_hlc)
                last_hlc = op[4]
                strs.append(op[3])
                values.append(op[5])
            elif kind == K.MAP_DELETE:
                hlcs.append(op[4] - last_hlc)
                last_hlc = op[4]
                strs.append(op[3])
            elif kind == K.MAP_CREATE:
                hlcs.append(op[4] - last_hlc)
                last_hlc = op[4]
                strs.append(op[3])
                epoch = op[6]
                if epoch is None:
                    ints += (op[5], 0, 0)
                else:
                    ints += (op[5], client_of(epoch[0]) + 1, epoch[1])
            elif kind == K.LIST_CREATE:
                hlcs.append(op[3] - last_hlc)
                last_hlc = op[3]
                ints.append(op[4])
                strs.append(op[5])
            else:  # pragma: no cover - ops are built by this package
                raise AssertionError(f"unknown op kind {kind}")
        _fill(msg, kinds, ints, hlcs, values, strs)
        if texts:
            msg.text = "".join(texts)

    def _add_field_sets(self, msg: changes_pb2.Change, kinds: list[int], ops: list[Op]) -> None:
        """The columns of a change of field writes only (a burst of ``set`` calls), column by
        column: the same bytes :meth:`add`'s per-op loop writes."""
        name_pos = self._name_pos
        names = [op[2] for op in ops]
        new = [name for name in dict.fromkeys(names) if name not in name_pos]
        if new:
            if _NESTED_MARK in "".join(new):  # (or elsewhere in a name: then too)
                for name in new:
                    self._name(name)
            else:  # plain top-level names: their own table entries, in order of first use
                start = len(self._names)
                name_pos.update(zip(new, range(start, start + len(new)), strict=True))
                self._names += new
        ints = list(map(name_pos.__getitem__, names))
        hlcs = [op[3] for op in ops]
        msg.kinds.extend(kinds)
        msg.ints.extend(ints)
        msg.hlcs.extend(map(sub, hlcs, [0, *hlcs]))
        msg.values = _dumps([op[4] for op in ops])

    def add_field_sets(
        self,
        client: int,
        start: int,
        deps: dict[int, int],
        names: list[str],
        hlcs: Sequence[int],
        values: Sequence[Any],
    ) -> None:
        """Append one change of field sets: ``names[i]`` set to ``values[i]`` with clock
        ``hlcs[i]`` at seq ``start + i``.

        The bytes :meth:`add` writes for those operations, written in bulk: each column is a
        few passes in C and the message is joined from its fields rather than built through
        the protobuf runtime.
        """
        if self._unindexed is not None:
            self._index_names()
        name_pos = self._name_pos
        if (name_pos and not name_pos.keys().isdisjoint(names)) or _NESTED_MARK in "".join(names):
            # A name already in the table, or one that needs escaping: the general way.
            seqs = range(start, start + len(names))
            ops: list[Op] = [
                (K.FIELD_SET, seq, name, hlc, value)
                for seq, name, hlc, value in zip(seqs, names, hlcs, values, strict=True)
            ]
            self.add(client, start, deps, ops)
            return
        pos = self._client(client)
        parts = [b"\x08" + _varint(pos) if pos else b"", b"\x10", _varint(start)]
        if deps:
            parts += (
                length_prefixed(b"\x1a", b"".join([_varint(self._client(c)) for c in deps])),
                length_prefixed(b"\x22", b"".join(map(_varint, deps.values()))),
            )
        n = len(names)
        first = len(self._names)
        self._names += names
        self._unindexed = first
        parts += (
            length_prefixed(b"\x2a", _FIELD_SET_KIND * n),
            length_prefixed(b"\x32", sint_range(first, n)),
            packed_sint_deltas(b"\x3a", hlcs),
            length_prefixed(b"\x42", json_array(values).encode()),
        )
        self.changes.append(b"".join(parts))

    def _index_names(self) -> None:
        first = cast(int, self._unindexed)
        self._name_pos.update(zip(self._names[first:], count(first)))
        self._unindexed = None

    def messages(self) -> list[changes_pb2.Change]:
        """The changes added so far as messages (those :meth:`add_field_sets` wrote as bytes
        parsed back): for a ``Snapshot``, which holds them as messages."""
        return [
            changes_pb2.Change.FromString(msg) if isinstance(msg, bytes) else msg
            for msg in self.changes
        ]

    @property
    def clients(self) -> list[str]:
        return self._clients

    @property
    def names(self) -> list[str]:
        return self._names

    def client_pos(self, idx: int) -> int:
        """The table position of document client ``idx`` (interning it)."""
        return self._client(idx)

    def name_pos(self, name: ContainerId) -> int:
        """The table position of ``name`` (interning it)."""
        if self._unindexed is not None:
            self._index_names()
        return self._name(name)

    def to_bytes(self) -> bytes:
        """Serialize as a ``ChangeSet``.

        The envelope (format = 1, clients = 2, names = 3, changes = 4) is written here and
        only the changes go through the protobuf runtime: building the whole message through
        it costs more than the rest of a one-keystroke export.
        """
        return self._fields([_FORMAT_FIELD], self._clients, self._names)

    def tail_bytes(self, first_client: int, first_name: int) -> bytes:
        """What follows the change set this writer continues (see :meth:`continuing`): the
        client table's entries from ``first_client`` on, the name table's from
        ``first_name`` on, and the changes, as fields of the same ``ChangeSet``, which a
        reader appends to the ones before."""
        return self._fields([], self._clients[first_client:], self._names[first_name:])

    def _fields(self, parts: list[bytes], clients: list[str], names: list[str]) -> bytes:
        """``parts`` followed by the table entries ``clients`` and ``names`` and the changes,
        joined."""
        for tag, table in ((b"\x12", clients), (b"\x1a", names)):
            if len(table) > 3:
                parts.append(table_entries(tag, table))
            else:  # (a keystroke's export: one client, one name; a call costs more than this)
                for text in table:
                    data = text.encode()
                    n = len(data)
                    parts += (tag, _ONE_BYTE_VARINTS[n] if n < 128 else _varint(n), data)
        for msg in self.changes:
            body = msg if isinstance(msg, bytes) else msg.SerializeToString()
            parts += (b"\x22", _varint(len(body)), body)
        return b"".join(parts)


_FIELD_SET_KIND = bytes([K.FIELD_SET])
_FORMAT_FIELD = b"\x08" + _varint(FORMAT)  # a ChangeSet's first field, the same every time


def canonical_changes(data: bytes) -> bytes:
    """``data``, a change set :meth:`~synckit.Document.apply` accepted, as the protobuf
    library writes it: its fields in order, each once, unknown fields dropped.

    For passing on bytes someone else wrote: every reader then parses what this replica's
    parser parsed, however lenient or strict its own protobuf library is with odd encodings
    (a field repeated, a known field with another wire type, unknown fields). It costs one
    parse and one write in C, far less than encoding the operations again.
    """
    msg = changes_pb2.ChangeSet.FromString(bytes(data))
    msg.DiscardUnknownFields()
    return msg.SerializeToString()


def parse_change_set(data: bytes) -> changes_pb2.ChangeSet:
    """Parse and version-check a ``ChangeSet``; DecodeError if it is not one."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidTypeError(f"changes must be bytes, got {type(data).__name__}")
    msg = changes_pb2.ChangeSet()
    try:
        msg.ParseFromString(bytes(data))
    except _ProtoDecodeError as exc:
        raise DecodeError(f"changes: not a valid protobuf ChangeSet ({exc})") from None
    if msg.format not in READS:
        if msg.format == 0 and not msg.changes and not msg.clients:
            raise DecodeError("changes: empty or not a ChangeSet (no format version)")
        raise UnsupportedFormatError(
            f"changes: format version {msg.format} is not supported "
            f"(this release reads {', '.join(map(str, READS))})"
        )
    return msg


def resolve_names(
    names: list[str], clients: list[int], fmt: int, what: str = "changes"
) -> list[ContainerId]:
    """The container ids a message's name table stands for.

    In format 1 every entry is a top-level name. From format 2 on an entry that starts with
    U+0000 is JSON after that character: a string is a top-level name that itself starts
    with U+0000; an array names a nested container by the position of its parent's entry
    (an earlier one) and its step: ``[parent, key, epoch client + 1, epoch seq]`` (0, 0:
    no epoch) for the container at a map's key, ``[parent, item client, item seq]`` for a
    list's item. ``clients`` maps the message's client positions to document indexes.
    """
    if fmt == 1:
        return names  # type: ignore[return-value]
    if _NESTED_MARK not in "".join(names):
        return names  # type: ignore[return-value]  # (the usual case: top-level names only)
    from synckit.core._map import MAX_DEPTH, depth_of

    out: list[ContainerId] = []
    n_clients = len(clients)
    for i, text in enumerate(names):
        if not text.startswith(_NESTED_MARK):
            out.append(text)
            continue
        where = f"{what}: name {i}"
        try:
            entry = _loads(text[1:])
        except (ValueError, RecursionError):
            raise DecodeError(f"{where} is neither a name nor a nested container") from None
        if type(entry) is str:
            if not entry.startswith(_NESTED_MARK):
                raise DecodeError(f"{where}: a plain name needs no escaping")
            if not _is_utf8(entry):
                raise DecodeError(f"{where}: the name is not valid Unicode (a lone surrogate)")
            out.append(entry)
            continue
        if type(entry) is not list or len(entry) not in (3, 4):
            raise DecodeError(f"{where}: a nested container needs 3 or 4 fields")
        parent = entry[0]
        if type(parent) is not int or not 0 <= parent < i:
            raise DecodeError(f"{where}: parent {parent!r} is not an earlier name")
        parent_id = out[parent]
        if depth_of(parent_id) + 1 > MAX_DEPTH:
            raise DecodeError(f"{where}: containers nest at most {MAX_DEPTH} levels deep")
        if len(entry) == 4:
            key, ec, es = entry[1], entry[2], entry[3]
            if type(key) is not str or type(ec) is not int or type(es) is not int:
                raise DecodeError(f"{where}: a map step is [parent, key, client, seq]")
            if not _is_utf8(key):
                raise DecodeError(f"{where}: the key is not valid Unicode (a lone surrogate)")
            epoch = _ref(ec - 1, es, clients, n_clients, where, True)
            out.append((parent_id, key, epoch))
        else:
            ic, iseq = entry[1], entry[2]
            if type(ic) is not int or type(iseq) is not int:
                raise DecodeError(f"{where}: a list step is [parent, client, seq]")
            item = _ref(ic, iseq, clients, n_clients, where, False)
            out.append((parent_id, item))
    return out


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_client_table(clients: list[str], what: str) -> None:
    """Client ids must be non-empty and distinct."""
    if "" in clients:
        raise DecodeError(f"{what}: empty client id in the client table")
    if len(set(clients)) != len(clients):
        seen = set()
        for c in clients:
            if c in seen:
                raise DecodeError(f"{what}: client id {c!r} appears twice in the client table")
            seen.add(c)


def decode_changes(
    changes: Iterable[changes_pb2.Change],
    clients: list[int],
    names: list[ContainerId],
    what: str = "changes",
) -> list[Change]:
    """Turn protobuf changes into :class:`Change` objects.

    ``clients`` maps the message's client table positions to document client indexes.
    Raises DecodeError naming the first thing that is wrong.
    """
    out: list[Change] = []
    n_clients = len(clients)
    n_names = len(names)
    for ci, msg in enumerate(changes):
        where = f"{what}: change {ci}"
        if msg.client >= n_clients:
            raise DecodeError(f"{where}: client index {msg.client} is outside the client table")
        if not 1 <= msg.start < _MAX_SEQ:
            raise DecodeError(f"{where}: start seq {msg.start} is out of range")
        # (Each access to a repeated field of a message costs about 0.1 µs, and copying
        # one even when empty 0.3 µs: this runs for every change received, so each is
        # read once, and empty ones are not copied.)
        dep_clients, dep_seqs = msg.dep_clients, msg.dep_seqs
        if len(dep_clients) != len(dep_seqs):
            raise DecodeError(f"{where}: dependency clients and seqs differ in number")
        client = clients[msg.client]
        deps: dict[int, int] = {}
        if dep_clients:
            deps = _plain_deps(dep_clients[:], dep_seqs[:], client, clients, n_clients)
        for dc, ds in zip(dep_clients, dep_seqs, strict=True) if dep_clients and not deps else ():
            if dc >= n_clients:
                raise DecodeError(f"{where}: dependency client index {dc} is outside the table")
            if ds >= _MAX_SEQ:
                raise DecodeError(f"{where}: dependency seq {ds} is out of range")
            dclient = clients[dc]
            if dclient == client:
                raise DecodeError(f"{where}: a change cannot depend on its own client")
            if ds:
                deps[dclient] = max(ds, deps.get(dclient, 0))
        if not msg.kinds:
            raise DecodeError(f"{where}: no operations")
        raw = msg.values
        try:
            values = _loads(raw) if raw else []
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"{where}: values are not valid JSON ({exc})") from None
        if type(values) is not list:
            raise DecodeError(f"{where}: values must be a JSON array")
        if "\\u" in raw:
            # An escape can spell a lone surrogate ("\\ud800"), which no replica could encode
            # again: holding one would make every later changes() and save() fail.
            try:
                _dumps(values).encode()
            except UnicodeEncodeError:
                raise DecodeError(
                    f"{where}: a value is not valid Unicode (a lone surrogate)"
                ) from None
        if len(h := msg.hlcs) >= FIELD_COLUMNS_AT and not msg.strs and not msg.text:
            # Many field writes (a first sync): read column by column (None: to the loop).
            writes = field_writes(msg.kinds[:], msg.ints[:], h[:], values, msg.start, names)
            if writes is not None:
                out.append(Change.of_field_writes(client, msg.start, deps, writes))
                continue
        ops = _decode_ops(msg, client, clients, names, n_names, values, where)
        out.append(Change(client, msg.start, deps, ops))
    return out


def _plain_deps(
    dcs: list[int], dss: list[int], client: int, clients: list[int], n_clients: int
) -> dict[int, int]:
    """The dependencies of a change at C speed when they need none of the per-entry rules
    of :func:`decode_changes`' loop: every client index in the table, every seq in range
    and above 0, no client twice, not the change's own client. Otherwise ``{}``, and the
    loop decides (and names the first problem)."""
    n = len(dcs)
    if max(dss) >= _MAX_SEQ or 0 in dss:
        return {}
    if dcs[-1] == n < n_clients and dcs == list(range(1, n + 1)):
        # How ChangeSetWriter numbers a message's first change: its author, then its
        # dependencies in order.
        keys = clients[1 : n + 1]
    elif max(dcs) < n_clients:
        keys = list(map(clients.__getitem__, dcs))
    else:
        return {}
    deps = dict(zip(keys, dss, strict=True))
    if len(deps) != n or client in deps:
        return {}
    return deps


def _decode_ops(
    msg: changes_pb2.Change,
    client: int,
    clients: list[int],
    names: list[ContainerId],
    n_names: int,
    values: list[JSONValue],
    where: str,
) -> list[Op]:
    # One tight loop with explicit cursors: this runs for every operation received.
    # A cursor past the end of its column raises IndexError: a truncated column.
    ints = msg.ints[:]
    hlcs = h[:] if (h := msg.hlcs) else []
    strs = t[:] if (t := msg.strs) else []
    # When every string is a valid list position key, keys need no check one by one.
    keys_ok = _all_keys(strs)
    if keys_ok and not msg.text:
        # A merge of list edits: read column by column (None: anything else, to the loop).
        kinds = msg.kinds[:]
        fast = list_ops(kinds, ints, hlcs, values, strs, msg.start, clients, names)
        if fast is not None:
            return fast
    n_clients = len(clients)
    ops: list[Op] = []
    append = ops.append
    seq = msg.start
    hlc = 0
    ii = hi = vi = si = ti = 0
    text = msg.text
    name: ContainerId = ""
    try:
        for kind in msg.kinds:
            nm = ints[ii]
            ii += 1
            if kind == K.SKIP:  # (first: a change set is often half skips)
                if not 1 <= nm < _MAX_SEQ:
                    raise DecodeError(f"{where}: skip count {nm} is out of range")
                append((kind, seq, nm))
                seq += nm
                continue
            if not 0 <= nm < n_names:
                raise DecodeError(f"{where}: name index {nm} is outside the name table")
            name = names[nm]
            if kind == K.FIELD_SET:
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                if type(name) is not str:
                    raise DecodeError(f"{where}: a field operation names a nested container")
                append((kind, seq, name, hlc, values[vi]))
                vi += 1
                seq += 1
            elif kind == K.TEXT_INSERT:
                lc, ls, rc, rs, n = ints[ii], ints[ii + 1], ints[ii + 2], ints[ii + 3], ints[ii + 4]
                ii += 5
                if not 0 < n <= len(text) - ti:
                    raise DecodeError(f"{where}: text insert length {n} is out of range")
                content = text[ti : ti + n]
                ti += n
                # (Valid references inline; _ref takes the rest: none, or an error.)
                left = (
                    (clients[lc - 1], ls)
                    if 0 < lc <= n_clients and 0 < ls < _MAX_SEQ
                    else _ref(lc - 1, ls, clients, n_clients, where, True)
                )
                right = (
                    (clients[rc - 1], rs)
                    if 0 < rc <= n_clients and 0 < rs < _MAX_SEQ
                    else _ref(rc - 1, rs, clients, n_clients, where, True)
                )
                append((kind, seq, name, left, right, content))
                seq += len(content)
            elif kind == K.TEXT_DELETE:
                tc, tf, count = ints[ii], ints[ii + 1], ints[ii + 2]
                ii += 3
                target = _ref(tc, tf, clients, n_clients, where, False)
                assert target is not None
                if count == 0 or abs(count) >= _MAX_SEQ or tf + count < 0:
                    raise DecodeError(f"{where}: text delete count {count} is out of range")
                append((kind, seq, name, target[0], target[1], count))
                seq += abs(count)
            elif kind == K.FIELD_DELETE:
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                if type(name) is not str:
                    raise DecodeError(f"{where}: a field operation names a nested container")
                append((kind, seq, name, hlc))
                seq += 1
            elif kind == K.COUNTER_ADD:
                append((kind, seq, name, ints[ii]))
                ii += 1
                seq += 1
            elif kind == K.SET_ADD:
                append((kind, seq, name, _scalar(values[vi], where)))
                vi += 1
                seq += 1
            elif kind == K.SET_REMOVE:
                n = ints[ii]
                ii += 1
                if not 0 <= n <= len(ints):
                    raise DecodeError(f"{where}: set remove tag count {n} is out of range")
                tags = []
                for _ in range(n):
                    tags.append(_ref(ints[ii], ints[ii + 1], clients, n_clients, where, False))
                    ii += 2
                append((kind, seq, name, _scalar(values[vi], where), tuple(tags)))
                vi += 1
                seq += 1
            elif kind == K.LIST_INSERT:
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                append(
                    (
                        kind,
                        seq,
                        name,
                        hlc,
                        values[vi],
                        (strs[si] if keys_ok else _key(strs[si], where)),
                    )
                )
                vi += 1
                si += 1
                seq += 1
            elif kind == K.LIST_MOVE:
                ic, iseq = ints[ii], ints[ii + 1]
                ii += 2
                # (A valid reference inline; _ref takes the rest: an error.)
                item = (
                    (clients[ic], iseq)
                    if 0 <= ic < n_clients and 0 < iseq < _MAX_SEQ
                    else _ref(ic, iseq, clients, n_clients, where, False)
                )
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                append(
                    (kind, seq, name, item, hlc, (strs[si] if keys_ok else _key(strs[si], where)))
                )
                si += 1
                seq += 1
            elif kind == K.LIST_DELETE:
                ic, iseq = ints[ii], ints[ii + 1]
                ii += 2
                item = (
                    (clients[ic], iseq)
                    if 0 <= ic < n_clients and 0 < iseq < _MAX_SEQ
                    else _ref(ic, iseq, clients, n_clients, where, False)
                )
                append((kind, seq, name, item))
                seq += 1
            elif kind in _MAP_KINDS:
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                key = strs[si]
                si += 1
                if kind == K.MAP_SET:
                    append((kind, seq, name, key, hlc, values[vi]))
                    vi += 1
                elif kind == K.MAP_DELETE:
                    append((kind, seq, name, key, hlc))
                else:
                    child, ec, es = ints[ii], ints[ii + 1], ints[ii + 2]
                    ii += 3
                    if not 1 <= child <= len(K.CHILD_KINDS):
                        raise DecodeError(f"{where}: unknown container kind {child}")
                    epoch = _ref(ec - 1, es, clients, n_clients, where, True)
                    append((kind, seq, name, key, hlc, child, epoch))
                seq += 1
            elif kind == K.LIST_CREATE:
                hlc += hlcs[hi]
                hi += 1
                if not 0 <= hlc < _MAX_HLC:
                    raise DecodeError(f"{where}: hybrid logical clock {hlc} is out of range")
                child = ints[ii]
                ii += 1
                if not 1 <= child <= len(K.CHILD_KINDS):
                    raise DecodeError(f"{where}: unknown container kind {child}")
                append(
                    (kind, seq, name, hlc, child, (strs[si] if keys_ok else _key(strs[si], where)))
                )
                si += 1
                seq += 1
            else:
                raise DecodeError(f"{where}: unknown operation kind {kind}")
    except IndexError:
        raise DecodeError(f"{where}: an operand column ends too early") from None
    if hlc >= _MAX_HLC:
        raise DecodeError(f"{where}: a hybrid logical clock is out of range")
    if seq >= _MAX_SEQ:
        raise DecodeError(f"{where}: seqs run past the maximum")
    if (ii, hi, vi, si, ti) == (len(ints), len(hlcs), len(values), len(strs), len(text)):
        return ops
    for used, size, label in (
        (ii, len(ints), "ints"),
        (hi, len(hlcs), "hlcs"),
        (vi, len(values), "values"),
        (si, len(strs), "strs"),
        (ti, len(text), "text"),
    ):
        if used != size:
            raise DecodeError(f"{where}: {label} column has more entries than the operations use")
    return ops


def _ref(
    c: int, s: int, clients: list[int], n_clients: int, where: str, optional: bool
) -> ItemId | None:
    if optional and c == -1:
        if s != 0:
            raise DecodeError(f"{where}: empty reference with a seq")
        return None
    if not 0 <= c < n_clients:
        raise DecodeError(f"{where}: client index {c} is outside the client table")
    if not 1 <= s < _MAX_SEQ:
        raise DecodeError(f"{where}: reference seq {s} is out of range")
    return (clients[c], s)


def _scalar(v: object, where: str) -> JSONValue:
    if isinstance(v, list | dict):
        raise DecodeError(f"{where}: set member must be a JSON scalar, got {type(v).__name__}")
    return v  # type: ignore[return-value]


_MAP_KINDS = frozenset((K.MAP_SET, K.MAP_DELETE, K.MAP_CREATE))
_KEY_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_KEY_BYTES = "".join(sorted(_KEY_CHARS)).encode()


def _all_keys(strs: list[str]) -> bool:
    """Whether every string of ``strs`` is a valid list position key (what :func:`_key`
    checks of one), in a few passes at C speed over them joined: the key characters are
    exactly the ASCII letters and digits, which ``bytes.translate`` deletes (``isalnum``
    would look each character up in the Unicode tables: 40 times slower)."""
    if not strs or not all(strs):  # (none, or an empty key)
        return False
    joined = "".join(strs)
    sep = "\x01"
    return (
        joined.isascii()
        and not joined.encode().translate(None, _KEY_BYTES)
        and "0" + sep not in sep.join(strs) + sep  # (a key ending in 0)
    )


def _key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key or key[-1] == "0" or not _KEY_CHARS.issuperset(key):
        raise DecodeError(f"{where}: invalid list position key {key!r}")
    return key


def _fill(
    msg: changes_pb2.Change,
    kinds: list[int],
    ints: list[int],
    hlcs: list[int],
    values: list[JSONValue],
    strs: list[str],
) -> None:
    """Put a change's columns into ``msg`` (empty optional ones left out, as protobuf would)."""
    msg.kinds.extend(kinds)
    msg.ints.extend(ints)
    if hlcs:
        msg.hlcs.extend(hlcs)
    if values:
        msg.values = _dumps(values)
    if strs:
        msg.strs.extend(strs)
