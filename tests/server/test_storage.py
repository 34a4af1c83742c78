"""The shared document log (``synckit._storage``) under both the client and server stores."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from synckit import client, server
from synckit._storage import DocLog, MemoryDocLog, SQLiteDocLog, StoredDoc
from synckit.errors import StorageError
from synckit.server._store import InlineStore, SQLiteStore, WalSync

LOGS: dict[str, Callable[[Path], DocLog]] = {
    "memory": lambda _: MemoryDocLog(),
    "sqlite": lambda tmp: SQLiteDocLog(tmp / "s.db"),
    "client-memory": lambda _: client.MemoryStore(),
    "client-sqlite": lambda tmp: client.SQLiteStore(tmp / "c.db"),
    "server-memory": lambda _: server.MemoryStore(),
    "server-sqlite": lambda tmp: server.SQLiteStore(tmp / "s.db", durability="full"),
}


@pytest.mark.parametrize("make", LOGS.values(), ids=list(LOGS))
def test_log_append_compact_load(make: Callable[[Path], DocLog], tmp_path: Path) -> None:
    log = make(tmp_path)
    assert log.load("d") is None
    for batch in (b"a", b"bb", b"ccc"):
        log.append("d", batch)
    log.append("other", b"x")
    assert log.load("d") == StoredDoc(None, (b"a", b"bb", b"ccc"))
    log.compact("d", b"SNAP", 2)  # the batch after the covered two stays
    held = log.load("d")
    assert held == StoredDoc(b"SNAP", (b"ccc",))
    assert held is not None and held.size == 7
    log.compact("d", b"S2", 5)  # covering more than is there empties the log
    assert log.load("d") == StoredDoc(b"S2", ())
    assert log.load("other") == StoredDoc(None, (b"x",))
    log.close()


def test_client_and_server_share_one_stored_doc() -> None:
    assert client.StoredDoc is server.StoredDoc is StoredDoc


def test_sqlite_log_survives_reopen(tmp_path: Path) -> None:
    log = SQLiteDocLog(tmp_path / "s.db")
    log.append("d", b"one")
    log.compact("d", b"snap", 1)
    log.append("d", b"two")
    log.close()
    again = SQLiteDocLog(tmp_path / "s.db")
    assert again.load("d") == StoredDoc(b"snap", (b"two",))
    again.close()


def test_exclusive_log_refuses_a_second_opener(tmp_path: Path) -> None:
    held = SQLiteDocLog(tmp_path / "s.db", exclusive=True, kind="test store")
    with pytest.raises(StorageError, match=r"test store .* is in use"):
        SQLiteDocLog(tmp_path / "s.db", exclusive=True, kind="test store")
    held.close()
    SQLiteDocLog(tmp_path / "s.db").close()


def test_errors_name_the_path_or_the_document(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"cannot open SQLite store .*missing"):
        SQLiteDocLog(tmp_path / "missing" / "s.db")
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteDocLog(tmp_path / "s.db", synchronous="OFF")  # type: ignore[arg-type]
    log = SQLiteDocLog(tmp_path / "s.db")
    log.close()
    with pytest.raises(StorageError, match="'d'"):
        log.load("d")
    with pytest.raises(StorageError, match="'d'"):
        log.append("d", b"x")
    with pytest.raises(StorageError, match="'d'"):
        log.compact("d", b"s", 1)


def test_databases_of_the_earlier_layout_still_open(tmp_path: Path) -> None:
    """A client file as earlier releases wrote it: same tables, and its actor id is kept."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE snapshots (doc_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE INDEX changes_by_doc ON changes (doc_id, id);
        INSERT INTO meta VALUES ('actor:me', 'me~0123456789ab');
        INSERT INTO snapshots VALUES ('d', x'01');
        INSERT INTO changes (doc_id, data) VALUES ('d', x'02');
        """
    )
    db.commit()
    db.close()
    store = client.SQLiteStore(path)
    assert store.actor_id("me") == "me~0123456789ab"
    assert store.load("d") == StoredDoc(b"\x01", (b"\x02",))
    store.close()
    listed = server.SQLiteStore(path)
    assert listed.doc_ids() == ["d"]
    listed.close()


def _changes_sql(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (sql,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'changes'"
        ).fetchone()
    return str(sql)


def test_a_log_of_schema_1_is_rebuilt_without_autoincrement(tmp_path: Path) -> None:
    """Version 2 drops AUTOINCREMENT from ``changes.id``: a file of version 1 gets its
    ``changes`` rebuilt on opening, every row kept with its id, in order, and goes on."""
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE snapshots (doc_id TEXT PRIMARY KEY, data BLOB NOT NULL, tag BLOB)
            WITHOUT ROWID;
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE INDEX changes_by_doc ON changes (doc_id, id);
        INSERT INTO snapshots VALUES ('d', x'01', NULL);
        INSERT INTO changes (doc_id, data) VALUES ('d', x'02'), ('e', x'03'), ('d', x'04');
        PRAGMA user_version = 1;
        """
    )
    db.commit()
    ids = db.execute("SELECT id, doc_id, data FROM changes ORDER BY id").fetchall()
    db.close()
    assert "AUTOINCREMENT" in _changes_sql(path)
    log = SQLiteDocLog(path)
    assert log.load("d") == StoredDoc(b"\x01", (b"\x02", b"\x04"))
    assert log.load("e") == StoredDoc(None, (b"\x03",))
    log.append_many([("d", b"\x05"), ("e", b"\x06")])
    assert log.load("d") == StoredDoc(b"\x01", (b"\x02", b"\x04", b"\x05"))
    log.close()
    assert "AUTOINCREMENT" not in _changes_sql(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        rows = db.execute("SELECT id, doc_id, data FROM changes ORDER BY id").fetchall()
        indexes = [r[1] for r in db.execute("PRAGMA index_list(changes)")]
    assert rows[:3] == ids and len(rows) == 5
    assert "changes_by_doc" in indexes
    migrated = _changes_sql(path)
    SQLiteDocLog(path).close()  # opening it again changes nothing
    assert _changes_sql(path) == migrated
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, doc_id, data FROM changes ORDER BY id").fetchall() == rows


def test_log_order_holds_when_the_largest_ids_were_deleted(tmp_path: Path) -> None:
    """Without AUTOINCREMENT SQLite may give a new row the id of a deleted one; it is still
    above every existing row's, so each document's log keeps its order."""
    log = SQLiteDocLog(tmp_path / "s.db")
    log.append("a", b"a1")
    for n in range(3):
        log.append("b", b"b%d" % n)
    log.compact("b", b"SNAP", 3)  # deletes the rows with the largest ids
    log.append("a", b"a2")
    log.append("b", b"b3")
    log.append("a", b"a3")
    assert log.load("a") == StoredDoc(None, (b"a1", b"a2", b"a3"))
    assert log.load("b") == StoredDoc(b"SNAP", (b"b3",))
    log.compact("a", b"SA", 2)
    assert log.load("a") == StoredDoc(b"SA", (b"a3",))
    log.close()


def _synchronous(log: SQLiteDocLog) -> int:
    return int(log._db.execute("PRAGMA synchronous").fetchone()[0])


def test_durability_full_by_default_process_on_request(tmp_path: Path) -> None:
    # SQLite's numbers: NORMAL is 1 (no fsync per commit in WAL mode), FULL is 2.
    stores: list[SQLiteDocLog] = [
        server.SQLiteStore(tmp_path / "a.db"),
        client.SQLiteStore(tmp_path / "b.db"),
    ]
    assert [_synchronous(s) for s in stores] == [2, 2]
    weak: list[SQLiteDocLog] = [
        server.SQLiteStore(tmp_path / "c.db", durability="process"),
        client.SQLiteStore(tmp_path / "d.db", durability="process"),
    ]
    assert [_synchronous(s) for s in weak] == [1, 1]
    for store in stores + weak:
        store.close()
    with pytest.raises(ValueError, match="durability"):
        server.SQLiteStore(tmp_path / "e.db", durability="power")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="durability"):
        client.SQLiteStore(tmp_path / "f.db", durability="OFF")  # type: ignore[arg-type]


