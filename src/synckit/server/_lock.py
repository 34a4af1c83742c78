"""One server process per SQLite data set: an exclusive lock held for the process lifetime.

Two processes appending to one SQLite file would each hold documents in memory that the other
does not see: clients on each diverge, and a restart loses acknowledged writes. So a server
takes an ``flock`` on a lock file beside its database and keeps it until it closes; a second
one fails to start, told who holds the lock. The kernel releases the lock when the holder
exits, however it ends (a ``kill -9`` included), so a stale lock file never blocks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from synckit.errors import StorageError

__all__ = ["DataLock"]


class DataLock:
    """An exclusive lock on ``path`` (a lock file), holding who took it and when.

    Raises:
        StorageError: another process holds it; the message names that process.
    """

    __slots__ = ("_fd", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise StorageError(
                f"the data in {self.path.parent} is in use by another SyncKit server "
                f"({holder}); one server process per SQLite data directory (serving one "
                "data set from several processes takes PostgreSQL)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(
            fd,
            f"pid {os.getpid()} on {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n".encode(),
        )
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read(fd: int) -> str:
    with contextlib.suppress(OSError):
        data = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if data:
            return data
    return "holder unknown"
