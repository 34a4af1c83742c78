"""The bugs the chaos tests found, each pinned down on its own (private services: these stop
and restart them).

* A message published right after Redis restarted went out on a pooled connection Redis had
  closed, failed, and was dropped: the other server's clients missed that change until the
  periodic catch-up (30 s). Now it stays in the sender's outbox and goes out again.
* A client that subscribed while the database was unreachable got a retryable error for that
  document and then never subscribed again while its connection stayed up: its edits were
  never sent. Now it subscribes again a second later.
* A push that let others' changes apply (changes that waited on the server for it: they came
  from clients that had moved from another server) acknowledged a version holding them, but
  the broadcast of them skipped the pusher: it believed it had them and never got them, and
  every later change depending on them waited in its replica for good. Now the pusher gets
  that broadcast too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from chaos import create_database
from live import ServerProcess, ServerThread, eventually, free_port
from private_services import PrivatePostgres, PrivateRedis

from synckit.client import connect
from synckit.server._redis_channel import RedisChannel


async def test_a_message_published_as_redis_comes_back_is_heard() -> None:
    redis = PrivateRedis().start()
    heard: list[bytes] = []
    resubscribed = asyncio.Event()
    sender = RedisChannel(redis.url, "c", lambda payload: None)
    receiver = RedisChannel(redis.url, "c", heard.append, resubscribed.set)
    try:
        await sender.start()
        await receiver.start()
        for _ in range(50):  # at once: before, each took a pooled connection of its own
            sender.publish(b"before")
        await eventually(lambda: len(heard) == 50, 5, "the first messages")
        await asyncio.to_thread(redis.restart)
        await asyncio.wait_for(resubscribed.wait(), 10)
        # The sender's pooled connection is the one Redis closed: its first publish fails.
        for i in range(20):
            sender.publish(str(i).encode())
        await eventually(lambda: len(heard) == 70, 10, "every message after the restart")
        assert heard[50:] == [str(i).encode() for i in range(20)]  # in order, once each
        # The receiver can hear the last batch before the sender has read Redis's reply to
        # it, so the outbox empties a moment later (under load, after the assertion above).
        await eventually(lambda: sender.outbox == 0, 5, "the sender's outbox to empty")
        assert sender.dropped == 0
    finally:
        await sender.aclose()
        await receiver.aclose()
        redis.kill()


async def test_a_subscription_refused_while_the_database_is_down_is_taken_again(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    db_url = await create_database(private_pg)
    server = ServerProcess(tmp_path / "s", free_port(), env={"DATABASE_URL": db_url}).start()
    try:
        async with connect(server.url, client_id="a", ping_interval=1) as client:
            await client.open("first", wait=True)  # connected, its client id registered
            await asyncio.to_thread(private_pg.stop)
            try:
                late = await client.open("late")  # the server cannot load it: retryable
                late.set("x", 1)
                await eventually(
                    lambda: client.rejected("late") is not None, 10, "the refused subscription"
                )
                assert client.connections == 1
            finally:
                await asyncio.to_thread(private_pg.start)
            await client.wait_synced(timeout=15)
            assert client.connections == 1  # on the same connection, no reconnect needed
            assert late.to_json() == {"x": 1}
    finally:
        server.terminate()


async def test_a_push_that_lets_others_changes_apply_sends_them_to_the_pusher(
    server: ServerThread, tmp_path: Path
) -> None:
    store = tmp_path / "y.db"
    # y edits with no server reachable: its edit stays in its store, unsent.
    async with connect(f"http://127.0.0.1:{free_port()}", store=store, client_id="y") as away:
        doc = await away.open("d")
        doc.set("y", 1)
        y_edit = doc.changes()
    async with connect(server.url, client_id="x") as x:
        doc_x = await x.open("d", wait=True)
        doc_x.apply(y_edit)  # x has y's edit from elsewhere (through another server, say)
        doc_x.set("x", 2)  # and makes one after it: on the server it waits for y's
        await x.wait_synced(timeout=10)
        async with connect(server.url, store=store, client_id="y") as y:
            doc_y = await y.open("d", wait=True)
            await y.wait_synced(timeout=10)  # y's edit arrives: x's applies on the server
            await eventually(lambda: doc_y.get("x") == 2, 5, "x's edit at y")
            assert doc_y.to_json() == doc_x.to_json() == {"y": 1, "x": 2}