def test_full_durability_defers_only_the_fsync_of_the_wal(tmp_path: Path) -> None:
    """Behind InlineStore, "full" commits with synchronous=NORMAL and fsyncs the WAL after
    (WalSync, proven against a power loss in test_power_loss.py); "process" never fsyncs."""
    full = SQLiteStore(tmp_path / "full.db")
    assert full._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL on its own
    inline = InlineStore(full)
    assert full._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL behind it
    wal = inline._wal
    assert isinstance(wal, WalSync)
    asyncio.run(inline.append_many([("d", b"one"), ("d", b"two")]))
    assert wal._fd >= 0  # the WAL file, kept open for the next fsyncs
    stored = full.load("d")
    assert stored is not None and list(stored.changes) == [b"one", b"two"]
    asyncio.run(inline.close())
    assert wal._fd == -1
    process = SQLiteStore(tmp_path / "process.db", durability="process")
    assert InlineStore(process)._wal is None
    assert process._db.execute("PRAGMA synchronous").fetchone()[0] == 1
    process.close()


def test_full_durability_fsyncs_inline_while_the_disk_is_fast(tmp_path: Path) -> None:
    """InlineStore fsyncs the WAL on the event loop while the fsyncs take at most
    ``inline_sync_max`` on average (each commit then costs no thread handoffs), moves them to a
    worker thread once the average is longer or one fsync is ten times as long, and tries
    inline again after ``retry_inline`` seconds. Every commit is durable either way."""
    now = [100.0]
    took = [0.0]  # how long the next fsync seems to take (the clock moves that far)

    def clock() -> float:
        return now[0]

    store = SQLiteStore(tmp_path / "full.db")
    inline = InlineStore(store, inline_sync_max=0.002, retry_inline=5.0, clock=clock)
    real = inline._wal
    assert real is not None
    syncs: list[str] = []

    class Timed:
        """The real WalSync, noting where each fsync ran and moving the clock."""

        @property
        def opened(self) -> bool:
            assert real is not None
            return real.opened

        def sync(self) -> None:
            assert real is not None
            main = threading.current_thread() is threading.main_thread()
            syncs.append("loop" if main else "thread")
            real.sync()
            now[0] += took[0]

        def close(self) -> None:
            assert real is not None
            real.close()

    inline._wal = Timed()  # type: ignore[assignment]

    async def commit(n: int) -> None:
        await inline.append_many([("d", b"%d" % n)])

    async def scenario() -> None:
        took[0] = 0.001
        for n in range(4):  # fast: inline
            await commit(n)
        assert syncs == ["loop"] * 4 and inline.syncs_inline
        took[0] = 0.003  # slower than the limit: the average passes it after a few
        n = 4
        while inline.syncs_inline:
            await commit(n)
            n += 1
        assert 5 <= n <= 20, n
        took[0] = 0.001
        await commit(n)  # the disk is slow now: on the thread
        assert syncs[-1] == "thread"
        now[0] += 5.0  # retry_inline later: inline again, with a fresh average
        assert inline.syncs_inline
        await commit(n + 1)
        assert syncs[-1] == "loop"
        took[0] = 0.025  # one fsync ten times the limit: to the thread at once
        await commit(n + 2)
        assert not inline.syncs_inline
        await inline.close()

    asyncio.run(scenario())
    check = SQLiteStore(tmp_path / "full.db")
    stored = check.load("d")
    assert stored is not None and len(stored.changes) == len(syncs)  # every commit kept
    check.close()


