"""Applying changes from other replicas: ``Document.apply`` and ``Document.merge``.

Applying runs in three steps, and touches the document only in the last:

1. **Plan** (:func:`_plan`): of the changes that arrived and those waiting (``_pending``),
   order the ones whose causal predecessors are all here, trimmed of what is held already;
   the others wait.
2. **Check** (:func:`_check_refs`, within the plan): every item an operation refers to
   exists and had been seen by its author. A bad change that arrived raises DecodeError,
   so bad bytes change nothing; a bad one that was waiting is dropped.
3. **Integrate** (:func:`_integrate`): apply the planned changes in order, each operation
   through ``Document._apply_op`` (text edits through the text's state), and tell the
   subscribers which names changed, with each text's edits when one of them wants them.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import starmap
from operator import attrgetter, ge, itemgetter
from typing import TYPE_CHECKING, Any, cast

from synckit.core import _ops as K
from synckit.core._change import Change, missing
from synckit.core._codec import (
    ChangeSetWriter,
    check_client_table,
    decode_changes,
    parse_change_set,
    resolve_names,
)
from synckit.core._created import Created
from synckit.core._events import TextEdit, WithoutTextEdits
from synckit.core._field_columns import FIELD_COLUMNS_AT, integrate_fields
from synckit.core._host import DELETED, NONE
from synckit.core._ids import ContainerId, ItemId
from synckit.core._list import ListItem
from synckit.core._list_columns import LIST_EDITS
from synckit.core._list_merge import BATCH_AT, check_list_edits, integrate_list_edits
from synckit.core._ops import Op, op_width, split_op
from synckit.core._screen import ChangeReview, Screen
from synckit.core._work import WorkMeter
from synckit.errors import DecodeError, LimitExceededError, TooManyClientsError

_intern = sys.intern

if TYPE_CHECKING:
    from synckit.core._document import Document
    from synckit.core._list import ListState
    from synckit.core._text import TextState

__all__ = ["apply", "count_ops", "merge", "waiting_changes"]


def apply(
    doc: Document,
    data: bytes,
    *,
    screen: Screen | None = None,
    max_ops: int = 0,
    max_work: int = 0,
    max_new_clients: int = 0,
) -> None:
    """Apply changes made by :meth:`~synckit.Document.changes` on any replica.

    Idempotent and order-free: changes already held are ignored, and changes whose
    causal predecessors have not arrived wait inside the document and apply when they do.

    ``screen``, when given, is called with a :class:`~synckit.core.ChangeReview` of the
    decoded changes before anything changes; what it raises refuses them all, and the
    document is left exactly as it was (see :mod:`synckit.core._screen`).

    ``max_ops`` (0: no limit) bounds the operations the bytes may hold: merging costs time
    per operation (a few microseconds each, a character inserted at a scattered place about
    ten), so bytes alone do not bound it. More are refused right after parsing, before any
    is decoded.

    ``max_new_clients`` (0: no limit) bounds the client ids the bytes' table may name that
    the document has not heard of: each is kept with the document for good (its tables, its
    snapshots), used or not. More are refused before any is added.

    ``max_work`` (0: no limit) bounds the work of the merge that is not a fixed cost per
    operation (see :mod:`synckit.core._work`): inserts into a gap where very many characters
    were inserted, deletes spread over very many items. Unlike the other checks, this one
    can only stop the merge part way: on WorkLimitExceededError the document may hold part
    of the changes and is to be discarded. It is meant for a server, which then loads the
    document again from what it stored; honest changes stay far below any sensible limit.

    Raises:
        DecodeError: the bytes are corrupt, truncated, hostile or of an unknown format;
            the document is left exactly as it was.
        LimitExceededError: the bytes hold more than ``max_ops`` operations; the document
            is left exactly as it was.
        TooManyClientsError: the table names more than ``max_new_clients`` new client ids;
            the document is left exactly as it was.
        WorkLimitExceededError: the merge passed ``max_work``; discard the document.
    """
    msg = parse_change_set(data)
    if max_ops:
        check_op_count(msg, max_ops)
    client_ids = msg.clients[:]
    # Look the table's clients up at C speed, intern only new ones.
    found = list(map(doc._client_index.get, client_ids))
    if max_new_clients and None in found:
        new = found.count(None)
        if new > max_new_clients:
            raise TooManyClientsError(
                f"changes name {new} client ids this document has not heard of, more than "
                f"the limit of {max_new_clients}"
            )
    check_client_table(client_ids, "changes")
    n_clients = len(doc._clients)
    try:
        if None in found:
            intern = doc._intern
            idx = [intern(c) if i is None else i for c, i in zip(client_ids, found, strict=True)]
        else:
            idx = cast(list[int], found)
        resolved = resolve_names(msg.names[:], idx, msg.format)
        incoming = decode_changes(msg.changes, idx, resolved)
        if screen is not None:
            screen(ChangeReview(doc, incoming, msg))
        if doc._pending:
            awaited = _awaited(doc)
            incoming = [ch for ch in incoming if not awaited.covers(ch)]
            # Planned alone first: the waiting changes are looked at again only when what
            # they wait for may have come (every merge into a document with changes waiting
            # for good would otherwise pay for all of them).
            ready, waiting = _plan(doc, [], incoming)
            if awaited.may_wake(doc._vv, ready):
                ready, doc._pending = _plan(doc, doc._pending, incoming)
            elif waiting:
                doc._pending = [*doc._pending, *waiting]
        elif len(incoming) == 1 and _next_fields(doc, incoming[0]):
            ready = incoming  # what _plan would make of it, without its bookkeeping
        else:
            ready, doc._pending = _plan(doc, doc._pending, incoming)
    except Exception:
        doc._forget_clients_from(n_clients)
        raise
    if ready:
        meter = WorkMeter(max_work) if max_work else None
        subscribers = doc._subscribers
        for s in subscribers:
            if type(s) is not WithoutTextEdits:
                break
        else:
            names = _integrate(doc, ready, None, meter)
            if subscribers:
                doc._emit(False, names)
            return
        edits: dict[ContainerId, TextState] = {}
        try:
            names = _integrate(doc, ready, edits, meter)
        finally:
            recorded = {
                name: tuple(starmap(TextEdit, st.take_edits())) for name, st in edits.items()
            }
        doc._emit(False, names, recorded)


def count_ops(data: bytes) -> int:
    """The operations in the ``ChangeSet`` ``data`` (DecodeError if it is not one)."""
    return _op_count(parse_change_set(data))


def check_op_count(msg: Any, max_ops: int) -> None:
    """Raise LimitExceededError when the parsed ``ChangeSet`` ``msg`` holds more than
    ``max_ops`` operations."""
    count = _op_count(msg)
    if count > max_ops:
        raise LimitExceededError(
            f"changes hold {count} operations, more than the limit of {max_ops} at once; "
            "send them in parts"
        )


def _op_count(msg: Any) -> int:
    """The operations in a parsed ``ChangeSet``: each change's ``kinds`` column has one
    entry per operation."""
    return sum(map(len, map(_kinds, msg.changes)))


_kinds = attrgetter("kinds")


def merge(doc: Document, other: Document) -> None:
    """Apply everything ``other`` holds that ``doc`` lacks (``Document.merge``, which checks
    that ``other`` is a Document)."""
    doc.apply(other.changes(doc.version()))
    if other._pending:
        # Pass on what waits there too: it may complete what waits here.
        doc.apply(waiting_changes(other))


def waiting_changes(doc: Document) -> bytes:
    """The changes waiting in ``doc`` for causal predecessors, as a ``ChangeSet``."""
    writer = ChangeSetWriter(doc._clients)
    for ch in doc._pending:
        writer.add(ch.client, ch.start, ch.deps, ch.ops)
    return writer.to_bytes()


def _next_fields(doc: Document, ch: Change) -> bool:
    """Whether ``ch`` is field writes only, starts right after what ``doc`` holds of its
    client and depends on nothing ``doc`` lacks: a remote edit of a field or a few, the
    most common change. It applies as it is (:func:`_plan` would find it ready, untrimmed,
    and field writes refer to no item, so there is nothing for :func:`_check_refs` to
    check)."""
    vv = doc._vv
    writes = ch.field_writes  # (field writes and skips: these refer to nothing either)
    if writes is None and ch.ops[0][0] not in _FIELD_KINDS:
        # (The first op first: issuperset below makes a set of every op's kind.)
        return False
    if ch.start != vv[ch.client] + 1:
        return False
    deps = ch.deps
    if deps and not all(map(ge, map(vv.__getitem__, deps), deps.values())):
        return False
    return writes is not None or _FIELD_KINDS.issuperset(map(_kind, ch.ops))


_FIELD_KINDS = frozenset((K.FIELD_SET, K.FIELD_DELETE))
_kind = itemgetter(0)


class Awaited:
    """What a document's waiting changes (``_pending``) wait for: per client, the lowest seq
    any of them lacks (its author's previous one, or a dependency), and their spans per
    author. Made once per ``_pending`` list (see :func:`_awaited`)."""

    __slots__ = ("always", "pending", "seqs", "spans")

    def __init__(self, pending: list[Change], vv: list[int]) -> None:
        #: The list this was made from.
        self.pending = pending
        #: Per client, the lowest seq a waiting change lacks of it.
        self.seqs: dict[int, int] = {}
        #: Per author, the (start, end) of its waiting changes.
        self.spans: dict[int, list[tuple[int, int]]] = {}
        #: A waiting change lacks nothing now (local edits gave it what it waited for): the
        #: next merge must look at them all.
        self.always = False
        seqs, spans = self.seqs, self.spans
        for ch in pending:
            spans.setdefault(ch.client, []).append((ch.start, ch.end))
            lacks = missing(ch, vv.__getitem__)
            if not lacks:
                self.always = True
            for client, seq in lacks:
                if seq < seqs.get(client, _NEVER):
                    seqs[client] = seq

    def covers(self, ch: Change) -> bool:
        """Whether a waiting change already holds all of ``ch``."""
        spans = self.spans.get(ch.client)
        if spans is None:
            return False
        start, end = ch.start, ch.end
        return any(s <= start and end <= e for s, e in spans)

    def may_wake(self, vv: list[int], ready: list[Change]) -> bool:
        """Whether ``ready`` (about to apply), or what the document holds now, may give a
        waiting change something it lacks."""
        if self.always:
            return True
        seqs = self.seqs
        if any(vv[client] >= seq for client, seq in seqs.items()):
            return True
        return any(ch.end >= seqs.get(ch.client, _NEVER) for ch in ready)


# Above every seq (a client no waiting change waits for).
_NEVER = 1 << 63


def _awaited(doc: Document) -> Awaited:
    """The :class:`Awaited` of ``doc``'s waiting changes, made again when they changed."""
    awaited = doc._awaited
    if awaited is None or awaited.pending is not doc._pending:
        awaited = doc._awaited = Awaited(doc._pending, doc._vv)
    return awaited


def _plan(
    doc: Document, pending: list[Change], incoming: list[Change]
) -> tuple[list[Change], list[Change]]:
    """Order the changes that can apply now, trimmed of what is held; check every reference.

    Touches nothing. Returns (ready in application order, still waiting). A bad change
    among ``incoming`` raises DecodeError; a bad one among ``pending`` (accepted earlier,
    when it could not be checked yet) is dropped, so it cannot wedge the document.

    A change that cannot apply yet waits on the first thing it lacks - a seq of one client
    (its author's previous one, or a dependency) - in a heap per client, and is looked at
    again only once that client's version reaches it. (Passes over everything still
    waiting would take one pass per link of a dependency chain: a catch-up written client
    by client, whose dependencies chain across many sessions, was quadratic.)
    """
    vv = doc._vv.copy()
    created = Created()
    ready: list[Change] = []
    was_pending = {id(ch) for ch in pending}
    everything = [*pending, *incoming]
    # (seq needed, position in `everything`) per client whose version it waits for.
    parked: dict[int, list[tuple[int, int]]] = {}
    todo = list(range(len(everything) - 1, -1, -1))  # popped from the end: in order
    while todo:
        i = todo.pop()
        ch = everything[i]
        have = vv[ch.client]
        if ch.end <= have:
            continue  # every op held already
        if ch.start - 1 > have:
            heappush(parked.setdefault(ch.client, []), (ch.start - 1, i))
            continue
        deps = ch.deps
        if deps and not all(map(ge, map(vv.__getitem__, deps), deps.values())):
            for d, s in deps.items():
                if vv[d] < s:
                    heappush(parked.setdefault(d, []), (s, i))
                    break
            continue
        original = ch
        if ch.start <= have:
            ch = _trim_change(ch, have)
        mark = created.mark()
        try:
            _check_refs(doc, ch, created)
        except DecodeError:
            if id(original) not in was_pending:
                raise
            created.rollback(mark)
            continue  # drop it: it can never apply
        vv[ch.client] = ch.end
        ready.append(ch)
        heap = parked.get(ch.client)
        if heap and heap[0][0] <= ch.end:
            woken: list[int] = []
            while heap and heap[0][0] <= ch.end:
                woken.append(heappop(heap)[1])
            todo += sorted(woken, reverse=True)  # the earliest first
    waiting = [everything[i] for i in sorted(i for heap in parked.values() for _, i in heap)]
    return ready, waiting


def _check_refs(doc: Document, ch: Change, created: Created) -> None:
    """Every item an op refers to must exist (held, or created earlier in this batch),
    and be one its author had seen: an earlier op of its own, or within the change's
    dependencies. (Otherwise a replica that holds the item would accept the change and
    one that does not yet would refuse it, and they would part ways.)"""
    client_id = doc._clients[ch.client]
    author, deps = ch.client, ch.deps

    def unseen(ref: ItemId, seq: int) -> bool:
        return ref[1] >= seq if ref[0] == author else ref[1] > deps.get(ref[0], 0)

    def refuse(what: str, ref: ItemId) -> DecodeError:
        return DecodeError(
            f"changes: {what} {doc._clients[ref[0]]}:{ref[1]}, which it had not seen"
        )

    if ch.field_writes is not None:
        return  # top-level field writes and skips: nothing to refer to
    ops = ch.ops
    if ops[0][0] in LIST_EDITS and ops[-1][0] in LIST_EDITS:
        # A merge of list edits: its own loop (False: something else, to the loop below).
        mark = created.mark()
        runs = created.runs((ops[0][2], author, False))
        if check_list_edits(doc, author, deps, ops, runs, created.added):
            return
        created.rollback(mark)
    checked: set[ContainerId] = set()
    no_refs = (K.FIELD_SET, K.FIELD_DELETE, K.SKIP)
    # The text the last insert went to, and the runs of characters the author created in
    # it so far in this batch (what created.add records, appended here directly).
    own_name: ContainerId | None = None
    own_text: TextState | None = None
    own_key: tuple[ContainerId, int, bool] = ("", author, True)
    own_firsts: list[int] = []
    own_lasts: list[int] = []
    # The same for the list the last list insert went to.
    list_name: ContainerId | None = None
    list_key: tuple[ContainerId, int, bool] = ("", author, False)
    list_firsts: list[int] = []
    list_lasts: list[int] = []
    added = created.added
    for op in ops:
        kind = op[0]
        if kind in no_refs:
            continue  # a top-level field or a skip: nothing to refer to
        if type(op[2]) is tuple and op[2] not in checked:
            _check_path(doc, op[2], op[1], created, unseen, refuse, client_id)
            checked.add(op[2])
        if kind == K.TEXT_INSERT:
            seq = op[1]
            if op[2] != own_name:  # (a change's inserts usually all go to one text)
                own_name = op[2]
                own_text = doc._texts.get(own_name)
                own_key = (own_name, author, True)
                own_firsts, own_lasts = created.runs(own_key)
            last = seq + len(op[5]) - 1
            if (
                own_text is not None
                and own_text._rtail is not None  # (continues_remote's first test, inline)
                and own_text.continues_remote(author, seq, op[3], op[4])
            ):
                # The author typing on after its insert integrated last: both origins
                # are here (no lookup), and the left one is its own. The right one
                # must still be one this change had seen: a hostile author could
                # send a later change with fewer dependencies than the earlier one.
                right = op[4]
                if right is not None and unseen(right, seq):
                    raise refuse(f"text insert {client_id}:{seq} in {op[2]!r} refers to", right)
                own_firsts.append(seq)
                own_lasts.append(last)
                added.append(own_key)
                continue
            for origin in (op[3], op[4]):
                if origin is None:
                    continue
                # In-batch lookups first: they are cheap, and usually hit (the author's
                # own characters: created.holds, inline).
                oc, os = origin
                if oc == author:
                    i = bisect_right(own_firsts, os) - 1
                    found = i >= 0 and os <= own_lasts[i]
                else:
                    found = created.holds(op[2], origin, text=True)
                if not (found or (own_text is not None and own_text.has_item(origin))):
                    raise DecodeError(
                        f"changes: text insert {client_id}:{seq} in {op[2]!r} refers to "
                        f"an unknown character {doc._clients[oc]}:{os}"
                    )
                if os >= seq if oc == author else os > deps.get(oc, 0):  # (unseen, inline)
                    raise refuse(f"text insert {client_id}:{seq} in {op[2]!r} refers to", origin)
            own_firsts.append(seq)
            own_lasts.append(last)
            added.append(own_key)
        elif kind == K.TEXT_DELETE:
            text = doc._texts.get(op[2])
            first, count = op[4], op[5]
            lo, hi = (first, first + count - 1) if count > 0 else (first + count + 1, first)
            if op[3] == author and op[2] == own_name:
                # The author deleting what it typed in this batch (its backspaces):
                # created.holds_run and unseen, inline, on the runs kept above.
                i = bisect_right(own_firsts, lo) - 1
                if i >= 0 and hi <= own_lasts[i] and hi < op[1]:
                    continue
            if not (
                created.holds_run(op[2], op[3], lo, hi)
                or (text is not None and text.has_run(op[3], first, count))
            ):
                step = 1 if count > 0 else -1
                for i in range(abs(count)):
                    target = (op[3], first + i * step)
                    if not (
                        created.holds(op[2], target, text=True)
                        or (text is not None and text.has_item(target))
                    ):
                        raise DecodeError(
                            f"changes: text delete {client_id}:{op[1]} in {op[2]!r} targets "
                            f"an unknown character {doc._clients[target[0]]}:{target[1]}"
                        )
            if unseen((op[3], hi), op[1]):
                raise refuse(f"text delete {client_id}:{op[1]} in {op[2]!r} targets", (op[3], hi))
        elif kind in (K.LIST_INSERT, K.LIST_CREATE):
            if op[2] != list_name:  # (created.add, inline, with the runs of the last list)
                list_name = op[2]
                list_key = (list_name, author, False)
                list_firsts, list_lasts = created.runs(list_key)
            list_firsts.append(op[1])
            list_lasts.append(op[1])
            added.append(list_key)
        elif kind == K.MAP_CREATE:
            if op[6] is not None and unseen(op[6], op[1]):
                raise refuse(f"map operation {client_id}:{op[1]} replaces", op[6])
        elif kind == K.SET_REMOVE:
            for tag in op[4]:
                if unseen(tag, op[1]):
                    raise refuse(f"set remove {client_id}:{op[1]} in {op[2]!r} removes", tag)
        elif kind in (K.LIST_MOVE, K.LIST_DELETE):
            lst = doc._lists.get(op[2])
            item = op[3]
            if not (
                (lst is not None and lst.has_item(item)) or created.holds(op[2], item, text=False)
            ):
                raise DecodeError(
                    f"changes: list operation {client_id}:{op[1]} in {op[2]!r} refers to "
                    f"an unknown item {doc._clients[item[0]]}:{item[1]}"
                )
            if unseen(item, op[1]):
                raise refuse(f"list operation {client_id}:{op[1]} in {op[2]!r} refers to", item)


def _check_path(
    doc: Document,
    cid: tuple[Any, ...],
    seq: int,
    created: Created,
    unseen: Callable[[ItemId, int], bool],
    refuse: Callable[[str, ItemId], DecodeError],
    client_id: str,
) -> None:
    """The steps to a nested container must name what its author had seen: each list item
    on the way held (or created in this batch), each map epoch seen."""
    while type(cid) is tuple:
        parent = cid[0]
        if len(cid) == 2:
            item = cid[1]
            lst = doc._lists.get(parent)
            if not (
                (lst is not None and lst.has_item(item)) or created.holds(parent, item, text=False)
            ):
                raise DecodeError(
                    f"changes: operation {client_id}:{seq} is in the container of an unknown "
                    f"list item {doc._clients[item[0]]}:{item[1]}"
                )
            if unseen(item, seq):
                raise refuse(f"operation {client_id}:{seq} is in the container of", item)
        elif cid[2] is not None and unseen(cid[2], seq):
            raise refuse(f"operation {client_id}:{seq} is in a container made after", cid[2])
        cid = parent


def _integrate(
    doc: Document,
    ready: list[Change],
    recording: dict[ContainerId, TextState] | None,
    meter: WorkMeter | None = None,
) -> set[ContainerId]:
    """Apply checked, trimmed changes in order; return the names they touched.

    ``recording`` (when not None) gets every text state the changes touch, each set to
    record its visible edits (:meth:`TextState.record_edits`) before the first of them.
    ``meter`` (when not None) bounds the work of their text edits.
    """
    batched: list[ListState] = []
    metered: list[TextState] | None = None if meter is None else []
    try:
        return _integrate_changes(doc, ready, recording, batched, meter, metered)
    finally:
        for lst in batched:
            lst.end_batch()
        for text in metered or ():
            text._meter = None


def _integrate_changes(
    doc: Document,
    ready: list[Change],
    recording: dict[ContainerId, TextState] | None,
    batched: list[ListState],
    meter: WorkMeter | None,
    metered: list[TextState] | None,
) -> set[ContainerId]:
    """:func:`_integrate`'s work. A list that gets many edits in a row is put in batch
    mode (:meth:`ListState.begin_batch`) and added to ``batched``, to end it; a text state
    given ``meter`` is added to ``metered``, to take it back."""
    names: set[ContainerId] = set()
    add_name = names.add
    clients = doc._clients
    fields = doc._fields
    field_set, field_kinds = K.FIELD_SET, (K.FIELD_SET, K.FIELD_DELETE)
    text_insert, text_kinds = K.TEXT_INSERT, (K.TEXT_INSERT, K.TEXT_DELETE)
    list_insert, list_move = K.LIST_INSERT, K.LIST_MOVE
    list_kinds = (K.LIST_INSERT, K.LIST_MOVE, K.LIST_DELETE)
    skip = K.SKIP
    top_hlc = doc._hlc
    heads = doc._heads
    vv = doc._vv
    # The container the previous text / list op went to, and its state: ops come in runs.
    # (None until the first: never read before it is set.)
    text_name: ContainerId | None = None
    text = cast("TextState", None)
    list_name: ContainerId | None = None
    lst = cast("ListState", None)
    lists = doc._lists
    run = batch_at = 0  # edits of `lst` in a row so far; how many make a batch
    for ch in ready:
        c = ch.client
        deps = ch.deps
        cps = doc._checkpoints[c]
        if (cps[-1][1] != deps) if cps else deps:
            cps.append((ch.start, deps))
        if heads is not None:
            # The latest operations it depends on are heads no more; it is one.
            for d, s in deps.items():
                if s >= vv[d]:
                    heads.discard(d)
            heads.add(c)
        log = doc._log[c]
        writer = clients[c]
        field_seq = 0
        inserts: list[Op] = []  # text inserts of `text` not integrated yet
        writes = ch.field_writes
        ops = ch.ops if writes is None else NONE  # (NONE: field write columns)
        if (ops is NONE or (len(ops) >= FIELD_COLUMNS_AT and ops[0][0] in field_kinds)) and (
            hlc := integrate_fields(fields, clients, ch, names)
        ) is not None:
            # Field writes only (a first sync; many writes in one change): in bulk.
            if hlc > top_hlc:  # noqa: PLR1730 - as below
                top_hlc = hlc
            # (Its skips are not logged, as the loop below logs none: see there.)
            field_seq = ch.end if writes is None else writes.seqs[-1]
        elif ops is NONE:
            ops = ch.ops  # (declined: one at a time)
        if len(ops) >= 32 and ops[0][0] in list_kinds:
            # Many list edits in a row (a merge of them): their own loop, in batch mode.
            state = lists.get(ops[0][2])
            if len(ops) >= BATCH_AT(len(state._order) if state is not None else 0):
                done, hlc = integrate_list_edits(doc, ops, c, writer, batched)
                if log is NONE:
                    log = doc._log[c] = []
                log += ops if done == len(ops) else ops[:done]
                if hlc > top_hlc:  # noqa: PLR1730 - as below
                    top_hlc = hlc
                add_name(ops[0][2])
                lists = doc._lists
                list_name = None  # (looked up again by the loop below, if it gets any)
                ops = ops[done:] if done < len(ops) else []
        for op in ops:
            kind = op[0]
            if kind in field_kinds:
                # Field writes, inline (Document._apply_op's rule): the most common operation,
                # and a fresh replica's first sync is thousands of them. They live in _fields
                # only, not in the log.
                name, hlc = op[2], op[3]
                if hlc > top_hlc:  # noqa: PLR1730 - cheaper than a call to max, per op
                    top_hlc = hlc
                field_seq = op[1]
                cur = fields.get(name)
                if cur is None or (hlc, writer) > (cur[0], clients[cur[1]]):
                    if cur is not None:
                        del fields[name]  # re-inserted last: _fields is in write order
                    fields[_intern(name)] = (
                        hlc,
                        c,
                        field_seq,
                        op[4] if kind == field_set else DELETED,
                    )
                add_name(name)
                continue
            if kind in text_kinds:
                name = op[2]
                if name != text_name:
                    if inserts:
                        text.apply_inserts(c, inserts)
                        inserts = []
                    text_name, text = name, doc._text_state(name)
                    if metered is not None and text._meter is None:
                        text._meter = meter
                        metered.append(text)
                    if recording is not None and name not in recording:
                        text.record_edits()
                        recording[name] = text
                    add_name(name)
                if kind == text_insert:
                    # Integrated together at the next op that is not a field write (fields
                    # and texts are apart): a merge's changes interleave the two.
                    inserts.append(op)
                else:
                    if inserts:
                        text.apply_inserts(c, inserts)
                        inserts = []
                    text.apply_delete(c, op[1], op[3], op[4], op[5], checked=True)
                continue
            if kind == skip:
                # Seqs of writes that lost. Not logged: a gap in a client's log is a run of
                # seqs that hold nothing for anyone, and changes() and save() write every gap
                # as such. (Logged, a document whose fields are overwritten over and over
                # would keep a SKIP per change it ever received.) Pending inserts stay
                # pending: a merge's field writes that lost come between its text inserts.
                continue
            if inserts:
                text.apply_inserts(c, inserts)
                inserts = []
            if log is NONE:
                log = doc._log[c] = []
            log.append(op)
            if kind in list_kinds:
                # List edits, inline (ListState.insert / move / delete, the same rules):
                # a merge of list edits is thousands of them.
                name = op[2]
                if name != list_name:
                    if name in lists:
                        lst = lists[name]
                    else:
                        lst = doc._list_state(name)
                        lists = doc._lists
                    list_name = name
                    add_name(name)
                    run, batch_at = 0, BATCH_AT(len(lst._order))
                run += 1
                if run == batch_at and lst._adds is None:
                    lst.begin_batch()
                    batched.append(lst)
                if kind == list_insert:
                    hlc = op[3]
                    if hlc > top_hlc:  # noqa: PLR1730 - as above
                        top_hlc = hlc
                    item_id = (c, op[1])
                    key = op[5]
                    lst._items[item_id] = ListItem(op[4], key, hlc, writer, writer)
                    sk = (key, writer, op[1])
                    lst._ids[sk] = item_id
                    lst._place(sk)
                elif kind == list_move:
                    hlc = op[4]
                    if hlc > top_hlc:  # noqa: PLR1730 - as above
                        top_hlc = hlc
                    lst.move(op[3], op[5], hlc, writer)
                else:
                    lst.delete(op[3])
                continue
            doc._apply_op(c, writer, op)
            add_name(op[2])
        if inserts:
            text.apply_inserts(c, inserts)
            inserts = []
        if field_seq:
            top = doc._field_top
            top[c] = max(top[c], field_seq)
        doc._vv[c] = ch.end
        doc._version_stale.add(c)
        doc._hlc = max(doc._hlc, top_hlc)
    doc._deps_stale = True
    return names


def _trim_change(ch: Change, have: int) -> Change:
    """The part of ``ch`` after seq ``have`` (which lies inside it)."""
    ops: list[Op] = []
    for op in ch.ops:
        end = op[1] + op_width(op) - 1
        if end <= have:
            continue
        if op[1] <= have:
            op = split_op(ch.client, op, have + 1 - op[1])[1]
        ops.append(op)
    return Change(ch.client, have + 1, ch.deps, ops)
