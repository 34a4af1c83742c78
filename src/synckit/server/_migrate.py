"""Versioned migrations of SyncKit's PostgreSQL schema.

The migrations are SQL files shipped in :mod:`synckit.server.migrations`, named
``NNNN_name.sql`` and numbered from 1 without gaps. A database records the ones it holds in
``schema_migrations``. :func:`migrate` applies the missing ones in order, all in one
transaction that first takes a transaction-level advisory lock: several servers starting at
once apply each migration exactly once (the others wait, then find nothing to do), and a
failing migration leaves the database as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from synckit.errors import StorageError

__all__ = ["MIGRATION_LOCK", "Migration", "migrate", "migrations", "schema_version"]

#: The advisory lock (two int4 keys) every migrator holds while it migrates.
MIGRATION_LOCK = (0x53594E00, 0)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: its number, its name and its SQL."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The migrations shipped in the package, in order.

    Raises:
        StorageError: the package's migrations are not numbered 1, 2, 3, ... (a broken
            install).
    """
    found = []
    for entry in resources.files("synckit.server.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is not None:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StorageError(
            f"the shipped migrations are not numbered 1..{len(found)}: {[m.version for m in found]}"
        )
    return found


async def schema_version(conn: asyncpg.Connection) -> int:
    """The newest migration the database holds (0: none, not even ``schema_migrations``)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; return their versions (empty: it was
    up to date).

    Raises:
        StorageError: the database holds a newer schema than this release knows (nothing
            applied), or a migration failed (nothing applied; the message names it).
        asyncpg.PostgresError, OSError: the database failed otherwise.
    """
    shipped = migrations()
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *MIGRATION_LOCK)
        await conn.execute(_TABLE)
        held = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_migrations")}
        if held and max(held) > len(shipped):
            raise StorageError(
                f"the database's schema is at version {max(held)}, newer than this SyncKit "
                f"knows ({len(shipped)}); upgrade SyncKit"
            )
        for migration in shipped:
            if migration.version in held:
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise StorageError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
    return applied
