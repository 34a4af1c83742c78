"""Exhaustion against a real ``synckit serve`` process: connections that never finish their
request head are closed within the handshake timeout."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import ServerProcess, free_port

HEAD_TIMEOUT = 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    config = tmp_path / "synckit.toml"
    config.write_text(f"[limits]\nhandshake_timeout = {HEAD_TIMEOUT}\n")
    proc = ServerProcess(tmp_path / "data", free_port(), ["--config", str(config)]).start()
    try:
        yield proc
    finally:
        proc.terminate()


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and when it closed (monotonic)."""
    got = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return got, time.monotonic()
        got += chunk


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"GET /v1/sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
        b"GET /heal",
    ],
    ids=["silent", "half-upgrade", "half-request-line"],
)
def test_connection_without_a_complete_head_is_closed(server: ServerProcess, sent: bytes) -> None:
    with _connect(server) as sock:
        start = time.monotonic()
        if sent:
            sock.sendall(sent)
        got, closed = _read_until_closed(sock)
    waited = closed - start
    assert HEAD_TIMEOUT * 0.8 <= waited < HEAD_TIMEOUT + 3, waited
    if sent:
        assert got.startswith(b"HTTP/1.1 408 "), got
    else:
        assert got == b""


def test_slow_head_does_not_move_the_deadline(server: ServerProcess) -> None:
    with _connect(server) as sock:
        start = time.monotonic()
        head = b"GET /health HTTP/1.1\r\nHost: x\r\n"
        for byte in head:  # one byte every 0.1 s: 3 s in all, more than the timeout
            sock.sendall(bytes([byte]))
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:  # the server answered: send no more (or it would reset)
                break
        got, closed = _read_until_closed(sock)
    assert closed - start < HEAD_TIMEOUT + 3
    assert got.startswith(b"HTTP/1.1 408 "), got


def test_kept_alive_connection_gets_the_deadline_for_its_next_head(
    server: ServerProcess,
) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"}" not in first:  # the whole response: its JSON body ends with }
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first
        start = time.monotonic()
        sock.sendall(b"GET /hea")  # the next request, cut short
        got, closed = _read_until_closed(sock)
    assert closed - start < HEAD_TIMEOUT + 3
    assert got.startswith(b"HTTP/1.1 408 "), got
