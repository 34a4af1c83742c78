"""What a document sends: the operations a replica at some version lacks, cut into changes.

``Document.changes(since)`` is :func:`changes`. For each client, the operations after the
seq ``since`` holds come from three places, merged in seq order: the document's log (every
kind but field writes and text edits), the fields (the latest write of each field; the seq
of a write that lost becomes a SKIP) and each text's own history. They are then cut at the
client's checkpoints, so every change carries the dependencies its author had when it
made those operations (see :mod:`synckit.core._document`).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from synckit.core import _ops as K
from synckit.core._codec import ChangeSetWriter
from synckit.core._host import DELETED, NO_DEPS
from synckit.core._ops import Op, op_width, seq_of, split_op
from synckit.core._version import VersionVector
from synckit.errors import InvalidTypeError

if TYPE_CHECKING:
    from synckit.core._document import Document

__all__ = ["changes", "write_changes"]

_first = itemgetter(0)
_seq = itemgetter(1)  # seq_of, at C speed


def changes(
    doc: Document, since: VersionVector | None = None, until: VersionVector | None = None
) -> bytes:
    """Exactly the operations a replica at version ``since`` lacks (None: everything), and
    of those only the ones ``until`` covers (None: all), so that a long history can be sent
    in parts: ``changes(a, b)`` then ``changes(b)``.

    The bytes are a protobuf ``synckit.v1.ChangeSet`` for :meth:`~synckit.Document.apply`.
    """
    for name, vv in (("since", since), ("until", until)):
        if vv is not None and not isinstance(vv, VersionVector):
            raise InvalidTypeError(
                f"{name} must be a VersionVector or None, got {type(vv).__name__}"
            )
    writer = ChangeSetWriter(doc._clients)
    write_changes(doc, writer, since, until)
    return writer.to_bytes()


def write_changes(
    doc: Document,
    writer: ChangeSetWriter,
    since: VersionVector | None,
    until: VersionVector | None,
) -> None:
    """Add to ``writer`` what :func:`changes` gives for ``since`` and ``until``."""
    clients = doc._clients
    held = since._seqs if since is not None else {}
    upto = until._seqs if until is not None else None
    for c, have in enumerate(doc._vv):
        after = held.get(clients[c], 0)
        if upto is not None:
            have = min(have, upto.get(clients[c], 0))
        if have > after:
            _write_client(doc, writer, c, after, have)


def _ops_since(doc: Document, c: int, after: int) -> list[Op]:
    """Client ``c``'s operations after seq ``after`` in seq order, gaps filled by SKIPs."""
    log = doc._log[c]
    if log and log[-1][1] + op_width(log[-1]) - 1 > after:
        i = bisect_right(log, after, key=seq_of)
        ops = log[i:]
        if i > 0:
            prev = log[i - 1]
            if prev[0] == K.SKIP and prev[1] + prev[2] - 1 > after:
                ops.insert(0, (K.SKIP, after + 1, prev[1] + prev[2] - 1 - after))
    else:
        ops = []
    sources = 1 if ops else 0
    fields_only = False
    if doc._field_top[c] > after:
        fields_only = not ops
        sources += 2  # newest first: always sort
        for name, (hlc, writer, seq, value) in reversed(doc._fields.items()):
            if writer == c:
                if seq <= after:
                    break  # every older entry of this client is older still
                if value is DELETED:
                    ops.append((K.FIELD_DELETE, seq, name, hlc))
                else:
                    ops.append((K.FIELD_SET, seq, name, hlc, value))
    for tname, text in doc._texts.items():
        text_ops = text.ops_since(c, after)
        if text_ops:
            sources += 1
            fields_only = False
            for top in text_ops:
                if top[0] == "i":
                    ops.append((K.TEXT_INSERT, top[1], tname, top[2], top[3], top[4]))
                else:
                    ops.append((K.TEXT_DELETE, top[1], tname, top[2], top[3], top[4]))
    if fields_only:
        # Field writes only, newest first: every entry's seq is below the one before.
        ops.reverse()
        n = len(ops)
        if n and ops[0][1] == after + 1 and ops[-1][1] == after + n:
            # Strictly increasing, n of them from after + 1 to after + n: no gaps.
            if after + n < doc._vv[c]:
                ops.append((K.SKIP, after + n + 1, doc._vv[c] - after - n))
            return ops
    elif sources > 1:
        ops.sort(key=_seq)
    elif ops and ops[0][1] == after + 1 and ops[-1][1] == after + len(ops):
        # The log's ops alone, one seq after another (no gap): nothing to fill but the end.
        expect = ops[-1][1] + op_width(ops[-1])
        if expect <= doc._vv[c]:
            ops.append((K.SKIP, expect, doc._vv[c] - expect + 1))
        return ops
    # Seqs of writes that lost (or of skips made elsewhere) become SKIPs.
    filled: list[Op] = []
    append = filled.append
    expect = after + 1
    text_insert, text_delete, skip = K.TEXT_INSERT, K.TEXT_DELETE, K.SKIP
    for op in ops:
        seq = op[1]
        if seq > expect:
            append((skip, expect, seq - expect))
        append(op)
        # (op_width, inline: this runs for every operation sent)
        kind = op[0]
        if kind == text_insert:
            expect = seq + len(op[5])
        elif kind == text_delete:
            expect = seq + abs(op[5])
        elif kind == skip:
            expect = seq + op[2]
        else:
            expect = seq + 1
    if expect <= doc._vv[c]:
        filled.append((K.SKIP, expect, doc._vv[c] - expect + 1))
    return filled


