"""Cursors: places in a collaborative text that move with the characters around them.

A position (an int) goes stale as soon as anyone edits the text before it.  A
:class:`Cursor` instead names one *character* by its id, which never changes: every
character keeps its place in the document order forever, even once deleted (a tombstone).
So a cursor can be sent to other replicas (a collaborator's caret, a comment's anchor)
and turned back into a position on any replica that holds that character, at any later
time, with :meth:`synckit.Text.position`.

The cursor is bound either to the character at its position (``bind="next"``: it stays
right before that character) or to the one before it (``bind="previous"``: it stays
right after it).  The two differ only when someone inserts exactly at the cursor: text
typed there ends up before a ``"next"`` cursor and after a ``"previous"`` one.  A cursor
whose character is deleted stays where the character was.  With no character on its side
(``"next"`` at the end, ``"previous"`` at the start) it is bound to the end or the start
of the text itself.

Lists have cursors too (:meth:`synckit.List.cursor`, :meth:`synckit.List.position`), bound
to an item the same way: the cursor follows its item when the item is moved, and stays where
the item was once it is deleted. Such a cursor's ``text`` field names the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import DecodeError as _ProtoDecodeError

from synckit.errors import DecodeError, InvalidTypeError
from synckit.v1 import changes_pb2

__all__ = ["Bind", "Cursor"]

#: Which character a cursor is bound to: the one after it, or the one before it.
Bind = Literal["next", "previous"]

_MAX_CURSOR_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Cursor:
    """A place in the collaborative text (or list) ``text`` of a document, bound to a
    character (or an item).

    Made by :meth:`synckit.Text.cursor` (:meth:`synckit.List.cursor`); turned back into a
    position by :meth:`synckit.Text.position` (:meth:`synckit.List.position`) on this or any
    other replica.  Immutable and hashable;
    :meth:`encode` gives bytes to send (protobuf ``synckit.v1.Cursor``), :meth:`to_json` a
    JSON object (to keep in a document field, for instance).

    Attributes:
        text: the name of the text.
        client: the client id of the writer of the character; None when the cursor is
            bound to the end (``bind="next"``) or the start (``"previous"``) of the text.
        seq: the character's seq within that client's operations (0 when ``client`` is
            None).
        bind: ``"next"``: the cursor sits right before the character; ``"previous"``:
            right after it.
    """

    text: str
    client: str | None
    seq: int
    bind: Bind = "next"

    def to_json(self) -> dict[str, str | int | None]:
        """These fields as a JSON object, for example to keep collaborators' carets in a
        field of the shared document itself (``doc.set("caret:alice", c.to_json())``)."""
        return {"text": self.text, "client": self.client, "seq": self.seq, "bind": self.bind}

    @classmethod
    def from_json(cls, value: object) -> Cursor:
        """The cursor :meth:`to_json` made.

        Raises:
            DecodeError: ``value`` is not such an object (naming what is wrong).
        """
        if not isinstance(value, dict):
            raise DecodeError(f"cursor: expected a JSON object, got {type(value).__name__}")
        if set(value) != {"text", "client", "seq", "bind"}:
            raise DecodeError(
                "cursor: expected the keys text, client, seq and bind, got "
                + ", ".join(sorted(map(str, value)))
            )
        text, client, seq, bind = value["text"], value["client"], value["seq"], value["bind"]
        if not isinstance(text, str) or not text:
            raise DecodeError("cursor: text must be a non-empty string")
        if client is not None and (not isinstance(client, str) or not client):
            raise DecodeError("cursor: client must be a non-empty string or null")
        if type(seq) is not int or not (1 <= seq < 2**63 if client is not None else seq == 0):
            raise DecodeError("cursor: seq must be an int >= 1 with a client, 0 without")
        if bind not in ("next", "previous"):
            raise DecodeError(f"cursor: unknown bind {bind!r}")
        return cls(text, client, seq, bind)

    def encode(self) -> bytes:
        """These fields as protobuf ``synckit.v1.Cursor`` bytes."""
        msg = changes_pb2.Cursor(
            text=self.text,
            client=self.client or "",
            seq=self.seq,
            bind=changes_pb2.Cursor.PREVIOUS
            if self.bind == "previous"
            else changes_pb2.Cursor.NEXT,
        )
        return msg.SerializeToString()

    @classmethod
    def decode(cls, data: bytes) -> Cursor:
        """The cursor :meth:`encode` wrote.

        Raises:
            DecodeError: the bytes are not such a cursor (corrupt, truncated, an unknown
                bind, a character id without a writer, or over 64 KiB).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidTypeError(f"Cursor.decode takes bytes, got {type(data).__name__}")
        if len(data) > _MAX_CURSOR_BYTES:
            raise DecodeError(f"cursor: {len(data)} bytes is over the {_MAX_CURSOR_BYTES} limit")
        msg = changes_pb2.Cursor()
        try:
            msg.ParseFromString(bytes(data))
        except _ProtoDecodeError as exc:
            raise DecodeError(f"cursor: not a synckit.v1.Cursor message ({exc})") from None
        if msg.bind not in (changes_pb2.Cursor.NEXT, changes_pb2.Cursor.PREVIOUS):
            raise DecodeError(f"cursor: unknown bind {msg.bind}")
        if not msg.text:
            raise DecodeError("cursor: no text name")
        if msg.client and msg.seq < 1:
            raise DecodeError("cursor: a character seq below 1")
        if not msg.client and msg.seq:
            raise DecodeError("cursor: a character seq without its client")
        bind: Bind = "previous" if msg.bind == changes_pb2.Cursor.PREVIOUS else "next"
        return cls(msg.text, msg.client or None, msg.seq, bind)
