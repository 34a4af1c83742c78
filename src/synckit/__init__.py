"""SyncKit: a local-first sync engine.

Documents edit offline with no waiting and converge through a server once connected.
The core types live in :mod:`synckit.core`; errors in :mod:`synckit.errors`;
``synckit.connect`` (the asyncio client, :mod:`synckit.client`) is imported on first use,
so ``import synckit`` stays free of networking code.
"""

from typing import TYPE_CHECKING, Any

from synckit.core import (
    ChangeEvent,
    Counter,
    Cursor,
    Document,
    List,
    Map,
    Ordering,
    ORSet,
    SnapshotKey,
    Text,
    TextEdit,
    VersionVector,
)
from synckit.errors import DecodeError, SyncKitError

if TYPE_CHECKING:
    from synckit.client import Client, connect

__version__ = "0.1.0"

__all__ = [
    "ChangeEvent",
    "Client",
    "Counter",
    "Cursor",
    "DecodeError",
    "Document",
    "List",
    "Map",
    "ORSet",
    "Ordering",
    "SnapshotKey",
    "SyncKitError",
    "Text",
    "TextEdit",
    "VersionVector",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    if name in ("connect", "Client"):
        from synckit import client

        return getattr(client, name)
    raise AttributeError(f"module 'synckit' has no attribute {name!r}")
