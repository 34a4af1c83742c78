"""Snapshot tags on PostgreSQL (schema version 4): the tag is stored beside the snapshot, a
database of version 3 is migrated with its snapshots untagged (they load with every check),
every server on the database shares one random snapshot key, and a snapshot merged with
another server's is stored without a tag."""

from __future__ import annotations

import asyncio

import asyncpg

from synckit import Document, SnapshotKey
from synckit._logged import LoggedDocument
from synckit._storage import StoredDoc
from synckit.server import PostgresStore
from synckit.server._migrate import migrations, schema_version


def _doc(client: str, **fields: int) -> Document:
    doc = Document(client)
    for key, value in fields.items():
        doc.set(key, value)
    return doc


async def test_a_version_3_database_is_migrated_and_its_snapshots_load_checked(
    pg_url: str,
) -> None:
    old = _doc("a", x=1)
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations()[:3]:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        await conn.execute(
            "INSERT INTO snapshots (doc_id, data, generation, covered) VALUES ('d', $1, 1, 0)",
            old.save(),
        )
        assert await schema_version(conn) == 3
    finally:
        await conn.close()
    store = await PostgresStore.connect(pg_url)
    try:
        assert await store.fetchval("SELECT max(version) FROM schema_migrations") == 5
        stored = await store.load("d")
        assert stored == StoredDoc(old.save(), ()) and stored.tag is None
        key = SnapshotKey(await store.snapshot_key())
        restored = LoggedDocument.restore(stored, key=key)
        assert restored.loaded == "checked" and restored.doc.to_json() == {"x": 1}
        # A compaction stores the tag with the snapshot; it then loads by the fast path.
        new = _doc("b", y=2)
        new.merge(restored.doc)
        data = new.save()
        await store.compact("d", data, 0, key.tag(data))
        stored = await store.load("d")
        assert stored is not None and stored.tag == key.tag(data)
        assert LoggedDocument.restore(stored, key=key).loaded == "tagged"
    finally:
        await store.close()


async def test_servers_on_one_database_share_one_snapshot_key(pg_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.connect(pg_url) for _ in range(3)))
    try:
        secrets = await asyncio.gather(*(s.snapshot_key() for s in stores))
        assert len(set(secrets)) == 1 and len(secrets[0]) == 32
        assert await stores[0].snapshot_key() == secrets[0]  # and it is kept
    finally:
        for s in stores:
            await s.close()
    store = await PostgresStore.connect(pg_url)
    try:
        assert await store.snapshot_key() == secrets[0]  # a restart reads the same one
    finally:
        await store.close()


async def test_a_merged_snapshot_is_stored_without_a_tag(pg_url: str) -> None:
    one = await PostgresStore.connect(pg_url)
    two = await PostgresStore.connect(pg_url)
    try:
        key = SnapshotKey(await one.snapshot_key())
        await one.load("d")
        await two.load("d")
        first = _doc("a", x=1).save()
        await one.compact("d", first, 0, key.tag(first))
        assert (await two.read("d")) == StoredDoc(first, (), tag=key.tag(first))
        # The second server's document started before that snapshot: its compaction merges
        # the two, and the merge's bytes get no tag (they load with every check).
        second = _doc("b", y=2).save()
        await two.compact("d", second, 0, key.tag(second))
        stored = await two.read("d")
        assert stored is not None and stored.tag is None
        restored = LoggedDocument.restore(stored, key=key)
        assert restored.loaded == "checked" and restored.doc.to_json() == {"x": 1, "y": 2}
    finally:
        await one.close()
        await two.close()
