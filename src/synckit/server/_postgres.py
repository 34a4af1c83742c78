"""PostgreSQL, the production store: an :class:`~synckit.server.AsyncStore` on an asyncpg pool.

The schema (shipped migrations, see :mod:`._migrate`) keeps per document an append-only log
``changes(id, doc_id, data, batches)`` and a ``snapshots`` row, plus the actors registry, the
access rules, and a ``views`` table of JSON views for SQL queries. A log row holds the batches
of one document that one commit wrote, in order: one in ``data`` (as every row of schema
version 1), or two or more in ``batches`` (``bytea[]``; ``data`` is NULL). Readers flatten the
rows, in id order, into the batches the server counts.

Several servers may share one database and write the same document at once. What keeps
that safe is compaction. The server asks to replace "the first ``covered`` batches" of the
log by a snapshot of its document, and its document holds exactly the batches *this* store
read (:meth:`PostgresStore.load`) or wrote (:meth:`PostgresStore.append_many`) for it. Other
servers' batches may lie in between. So the store remembers, per document, the ids of those
rows in the order the server counts their batches, with how many batches of each it has not
compacted yet, and deletes by id exactly the rows whose batches all lie within the first
``covered``; every other server's row stays. A row the snapshot covers only part of stays
too (the store counts what is left of it): loading applies its batches again over the
snapshot, which changes nothing (applying a change a document holds is a no-op), and a later
compaction that covers the rest deletes it. It also remembers which snapshot
(``generation``) its document started from: when another server wrote a newer one in the
meantime, whose deleted batches this server's document may lack, the two snapshots are
merged (documents are CRDTs) before it is replaced; and since the server's document does
not hold what was merged in, that store merges on every later compaction of it.
Compactions of one document take turns on an advisory lock; appends never wait for them.

Appends to one document take turns too (another advisory lock, per document, held from before
their ids are drawn until they commit): so a document's log ids are committed in ascending
order, and a reader that has seen id ``n`` of a document will never see a smaller one appear
later. That is what lets a server catch up on what others wrote by reading only the entries
after the last id it read (:meth:`PostgresStore.read_new`); it also keeps two servers from
taking the row locks of the same JSON views in opposite orders.

Beside each snapshot its writer's tag (schema version 4, ``snapshots.tag``; see
:attr:`~synckit._storage.StoredDoc.tag`); a snapshot merged here with another server's is
stored without one (it loads with every check until its next compaction). The servers' random
snapshot key, when none is configured, is the ``server_secrets`` row ``snapshot_key``
(:meth:`PostgresStore.snapshot_key`).

A deleted document keeps a ``tombstones`` row for good (schema version 3): deleting takes the
document's append and compaction locks, writes the tombstone and removes the document's rows; a
commit reads the tombstones under the append lock and stores nothing for a deleted document (it
reports which), and a compaction reads them under its lock and writes no snapshot of one.

A commit is one statement, a call of the ``synckit_append`` function (schema version 5), run
as its own transaction: one round trip. The function takes the append locks before anything
else; each of its statements takes a new snapshot, so it sees a tombstone committed while it
waited for a lock. A compaction is one statement too (``synckit_compact``): when another
server stored a snapshot meanwhile, it writes nothing and hands that one back; the store
merges it in and calls again, expecting its generation.

Each method returns after its transaction committed: once :meth:`append_many` returns, the
batches (and views) are durable as far as PostgreSQL's ``synchronous_commit`` promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from synckit._storage import StoredDoc
from synckit.errors import DecodeError, StorageError
from synckit.server._migrate import migrate, migrations, schema_version
from synckit.server._store import _too_many_ids

__all__ = ["PostgresStore", "migrate_database", "redact"]

# Advisory lock classes (first int4 key; the second is a hash of the document or principal).
_COMPACT_LOCK = 0x53594E01
_CLAIM_LOCK = 0x53594E02

# Documents whose log ids a store remembers at most; beyond, those with none are forgotten
# (forgetting one only makes its next compaction merge snapshots: still correct).
_MAX_KNOWN = 65_536

# A commit of append_many: one statement, so one round trip and its own transaction. The
# function (schema version 5) takes the documents' append locks, then checks the tombstones
# and writes the log rows (one per document, holding its batches in order; see the module's
# doc) and the views of every document without a tombstone; it returns those rows, then one
# row per document that has a tombstone (dead), whose batches and view were not written.
_APPEND = "SELECT id, doc_id, count, dead FROM synckit_append($1, $2, $3, $4, $5, $6)"

# A compaction, likewise one statement (schema version 5): see synckit_compact.
_COMPACT = "SELECT outcome, before, after, stored FROM synckit_compact($1, $2, $3, $4, $5, $6)"

# Errors of the driver and the network that mean "the database failed".
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparseable database URL>"


@contextlib.contextmanager
def _failing(what: str) -> Iterator[None]:
    """Turn a database failure into StorageError("cannot <what>: ...")."""
    try:
        yield
    except _DB_ERRORS as exc:
        raise StorageError(f"cannot {what}: {type(exc).__name__}: {exc}") from exc


@dataclass(slots=True)
class _Row:
    """One log row the server's document holds."""

    id: int
    #: Its batches the server's document holds and has not compacted (the last ones of it).
    left: int


