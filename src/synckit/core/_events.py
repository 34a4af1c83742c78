"""What a subscriber of a document is told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ChangeEvent", "Subscriber", "Unsubscribe"]


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change to a document, local or remote.

    Attributes:
        local: True for an edit made through this document's API, False for changes that
            arrived through :meth:`~synckit.Document.apply`, :meth:`~synckit.Document.merge`.
        names: the top-level fields and containers whose value may have changed.
    """

    local: bool
    names: frozenset[str]


#: A change callback.
Subscriber = Callable[[ChangeEvent], object]
#: Calling it stops the callback it was returned for; calling it again does nothing.
Unsubscribe = Callable[[], None]
