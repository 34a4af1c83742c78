"""A document together with its place in a document log: the one way both stores use a log.

Client and server keep each document the same way (see :mod:`synckit._storage`): a snapshot,
then the change batches appended after it, replaced by a new snapshot every ``compact_every``
batches. :class:`LoggedDocument` is that bookkeeping without I/O: it rebuilds the document from
what a log holds, counts what is appended, and says when and what to compact. The client calls
the log itself (synchronously, from its change callback); the server queues the same calls for
its storage task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synckit._storage import StoredDoc
from synckit.core import Document

__all__ = ["LoggedDocument"]


@dataclass(slots=True)
class LoggedDocument:
    """A document, and how many batches and bytes its log holds after the last snapshot."""

    doc: Document
    #: Batches appended (or queued for appending) since the last snapshot.
    log_count: int = 0
    #: Bytes held for the document: the snapshot and every batch after it.
    size: int = 0
    #: A snapshot was taken and its compaction is not done yet (the server's storage task
    #: performs it later): no other is due meanwhile.
    compacting: bool = False

    @classmethod
    def restore(
        cls,
        stored: StoredDoc | None,
        client_id: str | None = None,
        *,
        clock: Callable[[], int] | None = None,
    ) -> LoggedDocument:
        """The document a log holds (a new one when ``stored`` is None).

        Raises:
            DecodeError: the log holds bytes that do not decode.
        """
        if stored is None:
            return cls(Document(client_id, clock=clock))
        if stored.snapshot:
            doc = Document.load(stored.snapshot, client_id, clock=clock)
        else:
            doc = Document(client_id, clock=clock)
        for batch in stored.changes:
            doc.apply(batch)
        return cls(doc, len(stored.changes), stored.size)

    def appended(self, nbytes: int) -> None:
        """One batch of ``nbytes`` went (or is queued to go) into the log."""
        self.log_count += 1
        self.size += nbytes

    def compaction_due(self, every: int) -> bool:
        """Whether the log has grown to ``every`` batches since the last snapshot."""
        return self.log_count >= every and not self.compacting

    def snapshot(self) -> tuple[bytes, int, int]:
        """A snapshot of the document now: its bytes, the batches it covers, and the size
        counted when it was taken (give all three to :meth:`compacted`, or call
        :meth:`compaction_failed`). Until then no other compaction is due: two in flight
        would each subtract the batches the other covers."""
        self.compacting = True
        return self.doc.save(), self.log_count, self.size

    def compacted(self, snapshot: bytes, covered: int, size_then: int) -> None:
        """The log replaced its first ``covered`` batches by ``snapshot``."""
        self.compacting = False
        self.log_count -= covered
        self.size = len(snapshot) + (self.size - size_then)

    def compaction_failed(self) -> None:
        """The compaction of the last :meth:`snapshot` did not happen: the log holds every
        batch still, and the next append may try again."""
        self.compacting = False
