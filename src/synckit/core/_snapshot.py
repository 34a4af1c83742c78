"""Snapshots: ``Document.save`` and ``Document.load``.

A snapshot (``synckit.v1.Snapshot``, see ``docs/format.md``) holds the client table, the
version, the dependency checkpoints, every operation of the document's log and the latest
write of each field as gap-free runs, each text as its encoded state (DEFLATE-compressed
when long), the changes still waiting for predecessors, and a CRC-32 of all that.

Loading checks everything before trusting it: the checksum and format version, that the
checkpoints admit a causal order, that no two operations share a seq or lie beyond the
version, and that every reference points to an item its author had seen. A bad snapshot
raises DecodeError.

A snapshot loaded with a :class:`~synckit.core._snapshot_key.SnapshotKey` and a tag that
verifies was written by this code (the key's holder tagged what ``save`` returned), so the
load skips the checks only a hostile author needs: the CRC (the keyed hash covers the bytes),
the causal order of the checkpoints, and that operations and text items fit the version and
what their authors had seen; and its texts are decoded on first use
(:meth:`~synckit.core._text.TextState.decode_later`: reading a text needs no decoding). A tag
that does not verify changes nothing: every check runs.
"""

from __future__ import annotations

import sys
import zlib
from bisect import bisect_right
from itertools import chain, compress, islice, pairwise, repeat
from operator import add, and_, eq, ge, gt, ne, not_
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.core import _ops as K
from synckit.core._causal_order import check_causal_order as _check_causal_order
from synckit.core._codec import (
    FORMAT,
    READS,
    ChangeSetWriter,
    check_client_table,
    decode_changes,
    parse_change_set,
    resolve_names,
)
from synckit.core._field_columns import integrate_fields
from synckit.core._host import DELETED, EMPTY, NO_DEPS, NONE
from synckit.core._ids import ContainerId
from synckit.core._ops import Op, op_width, seq_of
from synckit.core._remote import waiting_changes
from synckit.core._snapshot_key import SnapshotKey
from synckit.core._text import History as TextHistory
from synckit.core._text import TextState
from synckit.errors import (
    DecodeError,
    InvalidTypeError,
    InvalidValueError,
    UnsupportedFormatError,
)
from synckit.v1 import changes_pb2

if TYPE_CHECKING:
    from synckit.core._document import Clock, Document

__all__ = ["load", "save"]

#: Texts at least this long are saved DEFLATE-compressed (TextState.content_deflate).
_DEFLATE_FROM = 256
_DEFLATE_LEVEL = 1  # (6 took 4x as long for 20 % fewer bytes: 2.7 vs 0.76 ms on the paper trace)
#: Protobuf tag of Snapshot.checksum (field 11, fixed32), always the last 5 bytes but 4.
_CHECKSUM_TAG = bytes([11 << 3 | 5])


def save(doc: Document) -> bytes:
    """A compact snapshot of everything this replica holds (``synckit.v1.Snapshot``)."""
    snap = changes_pb2.Snapshot(format=FORMAT, hlc=doc._hlc)
    writer = ChangeSetWriter(doc._clients)
    # Intern every client first so the snapshot's table matches the version.
    for c in range(len(doc._clients)):
        writer.client_pos(c)
    per_client: list[list[Op]] = [list(log) for log in doc._log]
    for name, (hlc, c, seq, value) in doc._fields.items():
        if value is DELETED:
            per_client[c].append((K.FIELD_DELETE, seq, name, hlc))
        else:
            per_client[c].append((K.FIELD_SET, seq, name, hlc, value))
    for c, ops in enumerate(per_client):
        ops.sort(key=seq_of)
        # Runs of consecutive seqs, so each change is gap-free.
        run: list[Op] = []
        for op in ops:
            if run and run[-1][1] + op_width(run[-1]) != op[1]:
                writer.add(c, run[0][1], {}, run)
                run = []
            run.append(op)
        if run:
            writer.add(c, run[0][1], {}, run)
    for tname, text in doc._texts.items():
        ints, content, deletes = text.encode_state()
        # (add builds the message in place; append would copy a finished one)
        state = snap.texts.add(name=writer.name_pos(tname), ints=ints, deletes=deletes)
        if len(content) >= _DEFLATE_FROM:
            state.content_deflate = zlib.compress(content.encode(), _DEFLATE_LEVEL)
        else:
            state.content = content
    snap.version_clients.extend(range(len(doc._clients)))
    snap.version_seqs.extend(doc._vv)
    flat: list[int] = []
    for c, cps in enumerate(doc._checkpoints):
        for start, deps in cps:
            flat += (c, start, len(deps))
            flat += chain.from_iterable(deps.items())
    snap.checkpoints.extend(flat)
    if doc._pending:
        snap.pending = waiting_changes(doc)
    snap.changes.extend(writer.messages())
    snap.clients.extend(writer.clients)
    snap.names.extend(writer.names)
    body = snap.SerializeToString()
    return body + _CHECKSUM_TAG + zlib.crc32(body).to_bytes(4, "little")


