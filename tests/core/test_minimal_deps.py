"""Minimal dependencies (``synckit.core._document``): what a local operation depends on, and
that documents written that way stay consistent wherever they go.

A local operation depends on the document's other heads when changes arrived since its
previous one, and on the items of other clients it refers to. These tests pin both rules on
small cases, check that the heads kept incrementally are those the checkpoints imply, and drive
churning writers over every kind of container, checking that every snapshot loads with all its
checks and every change set applies on a fresh replica.
"""

from __future__ import annotations

import random

from synckit.core import Document
from synckit.core._document import _heads_of
from synckit.core._version import VersionVector


def named(doc: Document, deps: dict[int, int]) -> dict[str, int]:
    return {doc._clients[c]: s for c, s in deps.items()}


def own_checkpoints(doc: Document) -> list[tuple[int, dict[str, int]]]:
    return [(start, named(doc, deps)) for start, deps in doc._checkpoints[doc._me]]


def test_an_operation_depends_on_the_heads_it_had_not_depended_on_yet() -> None:
    a, b, c = Document("a"), Document("b"), Document("c")
    b.set("x", 1)
    c.apply(b.changes())
    c.set("y", 1)  # depends on b:1
    a.apply(b.changes())
    a.apply(c.changes())
    a.set("z", 1)
    # b:1 is covered by c:1, so only c is a head.
    assert own_checkpoints(a) == [(1, {"c": 1})]
    a.set("z", 2)
    a.get_counter("n").increment()
    assert own_checkpoints(a) == [(1, {"c": 1})]  # its own first operation covers the rest
    b.set("x", 2)
    a.apply(b.changes(a.version()))
    a.set("z", 3)
    assert own_checkpoints(a) == [(1, {"c": 1}), (4, {"b": 2})]


def test_an_operation_names_the_items_of_others_it_refers_to() -> None:
    old, reader = Document("old"), Document("reader")
    old.get_text("t").insert(0, "abcdef")
    old.get_list("l").append(1)
    old.get_set("s").add("m")
    mid = Document("mid")
    mid.apply(old.changes())
    mid.set("f", 1)  # covers old's latest operation: old is no head
    reader.apply(mid.changes())
    reader.set("g", 1)
    assert own_checkpoints(reader) == [(1, {"mid": 1})]
    reader.get_text("t").insert(3, "X")  # between old:3 and old:4
    assert own_checkpoints(reader)[-1] == (2, {"old": 4})
    reader.get_text("t").insert(4, "Y")  # typing on: its right origin is named already
    assert len(own_checkpoints(reader)) == 2
    reader.get_text("t").delete(0, 1)  # old:1, within old:4 already named
    assert len(own_checkpoints(reader)) == 2
    reader.get_list("l").delete(0)  # the list item old:7
    reader.get_set("s").remove("m")  # the tag old:8
    assert own_checkpoints(reader)[2:] == [(5, {"old": 7}), (6, {"old": 8})]
    fresh = Document("fresh")
    fresh.apply(reader.changes())
    assert fresh.to_json() == reader.to_json()
    assert Document.load(reader.save()).to_json() == reader.to_json()


def test_an_operation_in_a_nested_container_names_the_items_its_path_runs_through() -> None:
    """Every operation in a nested container depends on the items of others on its path (found
    once per container: see Document._record), also after a compaction renumbers clients."""
    maker, mid, editor = Document("maker"), Document("mid"), Document("editor")
    maker.get_list("todo").insert_map(0).set("title", "milk")  # the item maker:1
    mid.apply(maker.changes())
    mid.set("f", 1)  # covers maker's operations: maker is no head
    editor.apply(mid.changes())
    editor.set("g", 1)
    assert own_checkpoints(editor) == [(1, {"mid": 1})]
    item = editor.get_list("todo").get_map(0)
    item.set("done", True)
    assert own_checkpoints(editor)[-1] == (2, {"maker": 1})
    item.set("done", False)  # its own previous operation covers the path now
    assert len(own_checkpoints(editor)) == 2
    mine = editor.get_list("todo").insert_map(1)
    mine.set("title", "eggs")  # a path of its own items only: nothing more to name
    assert len(own_checkpoints(editor)) == 2
    editor.compact()
    editor.get_map("m").set("x", 1)  # expanded again: its client table is the snapshot's
    editor.get_list("todo").get_map(0).set("done", True)
    fresh = Document("fresh")
    fresh.apply(editor.changes())
    assert fresh.to_json() == editor.to_json()
    # Without maker's item first, the edits inside it wait for it rather than fail.
    lacking = Document("lacking")
    lacking.apply(editor.changes(VersionVector({"maker": 2, "mid": 1, "editor": 1})))
    assert lacking.waiting
    lacking.apply(maker.changes())
    lacking.apply(mid.changes())
    lacking.apply(editor.changes())
    assert not lacking.waiting and lacking.to_json() == editor.to_json()


