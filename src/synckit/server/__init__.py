"""The SyncKit server: an ASGI app (Starlette) over embedded SQLite or PostgreSQL.

``create_app(store)`` builds the app; ``synckit serve`` runs it with uvicorn. The logic lives
in :class:`Hub` (no I/O: it queues storage work); :class:`SyncServer` is the asyncio/ASGI shell
around it and performs that work against an :class:`AsyncStore` (a synchronous :class:`Store`
such as :class:`SQLiteStore` or :class:`MemoryStore` runs behind :class:`InlineStore`);
:class:`PostgresStore` is the asynchronous store for production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synckit.server._access import (
    AccessChange,
    AccessFeed,
    AccessListener,
    AccessRules,
    LocalAccessFeed,
)
from synckit.server._app import SyncServer, create_app, http_status, open_store
from synckit.server._connection import Connection
from synckit.server._hub import Authenticator, Authorizer, Hub, perform_io, view_of
from synckit.server._jwt import JwtVerifier
from synckit.server._limits import Limits
from synckit.server._log import LOGGER_NAME, JsonLogFormatter
from synckit.server._presence import PresenceTable
from synckit.server._principal import (
    ACCESS_LEVELS,
    ANONYMOUS,
    Access,
    Action,
    Grant,
    Principal,
    access_allows,
    parse_grants,
)
from synckit.server._quota import Quotas
from synckit.server._redis_bus import RedisChangeBus
from synckit.server._redis_feed import RedisAccessFeed
from synckit.server._redis_presence import RedisPresenceBus
from synckit.server._run import running
from synckit.server._store import (
    AsyncStore,
    InlineStore,
    MemoryStore,
    SQLiteStore,
    Store,
    StoredDoc,
)

if TYPE_CHECKING:
    from synckit.server._postgres import PostgresStore

__all__ = [
    "ACCESS_LEVELS",
    "ANONYMOUS",
    "LOGGER_NAME",
    "Access",
    "AccessChange",
    "AccessFeed",
    "AccessListener",
    "AccessRules",
    "Action",
    "AsyncStore",
    "Authenticator",
    "Authorizer",
    "Connection",
    "Grant",
    "Hub",
    "InlineStore",
    "JsonLogFormatter",
    "JwtVerifier",
    "Limits",
    "LocalAccessFeed",
    "MemoryStore",
    "PostgresStore",
    "PresenceTable",
    "Principal",
    "Quotas",
    "RedisAccessFeed",
    "RedisChangeBus",
    "RedisPresenceBus",
    "SQLiteStore",
    "Store",
    "StoredDoc",
    "SyncServer",
    "access_allows",
    "create_app",
    "http_status",
    "open_store",
    "parse_grants",
    "perform_io",
    "running",
    "view_of",
]


def __getattr__(name: str) -> Any:
    # PostgresStore is imported on first use: the driver costs ~0.1 s to import, which a
    # server on SQLite (and `synckit token`) need not pay.
    if name == "PostgresStore":
        from synckit.server._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
