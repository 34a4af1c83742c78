"""Operation ids shared by the core's containers.

Inside a document every client id string is replaced by a small integer, its index in the
document's client table (``Document._clients``); an operation is named by ``(client, seq)``.
The index is local to one document and one process: encodings carry the client id strings,
and every merge rule that must agree across replicas (tie-breaks) compares the strings,
never the indexes.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["ContainerId", "ItemId", "root_of"]

#: ``(client index, seq)``: one operation (or one character of a text insert).
ItemId = tuple[int, int]

#: What names a container inside a document. A top-level container is named by its str
#: name. A nested one by a tuple that leads to it from its parent: ``(map id, key, epoch)``
#: for the container at ``key`` of a map (``epoch`` is the ItemId of the write the
#: container's creation replaced at that key, or None; see :mod:`synckit.core._map`), and
#: ``(list id, item)`` for the container that is the list's item ``item``.
ContainerId: TypeAlias = str | tuple[Any, ...]


def root_of(cid: ContainerId) -> str:
    """The name of the top-level container ``cid`` is in (or is)."""
    while type(cid) is tuple:
        cid = cid[0]
    return cid  # type: ignore[return-value]
