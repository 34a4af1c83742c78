"""Real servers for end-to-end tests: uvicorn in a thread, or `synckit serve` as a process."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from synckit.server import Authenticator, Limits, SyncServer, create_app, running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_only_app(server: SyncServer) -> Starlette:
    """The server's routes without ``WS /v1/sync``: a WebSocket upgrade gets HTTP 403, as
    behind a proxy that does not pass WebSockets; the HTTP sync endpoint works."""
    routes = [r for r in server.routes() if not isinstance(r, WebSocketRoute)]
    app = Starlette(routes=routes, lifespan=server.lifespan)
    app.state.synckit = server
    return app


class ServerThread:
    """``create_app(data)`` served by uvicorn on its own event loop in a thread.

    ``http_only``: serve :func:`http_only_app` instead (no WebSocket endpoint).
    """

    def __init__(
        self,
        data: Path,
        *,
        port: int = 0,
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
        http_only: bool = False,
    ) -> None:
        self.data = data
        self.port = port
        self.limits = limits
        self.authenticate = authenticate
        self.http_only = http_only
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> ServerThread:
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("server thread did not start")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = create_app(self.data, limits=self.limits, authenticate=self.authenticate)
        if self.http_only:
            app = http_only_app(app.state.synckit)
        async with running(app, port=self.port) as url:
            self.url = url
            self.port = int(url.rsplit(":", 1)[1])
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "server thread did not stop"
        self._thread = None
        if self._error is not None:
            raise self._error


#: Settings a server process would pick up from the environment of the test run (CI may set
#: them): a test's server uses PostgreSQL or Redis only when the test says so.
_SERVICE_VARIABLES = ("DATABASE_URL", "SYNCKIT_DATABASE", "REDIS_URL", "SYNCKIT_REDIS")


def server_environment() -> dict[str, str]:
    """This process's environment without the service variables (see above)."""
    return {k: v for k, v in os.environ.items() if k not in _SERVICE_VARIABLES}


class ServerProcess:
    """``synckit serve`` in a child process (so that it can be SIGKILLed)."""

    def __init__(
        self,
        data: Path,
        port: int,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data = data
        self.port = port
        self.args = args or []
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.banner = ""
        self._stderr: list[str] = []
        self._drain: threading.Thread | None = None

    @classmethod
    def with_config(cls, root: Path, config: str) -> ServerProcess:
        """``synckit serve`` on a free port with its data under ``root`` and ``config`` (TOML)
        as its ``--config`` file, started."""
        path = root / "serve.toml"
        path.write_text(config)
        return cls(root / "data", free_port(), ["--config", str(path)]).start()

    @property
    def stderr_text(self) -> str:
        """What the server wrote to stderr so far (its log lines)."""
        return "".join(self._stderr)

    def start(self) -> ServerProcess:
        env = dict(server_environment(), PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "synckit.cli",
                "serve",
                "--port",
                str(self.port),
                "--data",
                str(self.data),
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self.banner = self.proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", self.banner)
        if match is None:
            self.proc.kill()
            raise RuntimeError(f"unexpected banner {self.banner!r}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.url = match.group(1)
        # Read stderr as it comes, so that a server that logs a lot never blocks on the pipe.
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.02)
        raise RuntimeError("server process did not become healthy")

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown code runs
        self.proc.wait(10)
        self._close_pipes()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self._drain is not None:
            self._drain.join(10)
        if self.proc is not None:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result: Any = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


BENCH_FLOODS = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_floods.py"


async def beside_an_attacker(
    url: str, kind: str, seconds: float, *, token: str = ""
) -> tuple[dict[str, Any], list[float]]:
    """Run the attacker ``kind`` of ``benchmarks/bench_floods.py`` against ``url`` for
    ``seconds``, in a process of its own, and beside it an SDK client (with ``token``) that
    sets a field, waits until it is acknowledged, sleeps 10 ms and again, until a second
    before the attacker stops: the attacker's figures, and the writer's edit-to-ack times
    in seconds (the benchmark's own honest writer, :func:`bench_floods.honest`)."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("bench_floods", BENCH_FLOODS)
    assert spec is not None and spec.loader is not None
    bench_floods = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_floods)
    attacker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH_FLOODS),
        "--attack",
        kind,
        url,
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        env=server_environment(),
    )
    try:
        assert attacker.stdout is not None
        assert await asyncio.wait_for(attacker.stdout.readline(), 30) == b"ready\n"
        await asyncio.sleep(0.5)  # the attack under way
        times: list[float] = await bench_floods.honest(url, seconds - 1.0, token)
        out, _ = await asyncio.wait_for(attacker.communicate(), 60)
    finally:
        if attacker.returncode is None:
            attacker.kill()
            await attacker.wait()
    return json.loads(out.splitlines()[-1]), times
