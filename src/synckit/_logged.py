"""A document together with its place in a document log: the one way both stores use a log.

Client and server keep each document the same way (see :mod:`synckit._storage`): a snapshot,
then the change batches appended after it, replaced by a new snapshot every ``compact_every``
batches or more (see :meth:`LoggedDocument.compaction_due`). :class:`LoggedDocument` is that
bookkeeping without I/O: it rebuilds the document from what a log holds, counts what is
appended, and says when and what to compact. The client calls the log itself (synchronously,
from its change callback); the server queues the same calls for its storage task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from synckit._storage import StoredDoc
from synckit.core import Document, SnapshotKey

__all__ = ["LoggedDocument", "build_snapshot"]


def build_snapshot(
    base: bytes | None,
    batches: list[bytes],
    key: SnapshotKey | None = None,
    base_tag: bytes | None = None,
) -> tuple[bytes, bytes | None]:
    """The snapshot of the document ``base`` holds with ``batches`` applied in order, and its
    tag under ``key`` (None without one): what a server computes away from its event loop
    (in a worker process) to compact a large document at the version it had when the
    batches were taken. ``base_tag``: the tag stored beside ``base`` (see
    :meth:`LoggedDocument.restore`).

    Raises:
        DecodeError: the bytes do not decode.
    """
    doc = _load(base, None, None, key, base_tag) if base else Document()
    for batch in batches:
        doc.apply(batch)
    doc.trim_history()
    snapshot = doc.save()
    return snapshot, None if key is None else key.tag(snapshot)


def _load(
    data: bytes,
    client_id: str | None,
    clock: Callable[[], int] | None,
    key: SnapshotKey | None,
    tag: bytes | None,
) -> Document:
    """``Document.load`` of ``data``, with ``key`` and ``tag`` only when both are given."""
    if key is None or tag is None:
        return Document.load(data, client_id, clock=clock)
    return Document.load(data, client_id, clock=clock, key=key, tag=tag)


# A compaction is due once the log holds an eighth of the snapshot's bytes...
_SNAPSHOT_SHARE = 8
# ... or this many times compact_every batches, whatever their size.
_MOST_BATCHES = 16


@dataclass(slots=True)
class LoggedDocument:
    """A document, and how many batches and bytes its log holds after the last snapshot."""

    doc: Document
    #: Batches appended (or queued for appending) since the last snapshot.
    log_count: int = 0
    #: Bytes held for the document: the snapshot, with its texts counted at their decoded
    #: length (a snapshot stores them compressed: see :meth:`Document.text_length`), and
    #: every batch after it.
    size: int = 0
    #: Bytes of the batches appended since the last snapshot (the part of :attr:`size`
    #: that the log holds).
    log_bytes: int = 0
    #: A snapshot was taken and its compaction is not done yet (the server's storage task
    #: performs it later): no other is due meanwhile.
    compacting: bool = False
    #: With tracking on (:meth:`restore` with ``track=True``): the snapshot the document was
    #: last rebuilt from or compacted to, and every batch merged into it since, in order;
    #: :meth:`snapshot_source` hands them to a worker that builds the next snapshot off the
    #: event loop. None without tracking.
    base: bytes | None = None
    since: list[bytes] | None = None
    #: The document in memory got ahead of storage (a commit of it failed) and is dropped:
    #: a compaction of it still in flight must not be written.
    abandoned: bool = False
    #: The tag stored beside :attr:`base` (None: none, or not tracking).
    base_tag: bytes | None = None
    #: How :meth:`restore` loaded the stored snapshot: ``"tagged"`` (its tag verified under
    #: the key: the checks only a hostile author needs were skipped), ``"checked"`` (every
    #: check ran: no key, no tag, or a tag that did not verify), or None (no snapshot).
    loaded: Literal["tagged", "checked"] | None = None

    @classmethod
    def restore(
        cls,
        stored: StoredDoc | None,
        client_id: str | None = None,
        *,
        clock: Callable[[], int] | None = None,
        track: bool = False,
        key: SnapshotKey | None = None,
    ) -> LoggedDocument:
        """The document a log holds (a new one when ``stored`` is None). ``track``: keep the
        bytes it was rebuilt from and every later batch (see :attr:`since`). ``key``: the
        :class:`SnapshotKey` the snapshot's stored tag is checked against (see
        :attr:`loaded`); a tag that does not verify only means every check runs.

        Raises:
            DecodeError: the log holds bytes that do not decode.
        """
        if stored is None:
            return cls(Document(client_id, clock=clock), since=[] if track else None)
        loaded: Literal["tagged", "checked"] | None = None
        tag = stored.tag
        if stored.snapshot:
            # Checked here too (a keyed hash: well under a millisecond per megabyte) only to
            # say which way it loaded; Document.load decides for itself.
            trusted = key is not None and tag is not None and key.verify(stored.snapshot, tag)
            loaded = "tagged" if trusted else "checked"
            doc = _load(stored.snapshot, client_id, clock, key, tag if trusted else None)
        else:
            doc = Document(client_id, clock=clock)
        for batch in stored.changes:
            doc.apply(batch)
        size = stored.size + doc.text_length()
        log_bytes = sum(map(len, stored.changes))
        if not track:
            return cls(doc, len(stored.changes), size, log_bytes, loaded=loaded)
        return cls(
            doc,
            len(stored.changes),
            size,
            log_bytes,
            base=stored.snapshot or None,
            since=list(stored.changes),
            base_tag=tag if stored.snapshot else None,
            loaded=loaded,
        )

    def appended(self, nbytes: int, data: bytes = b"") -> None:
        """One batch of ``nbytes`` (``data``, when tracking) went (or is queued to go) into
        the log."""
        self.log_count += 1
        self.size += nbytes
        self.log_bytes += nbytes
        if self.since is not None and data:
            self.since.append(data)

    def merged(self, changes: bytes) -> None:
        """Changes stored by someone else (another server) were merged into the document."""
        if self.since is not None and changes:
            self.since.append(changes)

    def snapshot_source(self) -> tuple[bytes | None, list[bytes], int, int]:
        """What :func:`build_snapshot` needs to snapshot the document as it is now (its base
        and the batches since; :attr:`base_tag` is the base's tag), with the batches covered
        and the size counted now, as :meth:`snapshot` gives them. Tracking must be on.
        ``len`` of the batches is the ``taken`` to give :meth:`compacted`."""
        self.compacting = True
        # (Not trimmed here, on the event loop: a document this large is trimmed where its
        # snapshot is built, so that is what it reloads as.)
        return self.base, list(self.since or ()), self.log_count, self.size

    @property
    def snapshot_bytes(self) -> int:
        """The part of :attr:`size` that is not the log: the last snapshot's."""
        return self.size - self.log_bytes

    def compaction_due(self, every: int) -> bool:
        """Whether the log has grown enough since the last snapshot to replace it by a new
        one: to ``every`` batches, and to an eighth of the snapshot's size (or to
        ``16 * every`` batches, whatever their size).

        A snapshot costs in proportion to the whole document (building it, writing it), a
        batch in proportion to its change: compacting a large document every ``every``
        batches made each few hundred keystrokes into it rewrite it whole (a 5 MB text: 3.5
        snapshots written a second by one writer, and a worker process kept busy). Waiting
        for the log to reach an eighth of the snapshot bounds that to about eight bytes
        written per byte pushed; ``16 * every`` bounds the batches a load replays."""
        if self.compacting or self.log_count < every:
            return False
        if self.log_count >= _MOST_BATCHES * every:
            return True
        return self.log_bytes * _SNAPSHOT_SHARE >= self.snapshot_bytes

    def snapshot(self) -> tuple[bytes, int, int]:
        """A snapshot of the document now: its bytes, the batches it covers, and the size
        counted when it was taken (give all three to :meth:`compacted`, or call
        :meth:`compaction_failed`). Until then no other compaction is due: two in flight
        would each subtract the batches the other covers.

        The document's spent dependencies are trimmed first (:meth:`Document.trim_history`):
        a document that lives long in memory is compacted every so many batches, so what
        it keeps stays bounded by what it holds, and so does the snapshot."""
        self.compacting = True
        self.doc.trim_history()
        return self.doc.save(), self.log_count, self.size

    def compacted(
        self,
        snapshot: bytes,
        covered: int,
        size_then: int,
        taken: int = 0,
        tag: bytes | None = None,
    ) -> None:
        """The log replaced its first ``covered`` batches by ``snapshot`` (``tag`` stored
        beside it), which holds the first ``taken`` of the tracked batches (those merged later
        stay tracked)."""
        self.compacting = False
        if self.since is not None:
            self.base = snapshot
            self.base_tag = tag
            del self.since[:taken]
        self.log_count -= covered
        # What was appended after the snapshot was taken stays in the log.
        self.log_bytes = self.size - size_then
        # The texts as the document holds them now: those of batches merged since the
        # snapshot count twice until the next compaction (an overcount, never an under).
        self.size = len(snapshot) + self.doc.text_length() + self.log_bytes

    def compaction_failed(self) -> None:
        """The compaction of the last :meth:`snapshot` did not happen: the log holds every
        batch still, and the next append may try again."""
        self.compacting = False
