"""When a document's log is due to be replaced by a snapshot (``LoggedDocument``, used by the
server's rooms and the client's store alike): after ``every`` batches, once the log holds an
eighth of the snapshot's bytes, or after ``16 * every`` batches whatever their size."""

from __future__ import annotations

from synckit import Document
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc


def _logged(snapshot_bytes: int) -> LoggedDocument:
    doc = Document("a")
    doc.set("blob", "x" * snapshot_bytes)
    return LoggedDocument.restore(StoredDoc(doc.save(), ()))


def test_a_small_document_compacts_every_so_many_batches() -> None:
    logged = _logged(100)
    for _ in range(7):
        logged.appended(50)
    assert not logged.compaction_due(8)
    logged.appended(50)
    assert logged.compaction_due(8)  # 8 batches, 400 bytes of log against ~150 of snapshot


def test_a_large_documents_log_grows_to_an_eighth_of_it_first() -> None:
    logged = _logged(80_000)
    snapshot = logged.size
    for _ in range(8):
        logged.appended(50)
    assert logged.log_bytes == 400 and not logged.compaction_due(8)
    while logged.log_bytes * 8 < snapshot:
        assert not logged.compaction_due(8)
        logged.appended(500)
    assert logged.compaction_due(8)
    logged.compacting = True
    assert not logged.compaction_due(8)  # one at a time


def test_so_many_batches_are_due_whatever_their_size() -> None:
    logged = _logged(1_000_000)
    for _ in range(16 * 8 - 1):
        logged.appended(10)
    assert not logged.compaction_due(8)
    logged.appended(10)
    assert logged.compaction_due(8)


def test_a_compaction_keeps_counting_what_came_after_its_snapshot() -> None:
    logged = _logged(1_000)
    for _ in range(8):
        logged.appended(200, b"")
    snapshot, covered, size_then = logged.snapshot()
    logged.appended(300)  # while the snapshot is being written
    logged.compacted(snapshot, covered, size_then)
    assert logged.log_count == 1 and logged.log_bytes == 300
    assert logged.size == len(snapshot) + logged.doc.text_length() + 300
    author = Document("b")
    batches = []
    for i in range(2):
        before = author.version()
        author.set("k", i)
        batches.append(author.changes(before))
    restored = LoggedDocument.restore(StoredDoc(snapshot, tuple(batches)))
    assert restored.log_bytes == sum(map(len, batches)) and restored.log_count == 2
