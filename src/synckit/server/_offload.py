"""Work on large documents away from the event loop, so one document never stalls everyone.

Building a snapshot of a large document is pure Python (a megabyte of text takes a few hundred
milliseconds): a thread would hold the GIL most of that time, so it runs in a worker process
(spawned, so nothing of the server's threads or sockets is inherited), from the bytes the
document was rebuilt from and the batches merged since (see :mod:`._rooms`). Decoding a large
document read from storage runs in a thread instead: its result is a live document, which
cannot cross a process boundary cheaply; the interpreter hands the GIL back to the loop every
few milliseconds (``sys.getswitchinterval``), so the loop slows down but does not stop. The
thread also decodes what a tagged load defers to first use (the history of each text: see
:meth:`Document.decode_deferred`), which would otherwise fall on the loop at the first push.

Each result is handed back on the event loop, through the callback the hub gave.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

from synckit._logged import LoggedDocument, build_snapshot
from synckit._storage import StoredDoc
from synckit.core import SnapshotKey
from synckit.errors import DecodeError, StorageError

__all__ = ["Offloader"]


def _outcome(future: asyncio.Future[object] | Future[object], what: str) -> object:
    """The future's result, or the exception to report (a crash of the worker becomes a
    StorageError: nothing was written, the log holds every batch still)."""
    if future.cancelled():
        return StorageError(f"{what} was cancelled")
    exc = future.exception()
    if exc is None:
        return future.result()
    if isinstance(exc, DecodeError | StorageError):
        return exc
    return StorageError(f"{what} failed: {type(exc).__name__}: {exc}")


def _watch_parent(parent: int) -> None:
    """In the worker: exit as soon as the server process is gone (killed with SIGKILL, it
    cannot stop its workers; an orphan would hold its pipes and its memory)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="synckit-parent-watch", daemon=True).start()


def _restore_decoded(stored: StoredDoc, track: bool, key: SnapshotKey | None) -> LoggedDocument:
    """The document ``stored`` holds, with nothing left to decode on first use: a tagged
    snapshot's texts are decoded lazily (see :meth:`Document.decode_deferred`), which on
    the event loop, at the first push, held it 294 ms for 5.5 million characters."""
    logged = LoggedDocument.restore(stored, track=track, key=key)
    logged.doc.decode_deferred()
    return logged


class Offloader:
    """A worker process for snapshots (started on first use) and threads for loads.

    Args:
        workers: worker processes building snapshots.
    """

    __slots__ = ("_decoder", "_pool", "_ready", "workers")

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        # One thread decodes loads, one after another: a decode holds the interpreter's lock
        # for much of its time, and several at once (the default executor ran up to six)
        # left the event loop a sixth of it. (Started on first use.)
        self._decoder: ThreadPoolExecutor | None = None

    @property
    def ready(self) -> bool:
        """Whether the worker process is up: a build has come back from it (the first one
        also waits for the process to start and import SyncKit, about a second)."""
        return self._ready

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def snapshot(
        self,
        base: bytes | None,
        batches: list[bytes],
        key: SnapshotKey | None,
        base_tag: bytes | None,
        then: Callable[[tuple[bytes, bytes | None] | Exception], None],
    ) -> None:
        """Build the snapshot of ``base`` (stored with ``base_tag``) with ``batches`` in the
        worker, and its tag under ``key``; ``then`` gets both (or the failure) on the running
        event loop. (The key crosses to the worker, a process of this server's own.)"""
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(
                self._executor(), build_snapshot, base, batches, key, base_tag
            )
        except RuntimeError as exc:  # the pool is shut down (the server is closing)
            then(StorageError(f"cannot build a snapshot: {exc}"))
            return

        def done(f: asyncio.Future[tuple[bytes, bytes | None]]) -> None:
            result = _outcome(f, "building a snapshot")  # type: ignore[arg-type]
            self._ready = self._ready or isinstance(result, tuple)
            if isinstance(result, tuple):
                snapshot, tag = result
                then((snapshot, tag))
            else:
                then(result if isinstance(result, Exception) else StorageError("no snapshot"))

        future.add_done_callback(done)

    def restore(
        self,
        stored: StoredDoc,
        track: bool,
        key: SnapshotKey | None,
        then: Callable[[LoggedDocument | Exception], None],
    ) -> None:
        """Rebuild the document ``stored`` holds in a thread (its snapshot's tag checked
        against ``key``); ``then`` gets it (or the DecodeError) on the running event loop."""
        if self._decoder is None:
            self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synckit-load")
        future = asyncio.get_running_loop().run_in_executor(
            self._decoder, _restore_decoded, stored, track, key
        )

        def done(f: asyncio.Future[LoggedDocument]) -> None:
            result = _outcome(f, "loading a document")  # type: ignore[arg-type]
            then(
                result
                if isinstance(result, LoggedDocument | Exception)
                else StorageError("no document")
            )

        future.add_done_callback(done)

    def close(self) -> None:
        """Stop the worker process (snapshots being built are dropped: the logs hold every
        batch still) and the load thread (loads not started are dropped)."""
        pool, self._pool = self._pool, None
        self._ready = False
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.shutdown(wait=False, cancel_futures=True)
