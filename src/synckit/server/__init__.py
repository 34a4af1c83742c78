"""The SyncKit server: an ASGI app (Starlette) over embedded SQLite.

``create_app(store)`` builds the app; ``synckit serve`` runs it with uvicorn. The logic lives
in :class:`Hub` (no I/O); :class:`SyncServer` is the asyncio/ASGI shell around it; storage sits
behind the :class:`Store` protocol (:class:`SQLiteStore`, :class:`MemoryStore`).
"""

from __future__ import annotations

from synckit.server._app import SyncServer, create_app, open_store
from synckit.server._hub import Authenticator, Connection, Hub, Limits
from synckit.server._run import running
from synckit.server._store import MemoryStore, SQLiteStore, Store, StoredDoc

__all__ = [
    "Authenticator",
    "Connection",
    "Hub",
    "Limits",
    "MemoryStore",
    "SQLiteStore",
    "Store",
    "StoredDoc",
    "SyncServer",
    "create_app",
    "open_store",
    "running",
]
