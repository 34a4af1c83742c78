"""The JSON views a commit carries for a store that keeps them (driven by hand): a small
document's with every commit; a large document's at most once per ``max(1 s, view bytes /
view_bytes_per_second)``, the view lagging in between and written once due (in the next
commit, in a commit of its own from ``tick``, or when its room closes); and all of them
within ``view_loop_share`` of the loop, the longest waiting first."""

from __future__ import annotations

import json

import pytest
from peer import Peer

from synckit import Document
from synckit.core import JSONInput, VersionVector
from synckit.protocol import Subscribe, Subscribed
from synckit.server import Hub, Limits, MemoryStore, perform_io
from synckit.server import _hub as _hub_module
from synckit.server._rooms import Commit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _hub(clock: Clock, linger: float = 30.0) -> tuple[Hub, MemoryStore]:
    store = MemoryStore()
    limits = Limits(view_inline_bytes=2000, view_bytes_per_second=1000, room_linger=linger)
    hub = Hub(None, limits=limits, monotonic=clock)
    hub.views_wanted = True
    return hub, store


def _commits(hub: Hub, store: MemoryStore) -> list[Commit]:
    """Perform what is queued; the commits among it."""
    done = []
    while (op := hub.next_io()) is not None:
        hub.io_done(op, perform_io(op, store))
        if isinstance(op, Commit):
            done.append(op)
    return done


def _join(hub: Hub, store: MemoryStore, name: str, doc_id: str) -> Peer:
    """A peer subscribed to ``doc_id`` (its load performed)."""
    peer = Peer(hub, name)
    peer.send(Subscribe(doc_id, VersionVector().encode()))
    _commits(hub, store)
    assert any(isinstance(event, Subscribed) for event in peer.received())
    return peer


def _edit(author: Document, peer: Peer, doc_id: str, key: str, value: JSONInput) -> None:
    before = author.version()
    author.set(key, value)
    peer.push(doc_id, author.changes(before))


def test_a_small_document_has_its_view_in_every_commit() -> None:
    clock = Clock()
    hub, store = _hub(clock)
    peer, author = _join(hub, store, "a", "small"), Document("a")
    for i in range(3):
        _edit(author, peer, "small", "n", i)
        [commit] = _commits(hub, store)
        assert json.loads(commit.views["small"]) == {"n": i}


def test_a_large_document_has_its_view_written_at_a_pace_and_caught_up() -> None:
    clock = Clock()
    hub, store = _hub(clock)
    peer, author = _join(hub, store, "a", "big"), Document("a")
    _edit(author, peer, "big", "text", "x" * 3000)  # 3,000 bytes: large from now on
    [first] = _commits(hub, store)
    view = first.views["big"]
    assert json.loads(view)["text"] == "x" * 3000  # the first is written at once
    wait = len(view) / 1000  # view_bytes_per_second: ~3 s before the next
    _edit(author, peer, "big", "n", 1)
    [second] = _commits(hub, store)
    assert second.batches and "big" not in second.views  # lags behind now
    clock.now += wait / 2
    hub.tick()
    assert _commits(hub, store) == []  # not due yet: no commit of its own
    _edit(author, peer, "big", "n", 2)
    [third] = _commits(hub, store)
    assert "big" not in third.views
    clock.now += wait  # due: the tick queues a commit of views alone
    hub.tick()
    [caught_up] = _commits(hub, store)
    assert caught_up.batches == [] and json.loads(caught_up.views["big"])["n"] == 2
    hub.tick()
    assert _commits(hub, store) == []  # nothing lags any more
    # A small document in the same commits keeps its view in each.
    _edit(author, peer, "big", "n", 3)
    _edit(Document("b"), _join(hub, store, "b", "small"), "small", "k", 1)
    commits = _commits(hub, store)
    assert any("small" in c.views for c in commits)
    assert all("big" not in c.views for c in commits)


