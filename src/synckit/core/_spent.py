"""Spent dependency checkpoints: those whose operations the document no longer holds.

A client's checkpoints cut its seqs into ranges, each with the dependencies in force there
(see :mod:`synckit.core._document`). When every operation of a range is gone -- field
writes that later writes overwrote, which ``changes`` and ``save`` send as a SKIP -- the
range's dependencies order nothing anyone can see, yet the checkpoint stays: under writers
that overwrite the same fields, one per change received, for as long as the document lives
(the soak measured a server's document growing by about 0.26 KiB per edit, nearly all of
it such checkpoints, and every fresh replica decoding them all).

:func:`drop_spent` removes them, keeping causal delivery for everything that is still there:

* the dropped range's seqs (SKIPs) go with the checkpoint before it, so a receiver may apply
  them before the dropped dependencies arrive. A SKIP changes no state and nothing refers
  to it (references name items, and an overwritten write is none), so nothing can be
  observed out of order;
* the dropped dependencies are added to the next checkpoint that stays (each client's
  newest always stays), so every operation after the range still comes after all its
  author had seen, and the document's heads are what they were. They happened before the
  dropped range, so before that checkpoint's operations: no dependency cycle can form.

A range with a text operation in it is never spent (a text keeps every operation), and a
text not decoded yet counts as holding every seq, rather than be decoded to find out.

What a receiver checks is unchanged: references against a change's own dependencies, and
readiness. Only which dependencies a writer lists changes, which is the writer's choice
(``docs/format.md``, "Dependencies").
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from synckit.core import _ops as K
from synckit.core._host import NO_DEPS

if TYPE_CHECKING:
    from synckit.core._document import Document

__all__ = ["drop_spent"]


def drop_spent(doc: Document) -> int:
    """Drop ``doc``'s spent checkpoints (see the module docstring); how many went."""
    all_cps = doc._checkpoints
    # Clients with a checkpoint before their newest (only those can lose one), with the
    # seqs of their field writes and logged operations still held (each takes one seq;
    # texts are asked range by range below).
    seqs_held: dict[int, list[int]] = {c: [] for c, cps in enumerate(all_cps) if len(cps) > 1}
    if not seqs_held:
        return 0
    for _, writer, seq, _ in doc._fields.values():
        held = seqs_held.get(writer)
        if held is not None:
            held.append(seq)
    skip = K.SKIP
    for c, held in seqs_held.items():
        held += [op[1] for op in doc._log[c] if op[0] != skip]
    texts = list(doc._texts.values())
    dropped = 0
    for c, held in seqs_held.items():
        held.sort()
        cps = all_cps[c]
        # The newest checkpoint of an operation made stays (a reserved one after it, for
        # an operation not made yet, holds nothing and stays too).
        last = len(cps) - 1
        top = doc._vv[c]
        while last > 0 and cps[last][0] > top:
            last -= 1
        kept: list[tuple[int, dict[int, int]]] = []
        carried: dict[int, int] | None = None  # dependencies of dropped ones, to pass on
        for i, (start, deps) in enumerate(cps):
            if i < last:
                k = bisect_left(held, start)
                end = cps[i + 1][0] - 1
                if (k == len(held) or held[k] > end) and not any(
                    text.holds_seqs(c, start, end) for text in texts
                ):
                    # Nothing held from `start` to the next checkpoint: spent.
                    if carried is None:
                        carried = dict(deps)
                    else:
                        for d, s in deps.items():
                            if carried.get(d, 0) < s:
                                carried[d] = s
                    continue
            if carried is not None:
                merged = dict(carried)
                for d, s in deps.items():
                    if merged.get(d, 0) < s:
                        merged[d] = s
                deps = {d: merged[d] for d in sorted(merged)} or NO_DEPS
                carried = None
            kept.append((start, deps))
        if len(kept) < len(cps):
            dropped += len(cps) - len(kept)
            cps[:] = kept
    return dropped
