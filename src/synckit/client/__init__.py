"""The SyncKit asyncio client: offline-first documents synced with a server.

``async with connect(url, store="app.db") as client: doc = await client.open("notes")`` — the
document is usable at once from the store; edits persist locally and sync in the background.
The logic is :class:`SyncEngine` (no I/O); :class:`Client` is the asyncio shell over a
WebSocket or HTTP polling; storage sits behind the :class:`Store` protocol
(:class:`SQLiteStore`, :class:`MemoryStore`).
"""

from __future__ import annotations

from synckit.client._client import (
    Client,
    DeletedCallback,
    StatusCallback,
    Transport,
    connect,
    http_doc_url,
    http_sync_url,
    sync_url,
)
from synckit.client._engine import HttpOutcome, SyncEngine
from synckit.client._presence import PeerPresence, Presence, PresenceCallback, PresenceChange
from synckit.client._store import MemoryStore, SQLiteStore, Store, StoredDoc, new_actor_id

__all__ = [
    "Client",
    "DeletedCallback",
    "HttpOutcome",
    "MemoryStore",
    "PeerPresence",
    "Presence",
    "PresenceCallback",
    "PresenceChange",
    "SQLiteStore",
    "StatusCallback",
    "Store",
    "StoredDoc",
    "SyncEngine",
    "Transport",
    "connect",
    "http_doc_url",
    "http_sync_url",
    "new_actor_id",
    "sync_url",
]
