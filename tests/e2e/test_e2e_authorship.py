"""End to end: each client sends only its own operations; others' reach the server through
their authors (as after a server is restored from a backup that lacks some of them)."""

from __future__ import annotations

import pytest
from live import ServerThread, eventually
from test_e2e_sync import doc_view, fast
from test_e2e_transports import TRANSPORTS, push

from synckit import Document
from synckit.protocol import ErrorCode


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_client_pushes_only_its_own_operations(
    server: ServerThread, transport: str
) -> None:
    third = Document("third")
    third.set("from_third", 1)
    async with fast(server.url, client_id="relay", transport=transport) as client:
        doc = await client.open("d")
        doc.apply(third.changes())  # held here, never seen by the server
        doc.set("from_relay", 2)
        await client.wait_synced(timeout=10)  # its own edit is acknowledged...
        assert client.engine.sync_error() is None
        # ...and stored, waiting for the third party's operation it was made after.
        assert doc_view(server.url, "d").status_code == 404
        # The third party's operations arrive when their author sends them.
        assert (await push(transport, server.url, "d", third.changes())).error is None
        await eventually(lambda: doc_view(server.url, "d").json() == doc.to_json())
        assert doc.to_json() == {"from_third": 1, "from_relay": 2}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_operations_under_another_id_are_refused_and_nothing_is_stored(
    server: ServerThread, transport: str
) -> None:
    victim = Document("victim")
    victim.set("k", "victim's own")
    forged = Document("victim")  # the attacker writes under the victim's id and seq
    forged.set("k", "forged")
    got = await push(transport, server.url, "d", forged.changes(), client_id="mallory")
    assert got.error is ErrorCode.NOT_AUTHOR
    assert "'victim'" in got.message and "'mallory'" in got.message
    assert doc_view(server.url, "d").status_code == 404
    # The victim's own write is kept, then the impostor's repeat under its id is refused.
    assert (await push(transport, server.url, "d", victim.changes())).error is None
    got = await push(transport, server.url, "d", forged.changes(), client_id="victim")
    assert got.error is ErrorCode.EQUIVOCATION and "'victim'" in got.message
    assert doc_view(server.url, "d").json() == {"k": "victim's own"}
