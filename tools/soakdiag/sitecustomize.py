"""A diagnostic thread for the soak's server: where its memory goes, once per interval.

Put this folder first on ``PYTHONPATH`` and name an output file; ``synckit serve`` processes
started with both (the soak passes its environment on) append one JSON line per interval to
``$SOAK_DIAG_OUT.<pid>``::

    SOAK_DIAG_OUT=/tmp/diag SOAK_DIAG_EVERY=20 PYTHONPATH=tools/soakdiag:src \\
        python tools/soak.py --minutes 4 --report-every 20 --seed 7

Each line: minutes since start, RSS and anonymous memory (``/proc/self/smaps_rollup``), glibc's
bytes in use and free (``mallinfo2``), Python's allocated blocks, objects the collector
tracks, and over the open rooms: documents, the bytes storage holds for them, and their
dependency checkpoints (count and entries). ``SOAK_DIAG_TRIM=1`` also calls
``malloc_trim(0)`` each time and records RSS before and after. It reads private attributes
of the server and the core: a measuring tool for investigations, not an interface. Linux and
glibc only; it does nothing in any other process.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _rollup() -> dict[str, int]:
    """smaps_rollup's figures, in MiB."""
    out: dict[str, int] = {}
    with open("/proc/self/smaps_rollup") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) >> 10
    return out


def _rooms() -> dict[str, int]:
    """Open rooms, the bytes storage holds for them, and their dependency checkpoints."""
    from synckit.server._rooms import Room

    totals = {"rooms": 0, "stored_kib": 0, "checkpoints": 0, "checkpoint_entries": 0}
    for obj in gc.get_objects():
        if not isinstance(obj, Room):
            continue
        totals["rooms"] += 1
        logged = obj.logged
        if logged is None:
            continue
        totals["stored_kib"] += logged.size >> 10
        per_client = getattr(logged.doc, "_checkpoints", None)
        if isinstance(per_client, list):  # a document kept as its snapshot has none decoded
            for cps in per_client:
                totals["checkpoints"] += len(cps)
                totals["checkpoint_entries"] += sum(len(deps) for _, deps in cps)
    return totals


def _watch(out: str, every: float, trim: bool) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    started = time.monotonic()
    while True:
        time.sleep(every)
        record: dict[str, object] = {"t": round((time.monotonic() - started) / 60, 2)}
        try:
            roll = _rollup()
            record["rss_mib"], record["anon_mib"] = roll["Rss"], roll["Anonymous"]
            info = libc.mallinfo2()
            record["malloc_in_use_mib"] = info.uordblks >> 20
            record["malloc_free_mib"] = info.fordblks >> 20
            record["python_blocks"] = sys.getallocatedblocks()
            record["gc_objects"] = len(gc.get_objects())
            record.update(_rooms())
            if trim:
                libc.malloc_trim(0)
                record["rss_after_trim_mib"] = _rollup()["Rss"]
        except Exception as exc:  # a measuring thread: say what failed, carry on
            record["error"] = repr(exc)
        with open(out, "a") as sink:
            sink.write(json.dumps(record) + "\n")


def _start() -> None:
    out = os.environ.get("SOAK_DIAG_OUT")
    if not out or "serve" not in sys.argv[1:] or not sys.platform.startswith("linux"):
        return
    every = float(os.environ.get("SOAK_DIAG_EVERY", "60"))
    trim = os.environ.get("SOAK_DIAG_TRIM") == "1"
    thread = threading.Thread(
        target=_watch, args=(f"{out}.{os.getpid()}", every, trim), name="soak-diag", daemon=True
    )
    thread.start()


_start()
