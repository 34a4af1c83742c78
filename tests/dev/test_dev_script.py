"""``python3 dev.py serve`` passes signals on to the server and ends cleanly with it.

dev.py and ``synckit serve`` run as real processes. SYNCKIT_DEV_PYTHON points dev.py at a
small shell script that notes its process id and then becomes this test run's Python (so
dev.py installs nothing, and the test knows the server's pid). After each signal the server
must be gone (dev.py waited for it), its port free, its SQLite store closed (the graceful
shutdown ran), the exit status that of the signal, and no traceback printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from live import server_environment

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and sessions")

ROOT = Path(__file__).resolve().parents[2]
BANNER = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


@dataclass
class Served:
    """A running server: the process the test started, the server's pid, where it serves."""

    proc: subprocess.Popen[str]
    server_pid: int
    url: str
    port: int
    data: Path

    def end(self) -> tuple[int, str]:
        """Wait for the started process to end; its exit status and all it printed."""
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            alive = "" if self.proc.poll() is None else ", but a child holds its output open"
            raise AssertionError(f"pid {self.proc.pid} did not end in 30 s{alive}") from None
        return self.proc.returncode, out + err


def python_noting_its_pid(tmp_path: Path) -> tuple[Path, Path]:
    """A script that acts as this Python and writes its pid to a file first; both paths."""
    pidfile = tmp_path / "server.pid"
    script = tmp_path / "python"
    script.write_text(
        f"#!/bin/sh\necho $$ > {shlex.quote(str(pidfile))}\n"
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    script.chmod(0o755)
    return script, pidfile


@contextlib.contextmanager
def serving(tmp_path: Path, *, via_dev_py: bool, nohup: bool = False) -> Iterator[Served]:
    """``python3 dev.py serve`` (or ``synckit serve``) on a free port, in a session of its own
    as a shell runs a job; whatever is still running at the end is killed.

    ``nohup``: start it with SIGHUP ignored, as ``nohup`` does.
    """
    python, pidfile = python_noting_its_pid(tmp_path)
    data = tmp_path / "data"
    options = ["--port", "0", "--data", str(data)]
    if via_dev_py:
        argv = [sys.executable, str(ROOT / "dev.py"), "serve", *options]
    else:
        argv = [str(python), "-m", "synckit.cli", "serve", *options]
    if nohup:
        argv = ["/bin/sh", "-c", 'trap "" HUP; exec "$@"', "sh", *argv]
    env = dict(server_environment(), SYNCKIT_DEV_PYTHON=str(python), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    server_pid: int | None = None
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = BANNER.search(banner)
        assert match, f"no banner: {banner!r}"
        server_pid = int(pidfile.read_text())
        served = Served(proc, server_pid, match.group(1), int(match.group(2)), data)
        wait_until(lambda: healthy(served.url), "the server answers /health")
        assert not port_is_free(served.port)
        yield served
    finally:
        for pid in (proc.pid, server_pid):
            if pid is not None and is_running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` (with SO_REUSEADDR, as ``serve`` does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def is_running(pid: int) -> bool:
    """Whether ``pid`` exists (a zombie nobody waited for counts: it has not been reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def assert_ended_cleanly(served: Served, output: str, *, graceful: bool = True) -> None:
    assert "Traceback" not in output, output
    assert not is_running(served.server_pid), "the server outlived the process that ran it"
    assert port_is_free(served.port), f"port {served.port} is still taken"
    if graceful:
        # The lifespan closed the store: SQLite checkpointed and removed its write-ahead log.
        assert not (served.data / "synckit.db-wal").exists(), "the server did not shut down"


def test_sigterm_to_dev_py_stops_the_server(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True) as served:
        served.proc.send_signal(signal.SIGTERM)
        status, output = served.end()
    # uvicorn shuts down gracefully, then ends itself with the signal it got: 128 + 15.
    assert status == 128 + signal.SIGTERM, output
    assert_ended_cleanly(served, output)


def test_sigint_to_dev_py_stops_the_server(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True) as served:
        served.proc.send_signal(signal.SIGINT)  # kill -INT: dev.py alone gets it
        status, output = served.end()
    assert status == 130, output  # synckit serve's status after a Ctrl-C
    assert_ended_cleanly(served, output)


def test_ctrl_c_in_a_terminal_stops_the_server(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True) as served:
        os.killpg(served.proc.pid, signal.SIGINT)  # as a terminal does: to the whole job
        status, output = served.end()
    assert status == 130, output
    assert_ended_cleanly(served, output)


def test_sighup_to_dev_py_ends_the_server_as_a_hangup_would(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True) as served:
        served.proc.send_signal(signal.SIGHUP)
        status, output = served.end()
    assert status == 128 + signal.SIGHUP, output  # uvicorn does not catch SIGHUP
    assert_ended_cleanly(served, output, graceful=False)


def test_a_signal_ignored_from_the_start_is_not_passed_on(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True, nohup=True) as served:
        served.proc.send_signal(signal.SIGHUP)  # the terminal of a nohup job went away
        time.sleep(0.5)
        assert served.proc.poll() is None and healthy(served.url), "SIGHUP was not ignored"
        served.proc.send_signal(signal.SIGTERM)
        status, output = served.end()
    assert status == 128 + signal.SIGTERM, output
    assert_ended_cleanly(served, output)


def process_state(pid: int) -> str:
    """The state letter in /proc/PID/stat: R running, S sleeping, T stopped, ..."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads states from /proc")
def test_ctrl_z_stops_the_server_with_dev_py_and_fg_continues_both(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=True) as served:
        pids = (served.proc.pid, served.server_pid)
        os.killpg(served.proc.pid, signal.SIGTSTP)  # Ctrl-Z
        wait_until(lambda: all(process_state(p) == "T" for p in pids), "both are stopped")
        os.killpg(served.proc.pid, signal.SIGCONT)  # fg
        wait_until(lambda: all(process_state(p) != "T" for p in pids), "both run again")
        assert healthy(served.url)
        os.killpg(served.proc.pid, signal.SIGINT)
        status, output = served.end()
    assert status == 130, output
    assert_ended_cleanly(served, output)


def test_synckit_serve_ends_quietly_on_ctrl_c(tmp_path: Path) -> None:
    with serving(tmp_path, via_dev_py=False) as served:
        os.killpg(served.proc.pid, signal.SIGINT)
        status, output = served.end()
    assert status == 130, output
    assert_ended_cleanly(served, output)
