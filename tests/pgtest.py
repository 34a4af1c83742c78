"""Real PostgreSQL databases for tests: one fresh database per test on the shared server.

The server is the one ``DATABASE_URL`` names (default
``postgresql://postgres@127.0.0.1:5432/postgres``, trust authentication). A test gets a
database created for it with a random name and dropped after it (``WITH (FORCE)``: even
with a server process still connected). When the server cannot be reached, tests skip with a
message saying so, unless ``SYNCKIT_REQUIRE_SERVICES=1`` is set (as CI does): then they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from synckit.server._postgres import redact

T = TypeVar("T")

ADMIN_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
_unreachable: list[str] = []  # the reason, once the server was found unreachable


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a loop of its own, in a thread (safe from inside a
    test's running loop and from fixtures)."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def database_url(name: str) -> str:
    """``ADMIN_URL`` pointing at database ``name``."""
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL is not reachable at {redact(ADMIN_URL)} ({reason}); set DATABASE_URL"
    if os.environ.get("SYNCKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (SYNCKIT_REQUIRE_SERVICES=1: the tests need it)", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def temporary_database() -> Iterator[str]:
    """Create a database with a random name; yield its URL; drop it."""
    if _unreachable:
        _unavailable(_unreachable[0])
    name = f"synckit_test_{secrets.token_hex(6)}"
    try:
        run_sync(lambda: _admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _unreachable.append(f"{type(exc).__name__}: {exc}")
        _unavailable(_unreachable[0])
    try:
        yield database_url(name)
    finally:
        run_sync(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
