"""Operation ids shared by the core's containers.

Inside a document every client id string is replaced by a small integer, its index in the
document's client table (``Document._clients``); an operation is named by ``(client, seq)``.
The index is local to one document and one process: encodings carry the client id strings,
and every merge rule that must agree across replicas (tie-breaks) compares the strings,
never the indexes.
"""

from __future__ import annotations

__all__ = ["ItemId"]

#: ``(client index, seq)``: one operation (or one character of a text insert).
ItemId = tuple[int, int]
