"""Compacted documents: a document kept as its snapshot bytes until its next use.

``Document.compact`` calls :func:`compact`, which saves the document, drops its decoded
state and swaps its class for :class:`_CompactDocument`. Only the class changes, so the
object -- and every reference to it -- stays the same. Any use of the object other than
the few names in ``_COMPACT_SAFE`` swaps the class back and decodes the snapshot in place
(:func:`_expand`), which is what makes every public method, handle and internal path safe.

This module subclasses ``Document``, so ``Document`` imports it on first use rather than at
import time.
"""

from __future__ import annotations

from typing import Any, cast

from synckit.core import _snapshot
from synckit.core._document import Document
from synckit.core._host import EMPTY, NONE

__all__ = ["compact"]


def compact(doc: Document) -> None:
    """Keep ``doc`` as its snapshot bytes until it is used again (``Document.compact``).

    Does nothing to an instance of a subclass of ``Document`` (its layout may differ), nor
    to a compacted document.
    """
    if type(doc) is not Document:
        return
    data = doc.save()
    # A list's run (see synckit.core._list) is local state a snapshot does not hold: kept
    # aside, so that inserts continue a run the same with or without a compaction between.
    runs = {}
    for name, state in doc._lists.items():
        if state.last_insert is not None:
            client, seq = state.last_insert
            item = state._items[state.last_insert]
            runs[name] = (doc._clients[client], seq, item.run)
    doc._list_runs = runs
    doc._clients = doc._vv = doc._log = doc._checkpoints = doc._field_top = NONE
    doc._client_index = doc._fields = EMPTY
    doc._counters = doc._sets = doc._lists = doc._texts = doc._maps = EMPTY
    doc._pending = NONE
    doc._heads = None
    doc._foreign_refs = None
    doc._deps_stale = True
    doc._packed = data
    doc.__class__ = _CompactDocument


def _expand(doc: Document) -> None:
    """Decode a compacted document back into live state, in place."""
    data = doc._packed
    assert data is not None
    live = _snapshot.load_own(Document, data, doc._client_id, doc._clock)
    for slot in _STATE_SLOTS:
        setattr(doc, slot, getattr(live, slot))
    doc._packed = None
    runs, doc._list_runs = doc._list_runs or {}, None
    for name, (client_id, seq, run) in runs.items():
        state = doc._lists.get(name)
        client = doc._client_index.get(client_id)
        if state is not None and client is not None and state.has_item((client, seq)):
            state.last_insert = (client, seq)
            state._items[(client, seq)].run = run


class _CompactDocument(Document):
    """A :class:`Document` kept as snapshot bytes (see :func:`compact`)."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name not in _COMPACT_SAFE:
            object.__setattr__(self, "__class__", Document)
            _expand(self)
        return object.__getattribute__(self, name)

    def save(self) -> bytes:
        data = object.__getattribute__(self, "_packed")
        assert data is not None
        return cast(bytes, data)


#: What a compacted document answers without decoding itself.
_COMPACT_SAFE = frozenset(
    {
        "__class__",
        "_packed",
        "_client_id",
        "client_id",
        "compacted",
        "compact",
        "save",
        "trim_history",
    }
)
#: The slots :func:`_expand` takes from the decoded document.
_STATE_SLOTS = tuple(
    s
    for s in Document.__slots__
    if s not in ("_clock", "_client_id", "_subscribers", "_packed", "_list_runs")
)