def load(
    cls: type[Document],
    data: bytes,
    client_id: str | None = None,
    *,
    clock: Clock | None = None,
    key: SnapshotKey | None = None,
    tag: bytes | None = None,
) -> Document:
    """Rebuild a document from :meth:`~synckit.Document.save` bytes.

    Loading with a ``client_id`` that already wrote into the snapshot continues that
    client's sequence. Raises DecodeError when the bytes are not a valid snapshot.

    ``key`` and ``tag``: when ``tag`` is ``key.tag(data)`` (:class:`SnapshotKey`), the bytes
    are a snapshot this key's holder saved, and the checks only a hostile author needs are
    skipped; with any other tag (or none) every check runs.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidTypeError(f"Document.load takes bytes, got {type(data).__name__}")
    if key is not None and not isinstance(key, SnapshotKey):
        raise InvalidTypeError(f"Document.load key must be a SnapshotKey, got {type(key).__name__}")
    if tag is not None and key is None:
        raise InvalidValueError(
            "Document.load: a snapshot tag needs the SnapshotKey it was made with"
        )
    data = bytes(data)
    trusted = key is not None and tag is not None and key.verify(data, tag)
    return _load(cls, data, client_id, clock, trusted)


def load_own(cls: type[Document], data: bytes, client_id: str, clock: Clock) -> Document:
    """:func:`load` of bytes this process's own :func:`save` returned and kept in memory
    (``Document.compact``): trusted like a tagged snapshot, without the keyed hash."""
    return _load(cls, data, client_id, clock, True)


def _load(
    cls: type[Document], data: bytes, client_id: str | None, clock: Clock | None, trusted: bool
) -> Document:
    sealed = len(data) >= 5 and data[-5] == _CHECKSUM_TAG[0]
    intact = sealed and (
        trusted or zlib.crc32(memoryview(data)[:-5]) == int.from_bytes(data[-4:], "little")
    )
    snap = changes_pb2.Snapshot()
    try:
        snap.ParseFromString(data)
    except _ProtoDecodeError as exc:
        if sealed and not intact:
            raise DecodeError("snapshot: checksum mismatch (corrupt or truncated)") from None
        raise DecodeError(f"snapshot: truncated or not a protobuf Snapshot ({exc})") from None
    if snap.format not in READS:
        if snap.format == 0:
            raise DecodeError("snapshot: empty or not a Snapshot (no format version)")
        raise UnsupportedFormatError(
            f"snapshot: format version {snap.format} is not supported "
            f"(this release reads {', '.join(map(str, READS))})"
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
    doc._version_memo = None
    doc._version_stale = set()
    for c in clients:
        doc._intern(c)
    doc._me = doc._intern(doc._client_id)
    n = len(clients)
    try:
        _load_body(doc, snap, n, trusted)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise DecodeError(f"snapshot: inconsistent contents ({exc})") from None
    return doc


def _check_loaded_ops(
    doc: Document, text_seqs: dict[int, list[tuple[list[int], list[int]]]]
) -> None:
    """No two operations of a client share a seq, and none lies beyond the version.

    ``text_seqs``: per client, the seqs its text items and deletes take (see
    :class:`~synckit.core._text.History`), as sorted ``(firsts, lasts)`` runs.
    """
    runs: list[list[tuple[int, int]]] = [[(op[1], op_width(op)) for op in log] for log in doc._log]
    for _, c, seq, _ in doc._fields.values():
        runs[c].append((seq, 1))
    for c, client_runs in enumerate(runs):
        _check_seq_runs(client_runs, doc._vv[c])
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
        if firsts[0] < 1 or lasts[-1] > doc._vv[c]:
            raise DecodeError("snapshot: a text operation lies beyond the snapshot's version")


def _check_loaded_path(doc: Document, history: TextHistory, c: int, seq: int, cid: Any) -> None:
    """The steps to the nested container of operation ``c:seq`` name what its author had
    seen: each list item on the way held, each map epoch seen (as ``apply`` checks; else
    the document's changes would be refused by every other replica)."""
    while type(cid) is tuple:
        parent = cid[0]
        if len(cid) == 2:
            lst = doc._lists.get(parent)
            if not (lst is not None and lst.has_item(cid[1])):
                raise DecodeError(
                    "snapshot: an operation is in the container of an unknown list item"
                )
            ref = cid[1]
        else:
            ref = cid[2]
        if ref is not None and not history.saw(c, seq, ref):
            raise DecodeError(
                "snapshot: an operation is in a container made after it (or by a client it "
                "did not depend on)"
            )
        cid = parent


def _check_text_path(
    doc: Document,
    history: TextHistory,
    tname: tuple[Any, ...],
    text: TextState,
    cp_starts: list[list[int]],
) -> None:
    """The path to the nested text ``tname``, checked for its operations as ``apply`` checks
    the changes ``changes`` makes of them: once per change, that is per client and
    checkpoint, with the change's first operation in the text. (The lowest seq is the
    strictest: an item the author made itself must be older than the operation, and
    within one checkpoint the dependencies are the same.) ``cp_starts``: per client, the
    first seqs of its checkpoints."""
    for c, runs in text.op_runs().items():
        for seq in _firsts_per_checkpoint(runs, cp_starts[c]):
            _check_loaded_path(doc, history, c, seq, tname)


def _firsts_per_checkpoint(runs: list[tuple[int, int]], starts: list[int]) -> list[int]:
    """The lowest seq of ``runs`` (``(first, last)`` seq ranges of one client) after each
    of its checkpoints (first seqs ``starts``, in order) that they reach, and before the
    first one."""
    runs.sort()
    out: list[int] = []
    k = -2  # the checkpoint of the seq kept last (-1: before the first one)
    for first, last in runs:
        j = bisect_right(starts, first) - 1
        if j > k:
            out.append(first)
            k = j
        while k + 1 < len(starts) and starts[k + 1] <= last:  # a run spans a checkpoint
            k += 1
            out.append(starts[k])
    return out


def _load_body(doc: Document, snap: changes_pb2.Snapshot, n: int, trusted: bool) -> None:
    names = resolve_names(list(snap.names), list(range(n)), snap.format, "snapshot")
    if len(snap.version_clients) != len(snap.version_seqs):
        raise DecodeError("snapshot: version clients and seqs differ in number")
    for vc, vs in zip(snap.version_clients, snap.version_seqs, strict=True):
        if vc >= n:
            raise DecodeError(f"snapshot: version client index {vc} outside the table")
        doc._vv[vc] = vs
    doc._hlc = snap.hlc
    _load_checkpoints(doc, snap.checkpoints[:], n, trusted)
    if not trusted:  # (and every dependency on a known client, within the version)
        _check_causal_order(doc._checkpoints, doc._vv)
    history = TextHistory(doc._vv, doc._checkpoints)
    changes = decode_changes(snap.changes, list(range(n)), names, "snapshot")
    second_pass: list[tuple[int, Op]] = []
    nested: list[tuple[int, Op]] = []  # operations in nested containers
    epochs: list[tuple[int, Op]] = []  # map creations that replace a write
    ends = [0] * n  # per client, the last seq of its changes so far
    for ch in changes:
        log = doc._log[ch.client]
        # In seq order, field writes included: the document keeps each client's field
        # writes in seq order (Document._fields), and `changes` relies on it.
        if ch.start <= ends[ch.client]:
            raise DecodeError("snapshot: a client's operations are out of order")
        ends[ch.client] = ch.end
        if ch.end > doc._vv[ch.client]:
            raise DecodeError("snapshot: an operation lies beyond the snapshot's version")
        writes = ch.field_writes
        if (
            writes is not None
            and (top := integrate_fields(doc._fields, doc._clients, ch, None)) is not None
        ):
            # Field writes (and skips, not logged: see the loop below): in bulk.
            doc._hlc = max(doc._hlc, top)
            doc._field_top[ch.client] = max(doc._field_top[ch.client], writes.seqs[-1])
            continue
        writer = doc._clients[ch.client]
        for op in ch.ops:
            if op[0] in (K.TEXT_INSERT, K.TEXT_DELETE):
                raise DecodeError("snapshot: text operations belong in text states")
            if op[0] not in (K.FIELD_SET, K.FIELD_DELETE, K.SKIP):  # (see _integrate)
                if log is NONE:
                    log = doc._log[ch.client] = []
                log.append(op)
            if type(op[2]) is tuple:
                nested.append((ch.client, op))
            if op[0] == K.MAP_CREATE and op[6] is not None:
                epochs.append((ch.client, op))
            if op[0] in (K.LIST_MOVE, K.LIST_DELETE, K.SET_REMOVE):
                second_pass.append((ch.client, op))
            elif op[0] != K.SKIP:
                doc._apply_op(ch.client, writer, op)
    for c, op in second_pass:
        lst = doc._lists.get(op[2])
        if op[0] != K.SET_REMOVE and not (lst is not None and lst.has_item(op[3])):
            raise DecodeError("snapshot: a list operation refers to an unknown item")
        refs = op[4] if op[0] == K.SET_REMOVE else (op[3],)
        if not trusted and not all(history.saw(c, op[1], ref) for ref in refs):
            raise DecodeError(
                "snapshot: an operation refers to an item made after it (or by a client "
                "it did not depend on)"
            )
        doc._apply_op(c, doc._clients[c], op)
    if not trusted:
        for c, op in nested:
            _check_loaded_path(doc, history, c, op[1], op[2])
        for c, op in epochs:
            if not history.saw(c, op[1], op[6]):
                raise DecodeError(
                    "snapshot: a map operation replaces a write made after it (or by a "
                    "client it did not depend on)"
                )
    cp_starts: list[list[int]] | None = None  # per client, its checkpoints' first seqs
    for ts in snap.texts:
        if ts.name >= len(names):
            raise DecodeError("snapshot: text name index outside the name table")
        tname = names[ts.name]
        if tname in doc._texts:
            raise DecodeError(f"snapshot: text {tname!r} appears twice")
        if doc._texts is EMPTY:
            doc._texts = {}
        content = ts.content
        if ts.content_deflate:
            if content:
                raise DecodeError(f"snapshot: text {tname!r} has both plain and deflated text")
            content = _inflate_text(ts.content_deflate, sum(doc._vv), tname)
        if trusted:  # decoded on first use (reading the text needs none)
            doc._texts[tname] = TextState.decode_later(doc._clients, ts.ints, content, ts.deletes)
            continue
        text = doc._texts[tname] = TextState.decode_state(
            doc._clients, ts.ints[:], content, ts.deletes[:], history
        )
        if type(tname) is tuple:
            if cp_starts is None:
                cp_starts = [[start for start, _ in cps] for cps in doc._checkpoints]
            _check_text_path(doc, history, tname, text, cp_starts)
    if not trusted:
        _check_loaded_ops(doc, history.used)
    if snap.pending:
        msg = parse_change_set(snap.pending)
        check_client_table(msg.clients[:], "snapshot pending")
        idx = [doc._intern(c) for c in msg.clients]
        pending_names = resolve_names(list(msg.names), idx, msg.format, "snapshot pending")
        doc._pending = decode_changes(msg.changes, idx, pending_names, "snapshot pending")


def _load_checkpoints(doc: Document, flat: list[int], n: int, trusted: bool) -> None:
    """The dependency checkpoints, checked: known clients, starts in order and within the
    version, dependencies on other clients within the version, no client named twice.

    One Python step per checkpoint reads its client and start and builds its dict from
    the next pairs of one shared iterator (``islice`` over ``zip(it, it)``); every check
    then runs as C-level passes over all of them (:func:`_check_checkpoints`). ``trusted``
    (bytes this code wrote) keeps only what decoding needs: known clients, and every
    checkpoint whole.
    """
    it = iter(flat)
    pairs = zip(it, it, strict=False)  # (a truncated pair ends it: the count below tells)
    cs: list[int] = []
    starts: list[int] = []
    ks: list[int] = []  # how many dependencies each one says it has
    deps: list[dict[int, int]] = []
    try:
        for c in it:
            cs.append(c)
            starts.append(next(it))
            k = next(it)
            ks.append(k)
            deps.append(dict(islice(pairs, k)))
    except StopIteration:
        raise DecodeError("snapshot: invalid dependency checkpoint") from None
    if not cs:
        return
    # Every checkpoint whole: a count past the end (the ints ran out), or a client named
    # twice, leaves a dict smaller than its count.
    if list(map(len, deps)) != ks or max(cs) >= n:
        raise DecodeError("snapshot: invalid dependency checkpoint")
    for j in compress(range(len(deps)), map(not_, ks)):
        deps[j] = NO_DEPS
    if any(map(gt, cs, islice(cs, 1, None))):
        # Not grouped by client (save groups them): each client's in the order given.
        order = sorted(range(len(cs)), key=cs.__getitem__)
        cs = list(map(cs.__getitem__, order))
        starts = list(map(starts.__getitem__, order))
        deps = list(map(deps.__getitem__, order))
    if not trusted:
        _check_checkpoints(doc._vv, cs, starts, deps)
    cpl = doc._checkpoints
    bounds = [0, *compress(range(1, len(cs)), map(ne, islice(cs, 1, None), cs)), len(cs)]
    for lo, hi in pairwise(bounds):
        cpl[cs[lo]] = list(zip(starts[lo:hi], deps[lo:hi], strict=True))


def _check_checkpoints(
    vv: list[int], cs: list[int], starts: list[int], deps: list[dict[int, int]]
) -> None:
    """DecodeError unless the checkpoints (grouped by client, each client's in order) start
    at seq 1 or later, each after the client's previous one and at most one past its
    version, and depend on clients other than their own. (That the dependencies name
    known clients within the version, the causal-order check checks as it plays the
    order out: :func:`~synckit.core._causal_order.check_causal_order`.)"""
    if min(starts) < 1:
        raise DecodeError("snapshot: invalid dependency checkpoint")
    same = map(eq, cs, islice(cs, 1, None))
    if any(map(and_, same, map(ge, starts, islice(starts, 1, None)))) or any(
        map(gt, starts, map(add, map(vv.__getitem__, cs), repeat(1)))
    ):
        raise DecodeError("snapshot: dependency checkpoints out of order")
    if any(map(dict.__contains__, deps, cs)):
        raise DecodeError("snapshot: dependency checkpoint beyond the snapshot's version")


def _inflate_text(data: bytes, max_chars: int, name: ContainerId) -> str:
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
