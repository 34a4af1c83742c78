"""The benchmarks' peers and server processes: installing them, starting them, their memory.

Each peer is installed by the benchmark that uses it, never into the project's environment:
pycrdt-websocket into a virtualenv of its own (``benchmarks/.peers/pycrdt``, every package pinned
in ``peers/requirements.txt``) and each Hocuspocus tree with ``npm ci`` into
``benchmarks/.peers/<name>`` (pinned by ``peers/<name>/package.json`` and its
``package-lock.json``); an install is redone when its pins change. ``benchmarks/.peers`` is
git-ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

KIB = 1024
MIB = 1024 * 1024


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def status(pid: int, field: str) -> int:
    """``VmRSS``/``VmHWM`` of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * KIB
    raise RuntimeError(f"no {field} for {pid}")


class ServerProcess:
    """A server process of the benchmark: its memory, and stopping it."""

    proc: subprocess.Popen[str]
    url: str

    def spawn(self, args: list[str], src: Path) -> None:
        """Start ``python args`` with ``src`` as its PYTHONPATH; it prints its base URL on
        its first line. Returns once ``/health`` answers (RuntimeError if it printed
        something else)."""
        env = dict(os.environ, PYTHONPATH=str(src))
        self.proc = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"server did not start: {self.url!r}")
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        return status(self.pid, "VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


BENCH = Path(__file__).resolve().parent
PEERS = BENCH / "peers"
PEERS_HOME = BENCH / ".peers"

PYCRDT_CHILD = """
import asyncio, json, resource, signal, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
from pycrdt.websocket import ASGIServer, WebsocketServer

mode = sys.argv[1]
websocket_server = WebsocketServer()
asgi = ASGIServer(websocket_server)


async def app(scope, receive, send):
    if scope["type"] == "http":  # the benchmark's probe; nothing per connection
        rooms = websocket_server.rooms.values()
        body = json.dumps({"connections": sum(len(r.clients) for r in rooms)}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "lifespan" and mode == "uvicorn":
        async with websocket_server:  # runs for the server's whole life
            await asgi(scope, receive, send)
    else:
        await asgi(scope, receive, send)


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
if mode == "uvicorn":
    import uvicorn
    # uvicorn's defaults (uvloop, httptools, websockets), as `uvicorn module:app` runs it.
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])
else:
    # The docs' example: Hypercorn's asyncio serve inside `async with websocket_server`.
    from hypercorn import Config
    from hypercorn.asyncio import serve

    async def main():
        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.loglevel = "WARNING"
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with websocket_server:
            await serve(app, config, mode="asgi", shutdown_trigger=stop.wait)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:  # pycrdt-websocket's stop cancels its own task group
        pass
"""


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")


def _stamped(home: Path, inputs: list[Path]) -> bool:
    """Whether ``home`` was installed from exactly these files (else: clear the stamp)."""
    stamp = home / ".installed-from"
    wanted = "".join(p.read_text() for p in inputs)
    if stamp.exists() and stamp.read_text() == wanted:
        return True
    stamp.unlink(missing_ok=True)
    return False


def _stamp(home: Path, inputs: list[Path]) -> None:
    (home / ".installed-from").write_text("".join(p.read_text() for p in inputs))


def install_pycrdt() -> Path:
    """The peers' virtualenv with ``peers/requirements.txt``; returns its python."""
    home = PEERS_HOME / "pycrdt"
    python = home / "bin" / "python"
    reqs = PEERS / "requirements.txt"
    if python.exists() and _stamped(home, [reqs]):
        return python
    if not python.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(home)])
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(reqs)])
    _stamp(home, [reqs])
    return python


def install_npm(name: str, scripts: tuple[str, ...] = ("server.mjs",)) -> Path:
    """``npm ci`` of ``peers/NAME`` into ``.peers/NAME`` (its ``scripts`` copied beside);
    returns that directory."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm not found")
    home = PEERS_HOME / name
    files = [PEERS / name / f for f in ("package.json", "package-lock.json")]
    home.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        shutil.copy(PEERS / name / script, home / script)
    if (home / "node_modules").exists() and _stamped(home, files):
        return home
    for f in files:
        shutil.copy(f, home / f.name)
    _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=home)
    _stamp(home, files)
    return home


TS_CLIENT = BENCH.parent / "clients" / "typescript"


def build_ts_client() -> Path:
    """SyncKit's TypeScript client as its own build bundles it (``npm run build`` in
    ``clients/typescript``, after ``npm ci`` when its packages are missing), redone when a
    source file is newer than the bundle; returns ``dist/index.js``. The Node clients of
    bench_scale.py (``_scale_clients.mjs``) import it, and ``ws`` from its dev dependencies."""
    bundle = TS_CLIENT / "dist" / "index.js"
    sources = [*(TS_CLIENT / "src").rglob("*.ts"), TS_CLIENT / "package-lock.json"]
    newest = max(p.stat().st_mtime for p in sources)
    if bundle.exists() and bundle.stat().st_mtime >= newest:
        return bundle
    if shutil.which("npm") is None:
        raise RuntimeError("npm not found: cannot build clients/typescript")
    if not (TS_CLIENT / "node_modules" / ".package-lock.json").exists():
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_CLIENT)
    _run(["npm", "run", "build"], cwd=TS_CLIENT)
    return bundle


def install_hocuspocus() -> Path:
    """Hocuspocus 3 for the machine's Node (``peers/hocuspocus``); returns its directory."""
    if shutil.which("node") is None:
        raise RuntimeError("node not found")
    return install_npm("hocuspocus")


def npm_versions(home: Path, names: tuple[str, ...]) -> str:
    """``name@version`` of each package installed under ``home/node_modules``."""
    modules = home / "node_modules"
    return " ".join(
        f"{n}@{json.loads((modules / n / 'package.json').read_text())['version']}" for n in names
    )


def peer_versions() -> dict[str, str]:
    """Versions actually installed (what the table was measured with)."""
    out = {}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out["node"] = subprocess.check_output(["node", "--version"], text=True).strip()
    python = PEERS_HOME / "pycrdt" / "bin" / "python"
    if python.exists():
        code = (
            "from importlib.metadata import version as v\n"
            "print(' '.join(f'{n}=={v(n)}' for n in "
            "('pycrdt-websocket', 'pycrdt', 'uvicorn', 'websockets', 'hypercorn')))"
        )
        out["pycrdt"] = subprocess.check_output([str(python), "-c", code], text=True).strip()
    home = PEERS_HOME / "hocuspocus"
    if (home / "node_modules").exists():
        names = ("@hocuspocus/server", "ws", "yjs", "y-protocols", "lib0")
        out["hocuspocus"] = npm_versions(home, names)
    return out


class PeerServer(ServerProcess):
    """A peer's server process; ``cmd`` prints its base URL on its first line of output."""

    def __init__(
        self,
        cmd: list[str],
        cwd: Path | None,
        count_path: str,
        *,
        stderr: int | None = None,
    ) -> None:
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.count_url = self.url + count_path
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError(f"{cmd[0]} server did not start: {self.url!r}")
        for _ in range(250):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.count_url, timeout=1).status_code == 200:
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{cmd} does not answer {count_path}")

    def connections(self) -> int:
        return int(httpx.get(self.count_url, timeout=10).json()["connections"])
