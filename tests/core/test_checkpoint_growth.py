"""What a document keeps per edit must not grow with the number of writers it has seen.

The soak (``python3 dev.py soak``) found the server's RSS rising by megabytes a minute under
honest load alone: each honest session is a new client id, and the documents' dependency
checkpoints are where the memory went. A client that has heard of other clients' operations
since its last one starts a new checkpoint, and each checkpoint holds the whole version vector
its author had seen - one entry for every client that ever wrote to the document, live or
gone. Under churning writers nearly every edit is such a checkpoint, so what a document keeps
per edit grows with the writers it has seen, and its total grows with the square of its age
(in memory and in the snapshot alike).

This test drives a document the way the server's copy of one is driven: 8 writers at a time,
each session a new client id that starts from the whole document, edits a few of its own
keys one change at a time and hears the others' changes in between. It compares what the
snapshot gained per edit late in the run with what it gained early: with minimal dependencies
(the heads a writer had not yet depended on, and the items it refers to: see
``synckit.core._document``) the two are close. It also checks what travels: one edit pushed to
the document late in the run carries about as many bytes as one pushed early.
"""

from __future__ import annotations

import random

from synckit.core import Document

WRITERS = 8


def _drive(server: Document, edits: int, rng: random.Random, state: dict[str, int]) -> None:
    """``edits`` edits by churning writers, each pushed to ``server`` as one change."""
    slots: list[tuple[Document, int] | None] = [None] * WRITERS
    for _ in range(edits):
        i = rng.randrange(WRITERS)
        slot = slots[i]
        if slot is None or slot[1] <= 0:
            state["sessions"] += 1
            client = Document(f"w{i}s{state['sessions']}")
            client.apply(server.changes())
            slot = (client, rng.randint(20, 120))
        client, left = slot
        client.apply(server.changes(client.version()))  # what the others pushed meanwhile
        before = client.version()
        client.set(f"w{i}-{rng.randrange(8)}", rng.randrange(1 << 30))
        push = client.changes(before)
        state["pushed"] += len(push)
        server.apply(push)
        slots[i] = (client, left - 1)


def test_snapshot_bytes_per_edit_do_not_grow_with_past_writers() -> None:
    rng = random.Random(3)
    server = Document("server")
    state = {"sessions": 0, "pushed": 0}
    phase = 400
    sizes = [len(server.save())]
    pushed = [0]
    for _ in range(3):
        _drive(server, phase, rng, state)
        sizes.append(len(server.save()))
        pushed.append(state["pushed"])
    early = (sizes[1] - sizes[0]) / phase
    late = (sizes[3] - sizes[2]) / phase
    assert state["sessions"] > 20  # the writers did churn
    assert late <= 1.5 * early, f"{early:.0f} bytes per edit early, {late:.0f} late ({sizes})"
    push_early = (pushed[1] - pushed[0]) / phase
    push_late = (pushed[3] - pushed[2]) / phase
    assert push_late <= 1.5 * push_early, f"pushes of {push_early:.0f} bytes, then {push_late:.0f}"