def test_a_push_to_a_document_of_many_past_writers_stays_small() -> None:
    server = Document("server")
    for i in range(300):
        writer = Document(f"past{i}")
        writer.apply(server.changes())
        writer.set(f"k{i % 10}", i)
        server.apply(writer.changes(server.version()))
    newcomer = Document("newcomer")
    newcomer.apply(server.changes())
    before = newcomer.version()
    newcomer.set("k0", "new")
    push = newcomer.changes(before)
    assert own_checkpoints(newcomer) == [(1, {"past299": 1})]
    assert len(push) < 80  # with whole versions: over 3,000 bytes
    server.apply(push)
    assert server.get("k0") == "new"


def _edit(w: Document, rng: random.Random, step: int) -> None:
    t = w.get_text("t")
    r = rng.random()
    if r < 0.3:
        t.insert(rng.randint(0, len(t)), rng.choice(["a", "bc", "xyz"]))
    elif r < 0.45 and len(t):
        p = rng.randrange(len(t))
        t.delete(p, rng.randint(1, min(4, len(t) - p)))
    elif r < 0.55:
        lst = w.get_list("l")
        lst.insert(rng.randint(0, len(lst)), step)
    elif r < 0.62 and len(w.get_list("l")) > 1:
        lst = w.get_list("l")
        lst.move(rng.randrange(len(lst)), rng.randrange(len(lst)))
    elif r < 0.67 and len(w.get_list("l")):
        lst = w.get_list("l")
        lst.delete(rng.randrange(len(lst)))
    elif r < 0.75:
        s = w.get_set("s")
        k = rng.randrange(4)
        (s.remove if k in s else s.add)(k)
    elif r < 0.85:
        m = w.get_map("m").get_map(f"k{rng.randrange(3)}")
        m.get_text("x").insert(0, "q")
        if rng.random() < 0.3:
            w.get_map("m").delete(f"k{rng.randrange(3)}")  # a new epoch next time
    else:
        w.set(f"f{rng.randrange(4)}", step)


def test_churning_writers_make_documents_that_load_and_apply_everywhere() -> None:
    for seed in range(8):
        rng = random.Random(seed)
        server = Document("server")
        writers: list[Document] = []
        sessions = 0
        for step in range(120):
            if not writers or rng.random() < 0.1:
                sessions += 1
                fresh_writer = Document(f"s{sessions}")
                fresh_writer.apply(server.changes())
                writers = [*writers[-3:], fresh_writer]
            w = rng.choice(writers)
            w.apply(server.changes(w.version()))
            before = w.version()
            _edit(w, rng, step)
            if rng.random() < 0.8:  # sometimes a writer pushes two edits at once
                server.apply(w.changes(before))
            for doc in (server, w):
                if doc._heads is not None:
                    assert doc._heads == _heads_of(doc), (seed, step, doc.client_id)
            if step % 30 == 29:
                for doc in (server, *writers):
                    assert Document.load(doc.save()).to_json() == doc.to_json()
        replica = Document("replica")
        replica.apply(server.changes())
        assert replica.to_json() == server.to_json() and replica.waiting == 0
        # In parts, each against the version of the last: every part applies.
        parts = Document("parts")
        held: VersionVector | None = None
        for w in writers:
            parts.apply(server.changes(held, w.version()))
            held = parts.version()
        parts.apply(server.changes(held))
        assert parts.to_json() == server.to_json() and parts.waiting == 0
