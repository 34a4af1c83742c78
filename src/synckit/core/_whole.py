"""A document's whole changes, kept and extended: what a server sends every replica that
holds nothing of a document, without encoding all of it again after each edit.

``doc.changes()`` of a large document costs its whole history (a megabyte of text: a few
hundred milliseconds), and a server that answers everyone who subscribes with nothing would
pay it again after every edit. :func:`whole_changes` keeps those bytes with the tables they
were written with (:class:`WholeChanges`); :func:`extend_whole` then answers later with the
same bytes followed by what the document gained since, written against the same tables:
more table entries and more changes, which a protobuf reader appends to the first ones (a
repeated field may come in several pieces), so the result is one ``ChangeSet`` that
:meth:`~synckit.Document.apply` takes like any other. It holds operations the document has
since overwritten (their later writes come after them), never fewer than ``changes()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from synckit.core._changes import write_changes
from synckit.core._codec import ChangeSetWriter
from synckit.core._ids import ContainerId
from synckit.core._version import VersionVector

if TYPE_CHECKING:
    from synckit.core._document import Document

__all__ = ["WholeChanges", "extend_whole", "whole_changes"]


@dataclass(frozen=True, slots=True)
class WholeChanges:
    """``doc.changes()`` at ``version`` (``data``), with the tables it was written with."""

    version: VersionVector
    data: bytes
    #: The document's client ids when it was written (their order: the document's client
    #: indexes, which only ever grow at the end).
    doc_clients: tuple[str, ...]
    #: Its client table: document client index -> position.
    client_pos: dict[int, int]
    clients: tuple[str, ...]
    #: Its name table: container -> position.
    name_pos: dict[ContainerId, int]
    names: tuple[str, ...]


def whole_changes(doc: Document) -> WholeChanges:
    """``doc.changes()``, kept with its tables for :func:`extend_whole`."""
    writer = ChangeSetWriter(doc._clients)
    write_changes(doc, writer, None, None)
    data = writer.to_bytes()
    return WholeChanges(
        doc.version(),
        data,
        tuple(doc._clients),
        dict(writer.client_positions),
        tuple(writer.clients),
        dict(writer.name_positions),
        tuple(writer.names),
    )


def extend_whole(doc: Document, whole: WholeChanges) -> bytes | None:
    """``whole``'s bytes followed by everything ``doc`` holds beyond ``whole.version``, as one
    change set; None when ``whole`` was not written from this document's lineage (its
    client indexes differ: encode the whole changes again)."""
    clients = doc._clients
    known = whole.doc_clients
    if len(clients) < len(known) or tuple(clients[: len(known)]) != known:
        return None
    version = doc.version()
    if version == whole.version:
        return whole.data
    writer = ChangeSetWriter.continuing(
        clients, whole.client_pos, whole.clients, whole.name_pos, whole.names
    )
    write_changes(doc, writer, whole.version, None)
    return whole.data + writer.tail_bytes(len(whole.clients), len(whole.names))
