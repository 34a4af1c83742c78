"""Edit records: the visible edits remote operations make, for the Document's subscribers.

While the Document records (``record_edits`` / ``take_edits``), every remote insert and
every visible piece of a remote delete also notes its visible position (the start of its
block, walked to from the cursor, plus its offset in the block) as a ``(pos, deleted,
inserted)`` splice; consecutive ones that continue each other merge.
"""

from __future__ import annotations

from synckit.core._text._fields import _TextFields


class _EditRecords(_TextFields):
    """Recording edits (a mixin of :class:`~synckit.core._text.TextState`)."""

    __slots__ = ()

    def record_edits(self) -> None:
        """Start recording the visible edits :meth:`apply_insert` and :meth:`apply_delete`
        make, for :meth:`take_edits`."""
        self._edits = []

    def take_edits(self) -> list[tuple[int, int, str]]:
        """The edits recorded since :meth:`record_edits`, and stop recording.

        Each is ``(pos, deleted, inserted)``: replace the ``deleted`` code points at
        ``pos`` by ``inserted``, positions counted in the text as the edits before it left
        it.  Consecutive edits that continue each other come out as one.
        """
        edits = self._edits or []
        self._edits = None
        return edits

    def _record(self, pos: int, deleted: int, inserted: str) -> None:
        edits = self._edits
        assert edits is not None
        if edits:
            p, d, ins = edits[-1]
            if not inserted and not ins and p == pos:
                edits[-1] = (p, d + deleted, "")  # a delete running on at the same place
                return
            if not deleted and not d and p + len(ins) == pos:
                edits[-1] = (p, 0, ins + inserted)  # an insert continuing the previous one
                return
        edits.append((pos, deleted, inserted))
