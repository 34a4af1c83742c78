"""Writes that lost leave nothing behind: a document whose fields are overwritten over and
over by other replicas stays as small as its state, whatever the number of changes it got
(it once kept a SKIP operation per received change in its log and in every snapshot)."""

from __future__ import annotations

from synckit.core import Document


def _overwritten(rounds: int, writers: int = 3, burst: int = 4) -> tuple[Document, list[Document]]:
    sources = [Document(f"w{i}") for i in range(writers)]
    doc = Document("reader")
    for r in range(rounds):
        for i, src in enumerate(sources):
            held = src.version()
            for k in range(burst):
                src.set(f"f{i}", r * burst + k)
            doc.apply(src.changes(held))
    return doc, sources


def test_snapshot_and_changes_do_not_grow_with_received_changes() -> None:
    small, _ = _overwritten(10)
    large, _ = _overwritten(1000)
    assert large.to_json() == {f"f{i}": 1000 * 4 - 1 for i in range(3)}
    # The same state: the same size, give or take the seqs' varints.
    assert len(large.save()) <= len(small.save()) + 32
    assert len(large.changes()) <= len(small.changes()) + 32
    assert all(not log for log in large._log)


def test_what_a_reader_of_overwrites_sends_and_saves_is_complete() -> None:
    doc, sources = _overwritten(200)
    for copy in (Document.load(doc.save()), Document()):
        if not copy.version():
            copy.apply(doc.changes())
        assert copy.to_json() == doc.to_json() and copy.version() == doc.version()
    # A replica part-way through gets exactly the rest, skips and all.
    behind = Document("behind")
    behind.apply(sources[0].changes())
    half = behind.version()
    behind.apply(doc.changes(half))
    assert behind.to_json() == doc.to_json() and behind.version() == doc.version()
    # Every source accepts the reader's changes back (its own seqs included) unchanged.
    for src in sources:
        before = src.to_json()
        src.apply(doc.changes())
        assert src.version() == doc.version()
        assert src.to_json() == doc.to_json() == before | src.to_json()


def test_a_snapshot_holding_skip_runs_still_loads_and_saves_small() -> None:
    """Snapshots saved before this change hold a SKIP run per received change: they load
    the same, and the next save leaves the runs out."""
    doc, _ = _overwritten(50)
    old = Document.load(doc.save())
    # Rebuild the old layout: a SKIP per received change, as the log used to keep them.
    from synckit.core import _ops as K

    for c, name in enumerate(old._clients):
        if name.startswith("w"):
            old._log[c] = [(K.SKIP, 1 + 4 * r, 3) for r in range(50)]
    data = old.save()
    loaded = Document.load(data)
    assert loaded.to_json() == doc.to_json() and loaded.version() == doc.version()
    assert len(loaded.save()) < len(data)