def _batches(row: Mapping[str, Any]) -> list[bytes]:
    """The batches a ``changes`` row holds, in order (``data``: one; ``batches``: several)."""
    many = row["batches"]
    if many is not None:
        return [bytes(b) for b in many]
    if row["data"] is None:
        raise StorageError(f"log row {row['id']} holds no batch")
    return [bytes(row["data"])]


@dataclass(slots=True)
class _Known:
    """What this store's server holds of one document's storage."""

    #: The generation of the stored snapshot whose content its document holds all of (None:
    #: unknown, or it holds a snapshot merged with another server's, which it does not).
    generation: int | None
    #: The log rows its document holds and has not compacted, in the server's order.
    ids: deque[_Row] = field(default_factory=deque)
    #: Every log entry up to this id is in its document (read by :meth:`load` or
    #: :meth:`read_new`; its own appends do not count: others' may lie below them, unread).
    read_to: int = 0
    #: The stored snapshot's generation when last read, or after this store's own compaction
    #: of a snapshot of that generation (0: none was stored; None: unknown). Another server's
    #: compaction changes it, and may have deleted entries after ``read_to``.
    read_generation: int | None = None
    #: Counts loads: a catch-up read that started before a load must not move the marks.
    loads: int = 0


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a connection it gets back: nothing. The store's own queries leave
    no session state (transaction-level advisory locks only; no SET, LISTEN, cursor or
    session lock), and asyncpg rolls back an open transaction before calling this, so the
    default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) would cost
    a round trip on every release for nothing: on a commit's path, before its acks.
    :meth:`PostgresStore.fetchval`, which runs the caller's queries, resets in full."""


def _append_key(doc_id: str) -> int:
    """The advisory lock (one bigint key, a space apart from the two-int keys) that appends
    to ``doc_id`` take turns on."""
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _merge_snapshots(stored: bytes, ours: bytes) -> bytes:
    """One snapshot holding everything two snapshots of a document hold."""
    from synckit.core import Document

    doc = Document.load(stored)
    doc.merge(Document.load(ours))
    return doc.save()


