"""A PostgreSQL and a redis-server of a test's own, to stop, SIGKILL and restart.

Tests that break a service must never touch the shared ones (``DATABASE_URL``,
``REDIS_URL``): other tests, and other people, use them. These start a private instance on a
free loopback port in a temporary directory and remove it afterwards.

* :class:`PrivatePostgres`: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` (the
  newest version there), trust authentication, ``fsync`` off (a crashed *process* loses
  nothing the kernel holds, which is what these tests crash). ``initdb`` refuses to run as
  root, so as root the cluster belongs to the ``postgres`` user and every command runs as it
  (``runuser -u postgres --``).
* :class:`PrivateRedis`: the ``redis-server`` binary with no persistence (``--save ''
  --appendonly no``): a restart forgets everything, as a lost message would.

When the binaries (or, as root, the ``postgres`` user) are missing, :func:`unavailable`
skips the test with the reason, or fails it under ``SYNCKIT_REQUIRE_SERVICES=1`` (as CI
sets).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import pytest
from live import free_port

__all__ = ["PrivatePostgres", "PrivateRedis", "unavailable"]


def unavailable(reason: str) -> NoReturn:
    """Skip the test, saying why (fail it instead under ``SYNCKIT_REQUIRE_SERVICES=1``)."""
    if os.environ.get("SYNCKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SYNCKIT_REQUIRE_SERVICES=1: the tests need it)", pytrace=False)
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bin_dir = Path(initdb).parent
        with contextlib.suppress(ValueError):
            if (bin_dir / "pg_ctl").exists():
                found.append((float(bin_dir.parent.name), bin_dir))
    return max(found)[1] if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of its own: :meth:`start`, :meth:`restart` (``pg_ctl restart -m
    immediate``, a crash and recovery), :meth:`stop`, :meth:`kill` (SIGKILL to the postmaster
    and every backend), :meth:`remove`. :attr:`url` is its ``postgres`` database."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            unavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = bin_dir
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no postgres user to run initdb as")
            if shutil.which("runuser") is None:
                unavailable("running as root and runuser is missing (initdb refuses root)")
            self._as = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="synckit-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self._as:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr}{done.stdout}{log}")

    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
        )

    def start(self) -> PrivatePostgres:
        """Start it and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
                  "-w", "-t", "60", "start")  # fmt: skip
        return self

    def restart(self) -> None:
        """``pg_ctl restart -m immediate``: every backend dies at once (no checkpoint), the
        server recovers from its WAL and accepts connections again."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
                  "-m", "immediate", "-w", "-t", "60", "restart")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown (connections are ended)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster and its children; :meth:`start` brings it back (recovering)."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        victims = [pid]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    victims.append(int(Path(stat).parent.name))
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            time.sleep(0.02)
        # A killed postmaster may stay a zombie (its parent, pg_ctl, is gone, and whoever
        # adopted it may not reap it): its lock files would make the next start believe it
        # still runs.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.root / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def remove(self) -> None:
        """Stop it (immediately) and delete its directory."""
        if self.postmaster_pid() is not None and _alive(self.postmaster_pid() or 0):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of its own on a free port: :meth:`start`, :meth:`stop` (SIGTERM),
    :meth:`kill` (SIGKILL), :meth:`restart`. Nothing is persisted across restarts."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        """Start it and wait until it answers PING."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if _ping(self.port):
                return self
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        """SIGKILL, then start again on the same port."""
        self.kill()
        self.start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _ping(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
