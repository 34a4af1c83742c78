"""The loop budget against a real ``synckit serve`` process: pushes that are cheap in bytes
but dear to merge (single characters inserted at scattered places) put their principal in
debt; its next pushes are refused RATE_LIMITED until the debt is repaid, the SyncKit client
sends them again after ``retry_after_ms`` and every edit arrives, while another principal's
client keeps syncing."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from live import ServerProcess, eventually

from synckit.client import connect
from synckit.protocol import Error, ErrorCode

SECRET = "m" * 64
# No burst: every merge's time is owed at once, repaid at 20 ms per second (a push of 2,000
# scattered characters takes the loop about 20-40 ms: a second or two to repay).
CONFIG = f"""
jwt_secret = "{SECRET}"

[limits]
loop_share = 0.02
loop_burst = 0.0
"""


def token(sub: str) -> str:
    claims = {"sub": sub, "exp": int(time.time() + 600), "synckit": {"docs": {"*": "write"}}}
    return jwt.encode(claims, SECRET, "HS256")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("merge-budget")
    proc = ServerProcess.with_config(root, CONFIG)
    yield proc
    proc.terminate()


async def test_a_client_over_its_merge_budget_delivers_its_edits_later(
    server: ServerProcess,
) -> None:
    rng = random.Random(5)
    async with (
        connect(server.url, token=token("scatter"), client_id=f"sc-{os.getpid()}") as client,
        connect(server.url, token=token("other"), client_id=f"ot-{os.getpid()}") as other,
    ):
        refused: list[Error] = []
        client.on_rejected(lambda doc_id, error: refused.append(error))
        doc = await client.open("scattered", wait=True)
        text = doc.get_text("t")
        for _ in range(4):  # four pushes of 2,000 scattered characters each
            for _ in range(2_000):
                text.insert(rng.randrange(len(text) + 1), "x")
            await asyncio.sleep(0.05)
        # Meanwhile another principal edits on and syncs.
        mine = await other.open("scattered", wait=True)
        mine.set("other", "still here")
        await client.wait_synced(timeout=60)
        await other.wait_synced(timeout=60)
        assert refused and {e.code for e in refused} == {ErrorCode.RATE_LIMITED}
        assert all("loop_share" in e.message for e in refused)
        assert client.rejections() == {}
        await eventually(lambda: len(mine.get_text("t")) == 8_000, 30, "every character")
        assert str(mine.get_text("t")) == str(text)
    answer = httpx.get(
        f"{server.url}/v1/docs/scattered",
        headers={"authorization": f"Bearer {token('reader')}"},
        timeout=10,
    )
    assert answer.status_code == 200
    stored = answer.json()
    assert stored["t"] == "x" * 8_000 and stored["other"] == "still here"
