"""The text CRDT in one sitting: a short reference implementation, the tests' oracle.

:mod:`synckit.core._text` implements a YATA sequence CRDT (the "YjsMod" variant of Joseph
Gentle's reference-crdts) with run-length-encoded items in blocks, a position cursor, an id
index and fast paths.  This module is the same algorithm without any of that: one item per
character, kept in a Python list in document order, found by linear scans.  It is slow and
obviously so; the tests replay the operations of real replicas here and check that
:class:`~synckit.core._text.TextState` produced the same text.

A character is ``(id, left origin, right origin)``: its id ``(client, seq)``, the character
it was typed after and the one right after it at that moment (``None``: the start / the
end of the text).  Deleting only marks the id deleted; the character keeps its place.

Integrating a character (:meth:`RefText.integrate`): it goes between its origins; the
characters between them (inserted concurrently, or after something concurrent) are walked
left to right, keeping a destination ``dest`` that follows the walk unless ``scanning``:

* a character whose left origin is before ours ends the walk;
* one with the same left origin and the same right origin goes first if its client id
  string is the lower one (then the walk ends), else we go after it;
* one with the same left origin and a right origin before ours is passed tentatively
  (``scanning``: ``dest`` stays before it until a later one lets us past);
* one with the same left origin and a right origin after ours: we go after it;
* one whose left origin is after ours (it belongs to something we passed) is passed.

The character goes in at ``dest``.
"""

from __future__ import annotations

from synckit.core._ids import ItemId
from synckit.core._text import TextOp


class RefText:
    """One item per character, linear scans: a direct transcription of the YjsMod rules."""

    def __init__(self, names: list[str]) -> None:
        self.names = names  # client ids (strings) by client index: ties compare these
        self.items: list[tuple[ItemId, ItemId | None, ItemId | None]] = []  # document order
        self.chars: dict[ItemId, str] = {}
        self.deleted: set[ItemId] = set()

    def _index(self, item: ItemId | None, default: int) -> int:
        """Position of ``item`` in the document order (``default`` for None)."""
        if item is None:
            return default
        for i, it in enumerate(self.items):
            if it[0] == item:
                return i
        raise KeyError(item)

    def integrate(self, item: ItemId, left: ItemId | None, right: ItemId | None) -> None:
        n = len(self.items)
        lpos = self._index(left, -1)
        rpos = self._index(right, n)
        dest = lpos + 1
        scanning = False
        i = dest
        while True:
            if not scanning:
                dest = i
            if i in (n, rpos):
                break
            oid, oleft, oright = self.items[i]
            ol = self._index(oleft, -1)
            orr = self._index(oright, n)
            if ol < lpos:
                break
            if ol == lpos:
                if orr < rpos:
                    scanning = True
                elif orr == rpos:
                    if self.names[item[0]] < self.names[oid[0]]:
                        break
                    scanning = False
                else:
                    scanning = False
            i += 1
        self.items.insert(dest, (item, left, right))

    def apply(self, c: int, op: TextOp) -> None:
        """Apply client ``c``'s op: an insert one character at a time (each after the
        previous one), a delete by marking its targets."""
        if op[0] == "i":
            _, seq, left, right, content = op
            for k, ch in enumerate(content):
                self.integrate((c, seq + k), left if k == 0 else (c, seq + k - 1), right)
                self.chars[(c, seq + k)] = ch
        else:
            _, seq, tc, tf, cnt = op
            step = 1 if cnt > 0 else -1
            for k in range(abs(cnt)):
                self.deleted.add((tc, tf + k * step))

    def __str__(self) -> str:
        return "".join(self.chars[it[0]] for it in self.items if it[0] not in self.deleted)


def reference_replay(names: list[str], log: list[tuple[int, TextOp]]) -> RefText:
    """Apply every op of ``log`` (each once, causal order) to a reference model."""
    ref = RefText(names)
    # Apply the log in an order the reference can integrate (causal by retrying).
    pending = list(log)
    known: dict[int, int] = {}

    def ready(c: int, op: TextOp) -> bool:
        ids: list[ItemId | None]
        if op[0] == "i":
            ids = [op[2], op[3], (c, op[1] - 1) if op[1] > 1 else None]
        else:
            ids = [(op[2], max(op[3], op[3] + op[4] - 1))]
        return all(i is None or i[1] <= known.get(i[0], 0) for i in ids[:2])

    while pending:
        rest: list[tuple[int, TextOp]] = []
        for c, op in pending:
            if ready(c, op) and not any(c2 == c for c2, _ in rest):
                ref.apply(c, op)
                n = len(op[4]) if op[0] == "i" else abs(op[4])
                known[c] = max(known.get(c, 0), op[1] + n - 1)
            else:
                rest.append((c, op))
        assert len(rest) < len(pending)
        pending = rest
    return ref