def _cut(c: int, ops: list[Op], last: int) -> list[Op]:
    """``ops`` (in seq order) up to seq ``last``, a run spanning it split there."""
    i = bisect_right(ops, last, key=seq_of)
    kept = ops[:i]
    if kept:
        op = kept[-1]
        width = op_width(op)
        if op[1] + width - 1 > last:
            kept[-1] = split_op(c, op, last - op[1] + 1)[0]
    return kept


def _field_sets(
    doc: Document, c: int, after: int, upto: int
) -> tuple[list[str], tuple[int, ...], tuple[Any, ...]] | None:
    """When client ``c``'s operations after seq ``after`` up to seq ``upto`` are all field
    sets still in ``doc._fields`` (the usual case after a burst of ``set`` calls): their
    names, clocks and values in seq order. Otherwise None.

    ``_fields`` holds one client's entries in seq order, so when its newest ``upto - after``
    entries are all of ``c`` with the newest at ``upto`` and the oldest at ``after + 1``, they
    are every seq of that range: no other operation, and no write that lost, is among them.
    """
    n = upto - after
    fields = doc._fields
    if n > len(fields):
        return None
    entries = list(islice(reversed(fields.values()), n))
    if entries[0][2] != upto or entries[-1][2] != after + 1:
        return None
    entries.reverse()
    hlcs, writers, _, values = zip(*entries, strict=True)
    if writers.count(c) != n or DELETED in values:
        return None  # (another client's entries among them, or a delete: the general way)
    names = list(islice(reversed(fields), n))
    names.reverse()
    return names, hlcs, values


def _write_client(doc: Document, writer: ChangeSetWriter, c: int, after: int, upto: int) -> None:
    """Add client ``c``'s operations after seq ``after`` up to seq ``upto``, cut at its
    checkpoints."""
    if doc._field_top[c] == upto:
        cps = doc._checkpoints[c]
        if not cps or after + 1 >= cps[-1][0]:
            run = _field_sets(doc, c, after, upto)
            if run is not None:
                writer.add_field_sets(c, after + 1, cps[-1][1] if cps else NO_DEPS, *run)
                return
    ops = _ops_since(doc, c, after)
    if upto < doc._vv[c]:
        ops = _cut(c, ops, upto)
    cps = doc._checkpoints[c]
    if not cps:
        writer.add(c, ops[0][1], NO_DEPS, ops)
        return
    if ops[0][1] >= cps[-1][0]:
        # The common case: everything lies after the latest checkpoint; one change.
        writer.add(c, ops[0][1], cps[-1][1], ops)
        return
    last = len(cps) - 1
    k = bisect_right(cps, ops[0][1], key=_first) - 1

    def deps(k: int) -> dict[int, int]:
        return cps[k][1] if k >= 0 else NO_DEPS

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
            head, op = split_op(c, op, cps[k + 1][0] - seq)
            group.append(head)
            writer.add(c, group[0][1], deps(k), group)
            group = []
            seq = op[1]
            k += 1
        group.append(op)
    if group:
        writer.add(c, group[0][1], deps(k), group)
