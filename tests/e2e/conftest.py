from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live import ServerThread


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    """A real uvicorn server on loopback, on SQLite under ``tmp_path/server``."""
    srv = ServerThread(tmp_path / "server").start()
    try:
        yield srv
    finally:
        srv.stop()
