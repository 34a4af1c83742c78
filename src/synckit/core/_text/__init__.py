"""Collaborative text: a YATA sequence CRDT over run-length-encoded items.

Model
=====
Every character ever inserted has an id ``(client, seq)`` (see :mod:`synckit.core._ids`)
and keeps its place in one total *document order* forever; deleting a character only
marks it as a tombstone.  A character is inserted with two *origins*: ``origin_left``,
the character it was typed after, and ``origin_right``, the character that was right
after it at that moment (``None`` stands for the start / the end of the text).  A remote
insert is placed between its origins; when concurrent inserts compete for the same gap
they are ordered by the YATA rules (the "YjsMod" variant of Joseph Gentle's
reference-crdts, ties broken by comparing client id *strings*), which gives the same
order on every replica and never interleaves two concurrently typed runs.  The rule is
stated where it is applied, in :mod:`._yata`.

The algorithm in one sitting: ``tests/core/text_oracle.py`` is a short reference
implementation (one item per character, linear scans, no blocks, no index, no fast
paths); the tests check this package against it.

Items (run-length encoding)
===========================
Characters are not stored one by one.  An *item* is a run of characters with
consecutive seqs of one client where every character after the first has the previous
character of the run as its left origin and all of them share the run's right origin:
exactly what typing produces.  So an item is seven integers::

    client, seq (first char), length (negative: the run is deleted),
    left origin (client, seq), right origin (client, seq)     # client -1: no origin

Splitting an item at offset ``k`` gives two items that describe the same characters
(the second part's left origin is the first part's last character), so items can be
split and merged freely without changing the meaning.  A local insert right after the
end of the client's latest item, with the next seq, simply grows that item.  Deleted
items keep their ids and origins but not their content.

Modules
=======
:class:`TextState` is put together from one mixin per job, each in its own module:

* :mod:`._state` -- ``TextState`` itself: reading the text, local inserts and deletes,
  remote deletes, the snapshot calls; the local typing fast path.
* :mod:`._yata` -- remote inserts: the YATA integration rule and the remote typing fast
  path.
* :mod:`._blocks` -- items stored in blocks of parallel columns, the position index (a
  cursor over the blocks), and splitting / merging items and blocks.
* :mod:`._id_index` -- finding a character by id (built lazily).
* :mod:`._history` -- the op types, the delete log and ``ops_since``.
* :mod:`._edit_records` -- the visible edits of remote ops, for the Document's
  subscribers.
* :mod:`._codec` -- the snapshot format (``encode_state`` / ``decode_state``) and its
  structural checks of hostile input.
* :mod:`._load_checks` -- :class:`History` and the checks of a decoded text against the
  document's version and dependencies.
* :mod:`._fields` -- the fields every mixin shares, declared once.
"""

from __future__ import annotations

from synckit.core._text._history import DeleteOp, InsertOp, TextOp
from synckit.core._text._load_checks import History
from synckit.core._text._state import TextState

__all__ = ["DeleteOp", "History", "InsertOp", "TextOp", "TextState"]