def test_a_lagging_view_is_written_when_its_room_closes() -> None:
    clock = Clock()
    hub, store = _hub(clock, linger=0)
    peer, author = _join(hub, store, "a", "big"), Document("a")
    _edit(author, peer, "big", "text", "y" * 3000)
    _edit(author, peer, "big", "n", 7)
    commits = _commits(hub, store)
    assert json.loads(commits[-1].views["big"])["n"] == 7  # (one group commit: written)
    _edit(author, peer, "big", "n", 8)
    [lagging] = _commits(hub, store)
    assert "big" not in lagging.views
    hub.disconnect(peer.conn)  # the room closes at once (no linger)
    views = {doc: text for c in _commits(hub, store) for doc, text in c.views.items()}
    assert json.loads(views["big"])["n"] == 8


def _costly_views(monkeypatch: pytest.MonkeyPatch, clock: Clock, seconds: float) -> list[str]:
    """Make building each view take ``seconds`` of the hub's clock; the JSON views built, in
    order."""
    built: list[str] = []
    real = _hub_module.view_text

    def view_text(value: object) -> str:
        clock.now += seconds
        text = real(value)
        built.append(text)
        return text

    monkeypatch.setattr(_hub_module, "view_text", view_text)
    return built


def _budgeted_hub(clock: Clock) -> tuple[Hub, MemoryStore]:
    """A hub whose views may take a tenth of the loop (and are otherwise never paced)."""
    hub = Hub(None, limits=Limits(view_loop_share=0.1), monotonic=clock)
    hub.views_wanted = True
    return hub, MemoryStore()


def test_views_keep_to_their_share_of_the_loop_and_the_oldest_go_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    hub, store = _budgeted_hub(clock)
    _costly_views(monkeypatch, clock, 0.06)  # each view: 60 ms of the loop
    names = ["a", "b", "c", "d"]
    peers = {n: _join(hub, store, n, n) for n in names}
    authors = {n: Document(n) for n in names}
    for n in names:  # one commit holding all four
        _edit(authors[n], peers[n], n, "v", 1)
    [commit] = _commits(hub, store)
    # The budget holds 0.1 s (and refills by a tenth of the time views take): two views
    # now, the other two wait (stale).
    assert sorted(commit.views) == ["a", "b"]
    assert hub.views_behind == 2
    hub.tick()  # nothing to refill it with: they keep waiting
    assert all(not c.views for c in _commits(hub, store))
    clock.now += 1.0  # 0.1 s of budget again
    _edit(authors["a"], peers["a"], "a", "v", 2)  # a's new commit comes after those waiting
    views = [list(c.views) for c in _commits(hub, store)]
    assert views == [["c", "d"]]
    assert hub.views_behind == 1  # a's, until the budget allows
    clock.now += 1.0
    hub.tick()
    [caught_up] = _commits(hub, store)
    assert json.loads(caught_up.views["a"]) == {"v": 2}
    assert hub.views_behind == 0


def test_an_author_of_many_documents_gets_no_more_than_the_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    hub, store = _budgeted_hub(clock)
    built = _costly_views(monkeypatch, clock, 0.02)
    names = [f"doc-{i}" for i in range(20)]
    peers = {n: _join(hub, store, "abuser", n) for n in names}
    author = Document("abuser")
    began = clock.now
    for i in range(200):  # every commit touches all 20 documents; one every 10 ms
        for n in names:
            before = author.version()
            author.set(f"{n}-k", i)
            peers[n].push(n, author.changes(before))
        _commits(hub, store)
        clock.now += 0.01
    spent = 0.02 * len(built)
    elapsed = clock.now - began
    # Unbudgeted, 20 views of 20 ms per commit: 4,000 of them. Kept to 10 % of the time
    # (plus the burst and one view's overshoot).
    assert spent <= 0.1 * elapsed + 0.1 + 0.02
    assert len(built) >= 0.1 * (elapsed - spent) / 0.02 - 1  # and the share is used
    # Once the author stops, every view catches up.
    for _ in range(100):
        clock.now += 1.0
        hub.tick()
        _commits(hub, store)
    assert hub.views_behind == 0


@pytest.mark.parametrize("share", [0, 0.0001, 1.5, "0.1", None])
def test_view_loop_share_is_checked(share: object) -> None:
    with pytest.raises(ValueError, match="view_loop_share"):
        Limits(view_loop_share=share)  # type: ignore[arg-type]