class PostgresStore:
    """Documents, actors and access rules in a PostgreSQL database.

    Build it with ``await PostgresStore.connect(url)``, or construct it and let the first
    call connect (in the event loop that uses it, such as a server app's lifespan): an
    asyncpg pool belongs to the loop it was made in.

    Args:
        url: ``postgresql://user:password@host:port/database`` (libpq URL; parameters such as
            ``?sslmode=require`` pass through).
        min_size, max_size: connections the pool keeps open at least, and opens at most.
        migrate: bring the schema up to date when connecting (see :mod:`._migrate`); when
            False, a database behind the shipped migrations is refused.
    """

    #: The server gives every commit the JSON views of its documents (the ``views`` table).
    keeps_views = True
    #: :meth:`compact` keeps a tag beside each snapshot.
    keeps_tags = True

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 8, migrate: bool = True
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.migrate = migrate
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False
        self._known: OrderedDict[str, _Known] = OrderedDict()

    @classmethod
    async def connect(
        cls, url: str, *, min_size: int = 1, max_size: int = 8, migrate: bool = True
    ) -> PostgresStore:
        """A store with its pool open (and its schema migrated, unless ``migrate=False``).

        Raises:
            StorageError: the database cannot be reached, or its schema cannot be used.
        """
        store = cls(url, min_size=min_size, max_size=max_size, migrate=migrate)
        await store.open()
        return store

    async def open(self) -> None:
        """Open the pool now (every method does so on first use). Idempotent."""
        await self._get_pool()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._closed:
            raise StorageError("the PostgreSQL store is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await self._create_pool()
        return self._pool

    async def _create_pool(self) -> asyncpg.Pool:
        where = redact(self.url)
        with _failing(f"connect to PostgreSQL at {where}"):
            pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=10,
                reset=_keep_session,
            )
        try:
            with _failing(f"migrate the schema of {where}"):
                async with pool.acquire() as conn:
                    if self.migrate:
                        await migrate(conn)
                    else:
                        held, shipped = await schema_version(conn), len(migrations())
                        if held < shipped:
                            raise StorageError(
                                f"the database {where} is at schema version {held}, this "
                                f"SyncKit needs {shipped}: run `synckit migrate --database URL`"
                            )
        except BaseException:
            await pool.close()
            raise
        return pool

    # -- documents ----------------------------------------------------------------------

    async def _read(self, doc_id: str) -> tuple[StoredDoc | None, int, list[_Row]]:
        """A document's snapshot and log (its rows' batches, flattened) as one consistent
        picture, its snapshot generation (0: none) and its log rows; for a deleted document,
        ``StoredDoc(None, (), deleted=True)``."""
        pool = await self._get_pool()
        with _failing(f"load {doc_id!r}"):
            async with (
                pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                dead = await conn.fetchval("SELECT 1 FROM tombstones WHERE doc_id = $1", doc_id)
                if dead is not None:
                    return StoredDoc(None, (), deleted=True), 0, []
                snap = await conn.fetchrow(
                    "SELECT data, generation, tag FROM snapshots WHERE doc_id = $1", doc_id
                )
                log = await conn.fetch(
                    "SELECT id, data, batches FROM changes WHERE doc_id = $1 ORDER BY id", doc_id
                )
        if snap is None and not log:
            return None, 0, []
        changes: list[bytes] = []
        rows = []
        for r in log:
            held = _batches(r)
            changes += held
            rows.append(_Row(int(r["id"]), len(held)))
        if snap is None:
            stored = StoredDoc(None, tuple(changes))
        else:
            tag = None if snap["tag"] is None else bytes(snap["tag"])
            stored = StoredDoc(bytes(snap["data"]), tuple(changes), tag=tag)
        return stored, 0 if snap is None else int(snap["generation"]), rows

    async def load(self, doc_id: str) -> StoredDoc | None:
        """What is stored for ``doc_id`` (None: nothing). The server's document is rebuilt
        from it: the store remembers what it holds, for :meth:`compact` and
        :meth:`read_new`."""
        stored, generation, rows = await self._read(doc_id)
        was = self._known.get(doc_id)
        known = _Known(generation, deque(rows), max((r.id for r in rows), default=0), generation)
        known.loads = 1 if was is None else was.loads + 1
        self._remember(doc_id, known)
        return stored

    async def read_new(self, doc_ids: Sequence[str]) -> dict[str, StoredDoc]:
        """What storage holds of ``doc_ids`` that the server's documents (rebuilt by
        :meth:`load`) have not been given yet, for a server catching up on what other servers
        wrote. Each document with something new maps to either the log entries after the last
        one read (no snapshot), or, after another server compacted its log (entries may have
        gone into the snapshot unread) or when the store knows nothing of it, everything
        stored (a snapshot, when there is one). Documents with nothing new are left out.
        The caller merges what it gets into its documents: the store counts it as held.

        Raises:
            StorageError: the database failed (nothing counted as held).
        """
        wanted = list(dict.fromkeys(doc_ids))
        known = {d: self._known[d] for d in wanted if d in self._known}
        partial = [d for d in wanted if d in known and known[d].read_generation is not None]
        loads = {d: known[d].loads for d in wanted if d in known}
        found: dict[str, StoredDoc] = {}
        full = [d for d in wanted if d not in partial]
        if partial:
            pool = await self._get_pool()
            with _failing(f"catch up on {len(partial)} documents"):
                async with (
                    pool.acquire() as conn,
                    conn.transaction(isolation="repeatable_read", readonly=True),
                ):
                    snaps = await conn.fetch(
                        "SELECT doc_id, generation FROM snapshots WHERE doc_id = ANY($1::text[])",
                        partial,
                    )
                    rows = await conn.fetch(
                        "SELECT c.doc_id, c.id, c.data, c.batches FROM changes c "
                        "JOIN unnest($1::text[], "
                        "$2::bigint[]) AS k(doc_id, after) ON c.doc_id = k.doc_id "
                        "AND c.id > k.after ORDER BY c.id",
                        partial,
                        [known[d].read_to for d in partial],
                    )
            generations = {r["doc_id"]: int(r["generation"]) for r in snaps}
            batches: dict[str, list[tuple[int, bytes]]] = {}
            for row in rows:
                held = batches.setdefault(row["doc_id"], [])
                held += ((int(row["id"]), data) for data in _batches(row))
            for doc_id in partial:
                entry = known[doc_id]
                if generations.get(doc_id, 0) != entry.read_generation:
                    full.append(doc_id)  # compacted by another server since: read it all
                    continue
                new = batches.get(doc_id)
                if not new:
                    continue
                if entry.loads == loads[doc_id]:
                    entry.read_to = max(entry.read_to, new[-1][0])
                found[doc_id] = StoredDoc(None, tuple(data for _, data in new))
        for doc_id in full:
            stored, generation, log_rows = await self._read(doc_id)
            if stored is None or stored.deleted:
                continue  # deletions are learned with deleted_among
            entry_or_none = self._known.get(doc_id)
            if entry_or_none is not None and entry_or_none.loads == loads.get(doc_id):
                last = max((r.id for r in log_rows), default=0)
                entry_or_none.read_to = max(entry_or_none.read_to, last)
                entry_or_none.read_generation = generation
            found[doc_id] = stored
        return found

    async def read(self, doc_id: str) -> StoredDoc | None:
        """What :meth:`load` returns, for readers that do not keep the document (a JSON view):
        it changes nothing the store remembers."""
        return (await self._read(doc_id))[0]

    async def append_many(
        self, batches: Sequence[tuple[str, bytes]], views: Mapping[str, str] | None = None
    ) -> frozenset[str]:
        """Append ``batches`` (batches of one document in order) and upsert ``views``
        (document id -> JSON text) in one transaction; returns once it committed. Each
        document's batches go into one log row, in order.

        Returns the documents whose batches were not stored because they are deleted
        (another server deleted them since this one opened them; checked under each
        document's append lock, which a deletion takes too, so nothing is ever stored
        after a tombstone). Every other batch was stored.

        Raises:
            StorageError: nothing was stored.
        """
        if not batches and not views:
            return frozenset()
        pool = await self._get_pool()
        docs = sorted({doc_id for doc_id, _ in batches} | set(views or ()))
        # (A commit of views alone takes the append locks too: so does a deletion, which
        # also removes the view; without them a view could be written after that.)
        keys = sorted({_append_key(doc_id) for doc_id in docs})
        view_ids, view_texts = list(views or ()), list((views or {}).values())
        with _failing(f"commit changes to {', '.join(map(repr, docs))}"):
            async with pool.acquire() as conn:
                # Autocommit: the statement is its own transaction, committed (and the append
                # locks released) when it returns. The keys are sorted: every commit takes the
                # locks in one order, so two servers never deadlock.
                found = await conn.fetch(
                    _APPEND,
                    keys,
                    docs,
                    [d for d, _ in batches],
                    [c for _, c in batches],
                    view_ids,
                    view_texts,
                )
        rows = [r for r in found if not r["dead"]]
        dead = frozenset(str(r["doc_id"]) for r in found if r["dead"])
        for row in rows:  # one per document
            doc_id = row["doc_id"]
            known = self._known.get(doc_id)
            if known is None:
                known = _Known(None)
                self._remember(doc_id, known)
            known.ids.append(_Row(int(row["id"]), int(row["count"])))
        for doc_id in dead:
            self._known.pop(doc_id, None)
        return dead

    async def delete_doc(self, doc_id: str, principal: str) -> None:
        """Delete ``doc_id`` for good: write its tombstone and remove its log, snapshot and
        view, in one transaction holding the document's append and compaction locks (so a
        commit or compaction of another server either lands before and is removed, or comes
        after and stores nothing). Deleting a deleted document changes nothing.

        Raises:
            StorageError: nothing changed.
        """
        pool = await self._get_pool()
        with _failing(f"delete {doc_id!r}"):
            async with pool.acquire() as conn, conn.transaction():
                # The append lock (commits take turns with it) and the compaction lock: no
                # batch and no snapshot of it is ever written after the tombstone.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _append_key(doc_id))
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))", _COMPACT_LOCK, doc_id
                )
                await conn.execute(
                    "INSERT INTO tombstones (doc_id, principal) VALUES ($1, $2) "
                    "ON CONFLICT (doc_id) DO NOTHING",
                    doc_id,
                    principal,
                )
                await conn.execute("DELETE FROM changes WHERE doc_id = $1", doc_id)
                await conn.execute("DELETE FROM snapshots WHERE doc_id = $1", doc_id)
                await conn.execute("DELETE FROM views WHERE doc_id = $1", doc_id)
        self._known.pop(doc_id, None)

    async def deleted_among(self, doc_ids: Sequence[str]) -> frozenset[str]:
        """Which of ``doc_ids`` are deleted (a server catching up on deletions by others that
        the change bus did not bring).

        Raises:
            StorageError: the database failed.
        """
        if not doc_ids:
            return frozenset()
        pool = await self._get_pool()
        with _failing(f"check {len(doc_ids)} documents for tombstones"):
            rows = await pool.fetch(
                "SELECT doc_id FROM tombstones WHERE doc_id = ANY($1::text[])", list(doc_ids)
            )
        return frozenset(str(r[0]) for r in rows)

    async def compact(
        self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None
    ) -> None:
        """Replace the snapshot and the first ``covered`` batches the server's document holds
        by ``snapshot``, with ``tag`` beside it (merged with a snapshot another server wrote
        meanwhile: then stored without a tag). Batches
        appended after them, by anyone, stay; so does a row only some of whose batches are
        among them (see the module's doc). Atomic: on StorageError nothing changed."""
        known = self._known.get(doc_id) or _Known(None)
        take: list[int] = []  # the rows all of whose batches the snapshot covers
        rest = covered
        for row in known.ids:
            if row.left > rest:
                break
            take.append(row.id)
            rest -= row.left
        # Batches of the next row covered too (when there is one: beyond, nothing is held).
        part = rest if len(take) < len(known.ids) else 0
        pool = await self._get_pool()
        expected, data, merged = known.generation, snapshot, False
        with _failing(f"compact {doc_id!r}"):
            async with pool.acquire() as conn:
                while True:
                    # One statement, its own transaction (see synckit_compact): under the
                    # compaction lock (a deletion holds it too: never a snapshot behind a
                    # tombstone) it writes, or says the document is deleted, or hands back a
                    # snapshot another server wrote meanwhile, to merge and try again.
                    found = await conn.fetchrow(
                        _COMPACT, _COMPACT_LOCK, doc_id, take, data, expected, tag
                    )
                    if found["outcome"] == "dead":
                        self._known.pop(doc_id, None)
                        return
                    if found["outcome"] == "done":
                        break
                    try:
                        data = _merge_snapshots(bytes(found["stored"]), snapshot)
                    except DecodeError as exc:
                        raise StorageError(f"cannot compact {doc_id!r}: {exc}") from exc
                    expected, merged = int(found["before"]), True
                    tag = None  # the merge's bytes: no tag of them was made
        stored_generation, generation = int(found["before"]), int(found["after"])
        for _ in take:
            known.ids.popleft()
        if part:
            known.ids[0].left -= part
        # Only this compaction since the last read: it deleted entries the document holds,
        # and the next catch-up still needs only the entries after the last one read.
        if known.read_generation == stored_generation:
            known.read_generation = int(generation)
        # After a merge the stored snapshot holds what the server's document lacks: its next
        # compaction must merge again, whatever the generation then.
        known.generation = None if merged else int(generation)
        self._remember(doc_id, known)

    def _remember(self, doc_id: str, known: _Known) -> None:
        self._known[doc_id] = known
        self._known.move_to_end(doc_id)
        if len(self._known) > _MAX_KNOWN:
            idle = [d for d, k in self._known.items() if not k.ids][: len(self._known) // 4]
            for d in idle:
                del self._known[d]

    async def doc_ids(self) -> list[str]:
        """Every stored document id, sorted (by code point, as Python sorts)."""
        pool = await self._get_pool()
        with _failing("list documents"):
            rows = await pool.fetch("SELECT doc_id FROM snapshots UNION SELECT doc_id FROM changes")
        return sorted(r[0] for r in rows)

    async def snapshot_key(self) -> bytes:
        """The servers' shared snapshot-key secret (``server_secrets``), made at random by the
        first server that asks; every server on the database reads the same one.

        Raises:
            StorageError: the database failed.
        """
        pool = await self._get_pool()
        with _failing("read the snapshot key"):
            await pool.execute(
                "INSERT INTO server_secrets (name, value) VALUES ('snapshot_key', $1) "
                "ON CONFLICT (name) DO NOTHING",
                os.urandom(32),
            )
            value = await pool.fetchval(
                "SELECT value FROM server_secrets WHERE name = 'snapshot_key'"
            )
        return bytes(value)

    # -- actors and access rules --------------------------------------------------------

    async def claim_actor(self, actor_id: str, principal: str, limit: int = 0) -> str:
        """Register ``actor_id`` as ``principal``'s unless it belongs to someone already;
        return its owner. Safe against other servers claiming at the same time.

        Raises:
            LimitExceededError: ``actor_id`` is new and ``principal`` owns ``limit`` ids.
            StorageError: the database failed.
        """
        pool = await self._get_pool()
        with _failing(f"register client id {actor_id!r}"):
            async with pool.acquire() as conn, conn.transaction():
                owner = await conn.fetchval(
                    "SELECT principal FROM actors WHERE actor_id = $1", actor_id
                )
                if owner is not None:
                    return str(owner)
                if limit:
                    # Claims of one principal take turns, so that it never exceeds its limit.
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1, hashtext($2))", _CLAIM_LOCK, principal
                    )
                    owned = await conn.fetchval(
                        "SELECT count(*) FROM actors WHERE principal = $1", principal
                    )
                    if owned >= limit:
                        raise _too_many_ids(principal, limit)
                owner = await conn.fetchval(
                    "INSERT INTO actors (actor_id, principal) VALUES ($1, $2) "
                    "ON CONFLICT (actor_id) DO NOTHING RETURNING principal",
                    actor_id,
                    principal,
                )
                if owner is None:  # another server registered it a moment ago
                    owner = await conn.fetchval(
                        "SELECT principal FROM actors WHERE actor_id = $1", actor_id
                    )
        return str(owner)

    async def access_rules(self) -> dict[str, str]:
        """principal -> JSON text of its server-side grants."""
        pool = await self._get_pool()
        with _failing("read access rules"):
            rows = await pool.fetch("SELECT principal, docs FROM access_rules")
        return {str(r[0]): str(r[1]) for r in rows}

    async def set_access_rules(self, principal: str, docs: str | None) -> None:
        """Store ``principal``'s grants (JSON text), or forget them (None)."""
        pool = await self._get_pool()
        with _failing(f"store access rules of {principal!r}"):
            if docs is None:
                await pool.execute("DELETE FROM access_rules WHERE principal = $1", principal)
            else:
                await pool.execute(
                    "INSERT INTO access_rules (principal, docs) VALUES ($1, $2) "
                    "ON CONFLICT (principal) DO UPDATE SET docs = EXCLUDED.docs",
                    principal,
                    docs,
                )

    async def fetchval(self, query: str, *args: Any) -> Any:
        """One value of a query of your own (for operators and tests), e.g. a view:
        ``await store.fetchval("SELECT view->'title' FROM views WHERE doc_id = $1", d)``."""
        pool = await self._get_pool()
        with _failing("run a query"):
            async with pool.acquire() as conn:
                try:
                    return await conn.fetchval(query, *args)
                finally:
                    # Whatever session state the query left (see _keep_session).
                    await conn.reset()

    async def close(self) -> None:
        """Close the pool (waiting up to 10 s for queries in flight). Idempotent."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()


async def migrate_database(url: str) -> tuple[list[int], int]:
    """Bring the schema of the database at ``url`` up to date (what ``synckit migrate``
    does); returns the versions applied now and the version it is at.

    Raises:
        StorageError: the database cannot be reached or migrated (nothing applied).
    """
    where = redact(url)
    with _failing(f"connect to PostgreSQL at {where}"):
        conn = await asyncpg.connect(url, timeout=10)
    try:
        with _failing(f"migrate the schema of {where}"):
            applied = await migrate(conn)
            return applied, await schema_version(conn)
    finally:
        await conn.close()
