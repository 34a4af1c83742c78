"""What a subscriber of a document is told, and how a document keeps its subscribers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["ChangeEvent", "Subscriber", "TextEdit", "Unsubscribe", "WithoutTextEdits"]


@dataclass(frozen=True, slots=True)
class TextEdit:
    """One splice of a collaborative text, in code points: the ``deleted`` characters at
    ``pos`` were replaced by ``inserted``.

    A text editor showing the text applies an event's edits in order, each to the text as
    the edits before it left it, and so follows remote changes without re-reading the
    whole text (and can keep its own caret where it belongs).

    Attributes:
        pos: where the edit starts (0 <= pos <= length of the text before this edit).
        deleted: how many code points were removed there (0 for a pure insert).
        inserted: what was inserted there ("" for a pure delete).
    """

    pos: int
    deleted: int
    inserted: str

    def apply_to(self, text: str) -> str:
        """``text`` with this edit made: the way to keep a plain ``str`` copy in step."""
        return text[: self.pos] + self.inserted + text[self.pos + self.deleted :]


_NO_EDITS: Mapping[str, tuple[TextEdit, ...]] = MappingProxyType({})
_NO_PATH_EDITS: Mapping[tuple[str | int, ...], tuple[TextEdit, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change to a document, local or remote.

    Attributes:
        local: True for an edit made through this document's API, False for changes that
            arrived through :meth:`~synckit.Document.apply`, :meth:`~synckit.Document.merge`.
        names: the top-level fields and containers whose value may have changed (for a
            change inside a nested container, the top-level container it is in).
        text_edits: for each collaborative text that changed, what happened to it as
            :class:`TextEdit` splices, in order (a remote change may touch several
            places), keyed by name. A text whose remote operations only touched characters
            that were already deleted has an empty tuple. Texts inside nested containers
            are in ``nested_text_edits``.
        paths: for each nested container that changed and is shown, where it is: its
            top-level container's name, then a key per map and an index per list on the
            way down, e.g. ``("todos", 2)`` for the map that is item 2 of list ``todos``.
            Empty when only top-level fields and containers changed.
        nested_text_edits: like ``text_edits``, for texts inside nested containers, keyed
            by their path (as in ``paths``). A text inside a container that is not shown
            (a deleted one) has no entry.
    """

    local: bool
    names: frozenset[str]
    text_edits: Mapping[str, tuple[TextEdit, ...]] = field(default_factory=lambda: _NO_EDITS)
    paths: frozenset[tuple[str | int, ...]] = frozenset()
    nested_text_edits: Mapping[tuple[str | int, ...], tuple[TextEdit, ...]] = field(
        default_factory=lambda: _NO_PATH_EDITS
    )


#: A change callback.
Subscriber = Callable[[ChangeEvent], object]
#: Calling it stops the callback it was returned for; calling it again does nothing.
Unsubscribe = Callable[[], None]


class WithoutTextEdits:
    """A subscriber that does not read ``ChangeEvent.text_edits`` (see
    :meth:`Document.subscribe <synckit.Document.subscribe>`): while every subscriber is one,
    remote changes are applied without recording text edits."""

    __slots__ = ("callback",)

    def __init__(self, callback: Subscriber) -> None:
        self.callback = callback

    def __call__(self, event: ChangeEvent) -> object:
        return self.callback(event)
