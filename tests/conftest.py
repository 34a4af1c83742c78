"""Fixtures for every test folder.

``clock``: a :class:`~fakeclock.FakeClock` at 1,000 ms that moves only when the test moves it.
``server``: a real uvicorn server on loopback, on SQLite under the test's ``tmp_path``.
``pg_url``: a fresh PostgreSQL database of the test's own (see :mod:`pgtest`), dropped after it.
``private_pg``: a PostgreSQL server of the run's own, to crash and restart (see
:mod:`private_services`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeclock import FakeClock
from live import ServerThread
from pgtest import temporary_database
from private_services import PrivatePostgres


@pytest.fixture
def clock() -> FakeClock:
    """A fake wall clock standing at 1,000 ms: ``clock.advance(ms)``, ``clock.set(ms)``."""
    return FakeClock()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    """A real uvicorn server on loopback, on SQLite under ``tmp_path/server``."""
    srv = ServerThread(tmp_path / "server").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own; skipped when PostgreSQL is not
    reachable (failed under ``SYNCKIT_REQUIRE_SERVICES=1``)."""
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the run's own (see :mod:`private_services`), for tests that
    crash or restart it; skipped when it cannot be started (failed under
    ``SYNCKIT_REQUIRE_SERVICES=1``)."""
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()
