"""Versioned migrations on a real PostgreSQL: fresh, twice, concurrently, refused when newer."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from synckit.cli import main
from synckit.errors import StorageError
from synckit.server import PostgresStore
from synckit.server._migrate import migrate, migrations, schema_version
from synckit.server._postgres import migrate_database

TABLES = {
    "changes",
    "snapshots",
    "actors",
    "access_rules",
    "views",
    "tombstones",
    "server_secrets",
    "schema_migrations",
}


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}
    finally:
        await conn.close()


def test_shipped_migrations_are_numbered_from_one() -> None:
    shipped = migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert shipped[0].name == "initial" and "CREATE TABLE changes" in shipped[0].sql


async def test_fresh_database_migrates_and_twice_is_a_no_op(pg_url: str) -> None:
    assert await _tables(pg_url) == set()
    newest = len(migrations())
    assert await migrate_database(pg_url) == (list(range(1, newest + 1)), newest)
    assert await _tables(pg_url) == TABLES
    assert await migrate_database(pg_url) == ([], newest)
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == newest
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_migration_once(pg_url: str) -> None:
    conns = [await asyncpg.connect(pg_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(results, key=len) == [[], [], [], list(range(1, len(migrations()) + 1))]
        assert await schema_version(conns[0]) == len(migrations())
    finally:
        for c in conns:
            await c.close()
    # Servers starting at once: each connects and migrates; all succeed.
    stores = await asyncio.gather(*(PostgresStore.connect(pg_url) for _ in range(3)))
    for s in stores:
        assert await s.doc_ids() == []
        await s.close()


async def test_newer_schema_and_unmigrated_database_are_refused(pg_url: str) -> None:
    with pytest.raises(StorageError, match=r"schema version 0, .* run `synckit migrate"):
        await PostgresStore.connect(pg_url, migrate=False)
    await migrate_database(pg_url)
    store = await PostgresStore.connect(pg_url, migrate=False)
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'x')")
    finally:
        await conn.close()
    with pytest.raises(StorageError, match="version 999, newer than this SyncKit knows"):
        await PostgresStore.connect(pg_url)


def test_migrate_command(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database", pg_url]) == 0
    assert "applied 0001_initial" in capsys.readouterr().out
    assert main(["migrate"], {"DATABASE_URL": pg_url}) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["migrate", "--database", "postgresql://u:pw@127.0.0.1:1/x"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/x" in err
    assert main(["migrate"], {}) == 2
    assert "give --database" in capsys.readouterr().err
