"""The real Redis for tests: the one ``REDIS_URL`` names (default ``redis://127.0.0.1:6379/0``),
each test on a pub/sub channel of its own. When Redis cannot be reached, tests skip with a
message saying so, unless ``SYNCKIT_REQUIRE_SERVICES=1`` is set (as CI does): then they fail."""

from __future__ import annotations

import os
import secrets

import pytest
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def require_redis() -> None:
    """Skip (or, under SYNCKIT_REQUIRE_SERVICES=1, fail) when Redis does not answer."""
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (aioredis.RedisError, OSError) as exc:
        if os.environ.get("SYNCKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {REDIS_URL} is required (SYNCKIT_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"no Redis at {REDIS_URL} (set REDIS_URL): {exc}")
    finally:
        await client.aclose()


def fresh_channel() -> str:
    """A channel name no other test uses."""
    return f"synckit-test:{secrets.token_hex(6)}"
