"""End to end: an editor's view of a shared text through a real server.

Real uvicorn on loopback, real WebSocket clients, SQLite on disk. Two clients type into one
text at once; each keeps a plain ``str`` copy fed only by its document's change events
(``ChangeEvent.text_edits``), as an editor binding would, and shows the other's caret from a
cursor kept in a field of the same document.
"""

from __future__ import annotations

import random

from live import ServerThread, eventually

from synckit import ChangeEvent, Cursor, Document
from synckit.client import connect


class EditorView:
    """What an editor shows: a str kept in step by change events alone."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.shown = str(doc.get_text("body"))
        doc.subscribe(self.on_change)

    def on_change(self, event: ChangeEvent) -> None:
        for edit in event.text_edits.get("body", ()):
            self.shown = edit.apply_to(self.shown)


async def test_two_editors_typing_at_once_show_the_same_text_and_each_others_caret(
    server: ServerThread,
) -> None:
    rng = random.Random(3)
    async with (
        connect(server.url, client_id="alice", backoff_base=0.02) as alice,
        connect(server.url, client_id="bob", backoff_base=0.02) as bob,
    ):
        docs = [await alice.open("note"), await bob.open("note")]
        views = [EditorView(d) for d in docs]
        for step in range(300):
            who = step % 2
            doc, name = docs[who], ("alice", "bob")[who]
            text = doc.get_text("body")
            n = len(text)
            if n > 10 and rng.random() < 0.25:
                pos = rng.randrange(n - 3)
                text.delete(pos, rng.randint(1, 3))
                caret = pos
            else:
                pos = rng.randint(0, n)
                word = rng.choice(["héllo ", "日本 ", "🙂", "x"])
                text.insert(pos, word)
                caret = pos + len(word)
            doc.set(f"caret:{name}", text.cursor(caret, "previous").to_json())
            if step % 25 == 0:
                await alice.wait_synced(timeout=10)
                await bob.wait_synced(timeout=10)
        await alice.wait_synced(timeout=10)
        await bob.wait_synced(timeout=10)

        def converged() -> bool:
            return str(docs[0].get_text("body")) == str(docs[1].get_text("body"))

        await eventually(converged, what="both texts equal")
        final = str(docs[0].get_text("body"))
        assert len(final) > 100
        for view in views:
            assert view.shown == final  # the events alone rebuilt the text
        # Each side's caret, made where its owner last typed, resolves alike on both sides.
        for name in ("alice", "bob"):
            carets = [Cursor.from_json(d.get(f"caret:{name}")) for d in docs]
            assert carets[0] == carets[1]
            places = [d.get_text("body").position(carets[0]) for d in docs]
            assert places[0] is not None and places[0] == places[1]
            assert 0 <= places[0] <= len(final)
