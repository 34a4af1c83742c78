"""The ASGI app mounted in a user's app, and the `synckit serve` command."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from live import server_environment
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import connect as ws_connect

from synckit.client import sync_url
from synckit.protocol import Hello, Subscribe, Subscribed, Welcome, decode_frame, encode_frame
from synckit.server import create_app, running


async def test_mounted_inside_another_app(tmp_path: Path) -> None:
    sync = create_app(tmp_path / "data")
    app = Starlette(routes=[Mount("/sync", app=sync)])
    async with running(app) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/sync/health")).json()["status"] == "ok"
        assert (await http.get("/sync/v1/docs/none")).status_code == 404
        async with ws_connect(sync_url(url + "/sync")) as ws:
            await ws.send(encode_frame(Hello("mounted"), 1))
            assert isinstance(decode_frame(await ws.recv()), Welcome)  # type: ignore[arg-type]
            await ws.send(encode_frame(Subscribe("doc"), 2))
            assert isinstance(decode_frame(await ws.recv()), Subscribed)  # type: ignore[arg-type]
    # Starlette runs no lifespan for a mounted app: the outer app closes it.
    await sync.state.synckit.aclose()
    assert (tmp_path / "data" / "synckit.db").exists()


def test_serve_command_uses_environment(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    env = dict(
        server_environment(), SYNCKIT_PORT="0", SYNCKIT_DATA=str(data), SYNCKIT_HOST="127.0.0.1"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "synckit.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", banner)
        assert match, banner
        assert int(match.group(2)) > 0
        assert str(data.resolve()) in banner
        for _ in range(200):
            try:
                health = httpx.get(match.group(1) + "/health", timeout=1)
                break
            except httpx.HTTPError:
                continue
        assert health.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful
        code = proc.wait(15)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells it.
    assert code in (0, -signal.SIGTERM)
    assert (data / "synckit.db").exists()
    # The lifespan closed the store: SQLite checkpointed and removed its write-ahead log.
    assert not (data / "synckit.db-wal").exists()


def test_serve_refuses_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "synckit.cli",
                "serve",
                "--port",
                str(port),
                "--data",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