def test_a_large_snapshot_is_written_on_a_thread_while_the_store_waits(tmp_path: Path) -> None:
    """A compaction of ``thread_bytes`` or more writes its snapshot on a worker thread (the
    loop goes on meanwhile: a 30 MB snapshot held it 147 ms inline); every other call on the
    store, such as the admin endpoint's access rules, waits for it; a smaller one is written
    inline."""
    events: list[str] = []

    class Slow(SQLiteStore):
        def compact(
            self, doc_id: str, snapshot: bytes, covered: int, tag: bytes | None = None
        ) -> None:
            main = threading.current_thread() is threading.main_thread()
            events.append("compact on loop" if main else "compact on thread")
            time.sleep(0.2)
            super().compact(doc_id, snapshot, covered, tag)
            events.append("compacted")

        def access_rules(self) -> dict[str, str]:
            events.append("rules")
            return super().access_rules()

    store = Slow(tmp_path / "s.db", durability="process")
    inline = InlineStore(store, thread_bytes=100)

    async def scenario() -> None:
        await inline.append_many([("d", b"one")])
        compacting = asyncio.create_task(inline.compact("d", b"s" * 200, 1))
        await asyncio.sleep(0.05)
        events.append("loop ran")  # the loop was free while the thread wrote
        assert await inline.access_rules() == {}  # waited for its turn
        await compacting
        await inline.compact("d", b"t" * 50, 0)  # small: inline
        await inline.close()

    asyncio.run(scenario())
    assert events == [
        "compact on thread",
        "loop ran",
        "compacted",
        "rules",
        "compact on loop",
        "compacted",
    ]
