"""SyncKit: a local-first sync engine.

Documents edit offline with no waiting and converge through a server once connected.
The core types live in :mod:`synckit.core`; errors in :mod:`synckit.errors`.
"""

from synckit.core import (
    ChangeEvent,
    Counter,
    Document,
    List,
    Ordering,
    ORSet,
    Text,
    VersionVector,
)
from synckit.errors import DecodeError, SyncKitError

__version__ = "0.1.0"

__all__ = [
    "ChangeEvent",
    "Counter",
    "DecodeError",
    "Document",
    "List",
    "ORSet",
    "Ordering",
    "SyncKitError",
    "Text",
    "VersionVector",
    "__version__",
]
