"""The text container's handle: what applications use to read and edit a collaborative text.

The text's state, a :class:`~synckit.core._text.TextState` per name, keeps the text and
its history; this handle checks the arguments, turns positions into edits of that state
and cursors, and talks to the document through :class:`~synckit.core._host.Host`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synckit.core._cursor import Bind, Cursor
from synckit.core._events import TextEdit
from synckit.core._host import TEXT
from synckit.core._ops import path_refs
from synckit.core._values import check_text
from synckit.errors import InvalidTypeError, InvalidValueError, PositionError

if TYPE_CHECKING:
    from synckit.core._host import Host
    from synckit.core._ids import ContainerId

__all__ = ["Text"]


class Text:
    """Collaborative text; positions count Unicode code points, like ``str`` indexes."""

    __slots__ = ("_doc", "_name")

    def __init__(self, doc: Host, name: ContainerId) -> None:
        self._doc = doc
        self._name = name

    def __str__(self) -> str:
        state = self._doc._texts.get(self._name)
        return str(state) if state is not None else ""

    def __len__(self) -> int:
        state = self._doc._texts.get(self._name)
        return len(state) if state is not None else 0

    def __repr__(self) -> str:
        return f"Text({self._name!r}, {str(self)!r})"

    def cursor(self, pos: int, bind: Bind = "next") -> Cursor:
        """A :class:`~synckit.Cursor` at ``pos`` (0 <= pos <= len) that moves with the text.

        ``bind="next"`` binds it to the character at ``pos`` (it stays right before it),
        ``"previous"`` to the one before ``pos`` (it stays right after it); they differ
        when text is inserted exactly there. See :mod:`synckit.core._cursor`.

        Raises:
            IndexError: ``pos`` is outside the text.
        """
        if type(pos) is not int:
            raise InvalidTypeError(f"text positions must be int, got {type(pos).__name__}")
        if bind not in ("next", "previous"):
            raise InvalidValueError(f"bind must be 'next' or 'previous', got {bind!r}")
        doc = self._doc
        state = doc._texts.get(self._name)
        length = len(state) if state is not None else 0
        if not 0 <= pos <= length:
            raise PositionError(f"text position {pos} out of range for length {length}")
        at = pos if bind == "next" else pos - 1
        if state is None or not 0 <= at < length:
            return Cursor(self._label(), None, 0, bind)  # the end / the start of the text
        client, seq = state.char_id(at)
        return Cursor(self._label(), doc._clients[client], seq, bind)

    def _label(self) -> str:
        """This text's name as cursors carry it (see :func:`~synckit.core._views.label_of`)."""
        name = self._name
        if type(name) is str:
            return name
        from synckit.core._views import label_of

        return label_of(self._doc, name)

    def position(self, cursor: Cursor) -> int | None:
        """Where ``cursor`` is now: a position in this text (0 <= position <= len).

        Works on any replica, for cursors made on any replica, however the text changed
        since. None when this replica does not hold the cursor's character yet (it was
        written by changes that have not arrived here).

        Raises:
            ValueError: the cursor belongs to another text (``cursor.text`` names it).
        """
        if not isinstance(cursor, Cursor):
            raise InvalidTypeError(f"position takes a Cursor, got {type(cursor).__name__}")
        label = self._label()
        if cursor.text != label:
            raise InvalidValueError(f"the cursor belongs to text {cursor.text!r}, not {label!r}")
        doc = self._doc
        state = doc._texts.get(self._name)
        if cursor.client is None:
            return 0 if cursor.bind == "previous" or state is None else len(state)
        client = doc._client_index.get(cursor.client)
        if client is None or state is None:
            return None
        found = state.char_position(client, cursor.seq)
        if found is None:
            return None
        before, visible = found
        return before + 1 if visible and cursor.bind == "previous" else before

    def insert(self, pos: int, s: str) -> None:
        """Insert ``s`` at code point ``pos`` (0 <= pos <= len); IndexError otherwise."""
        if type(pos) is not int:
            raise InvalidTypeError(f"text positions must be int, got {type(pos).__name__}")
        if type(s) is not str:
            raise InvalidTypeError(f"text inserts take str, got {type(s).__name__}")
        check_text(s, "inserted text")
        doc = self._doc
        state = doc._texts.get(self._name)
        length = len(state) if state is not None else 0
        if not 0 <= pos <= length:
            raise PositionError(f"text position {pos} out of range for length {length}")
        if not s:
            return
        if state is None:
            doc._check_kind(self._name, TEXT)
            state = doc._text_state(self._name)
        seq = doc._next_seq()
        me = doc._me
        left, right = state.local_insert(me, seq, pos, s)
        # Typing on (right after the writer's previous character, the hottest path) refers
        # to what its previous insert did: its dependencies name all that unless a
        # checkpoint starts here (changes arrived in between).
        if left != (me, seq - 1) or ((cps := doc._checkpoints[me]) and cps[-1][0] == seq):
            refs = [o for o in (left, right) if o is not None]
            doc._cover(seq, path_refs(self._name, refs) if type(self._name) is tuple else refs)
        doc._vv[me] = seq + len(s) - 1
        doc._version_stale.add(me)
        if doc._subscribers:
            doc._emit(True, (self._name,), {self._name: (TextEdit(pos, 0, s),)})

    def delete(self, pos: int, length: int) -> None:
        """Delete ``length`` code points from ``pos``; IndexError if that is not all inside."""
        if type(pos) is not int or type(length) is not int:
            raise InvalidTypeError("text delete takes int position and length")
        doc = self._doc
        state = doc._texts.get(self._name)
        size = len(state) if state is not None else 0
        if length < 0 or not 0 <= pos <= size or pos + length > size:
            raise PositionError(f"text range {pos}..{pos + length} out of range for length {size}")
        if length == 0 or state is None:
            return
        seq = doc._next_seq()
        runs = state.local_delete(doc._me, seq, pos, length)
        targets = [(c, first + count - 1) for c, first, count in runs]
        doc._cover(seq, path_refs(self._name, targets))
        doc._vv[doc._me] = seq + length - 1
        doc._version_stale.add(doc._me)
        if doc._subscribers:
            doc._emit(True, (self._name,), {self._name: (TextEdit(pos, length, ""),)})
