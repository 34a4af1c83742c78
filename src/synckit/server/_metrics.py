"""Prometheus metrics of one server (``GET /metrics``, or a listener of their own).

Each :class:`~synckit.server.SyncServer` has its own :class:`Metrics` and its own
``prometheus_client.CollectorRegistry`` (never the process-wide default one), so several servers
in one process do not collide.

The hot paths (every push, ack, broadcast and error) only add to plain integers: the event loop
is the only writer, so no lock is needed, and that costs a fraction of a ``Counter.inc()``. A
scrape turns those numbers into metric families, and reads what is cheaper to read than to
track (connections, open documents, send queues) from the hub at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from bisect import bisect_left
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from synckit.errors import AuthError, AuthUnavailableError, SyncKitError, TokenExpiredError
from synckit.protocol import ErrorCode
from synckit.server._observer import HubObserver
from synckit.server._run import base_url, bind

if TYPE_CHECKING:
    from synckit.server._hub import Hub

__all__ = ["LATENCY_BUCKETS", "METRICS_PATH", "Metrics", "MetricsListener"]

METRICS_PATH = "/metrics"
#: Upper bounds (seconds) of the latency histograms' buckets.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Codes an error may be sent with (UNSPECIFIED never is).
_CODES = tuple(code for code in ErrorCode if code is not ErrorCode.UNSPECIFIED)
_AUTH_REASONS = ("refused", "expired", "unavailable")


class _Histogram:
    """Counts per bucket and a sum; observing is a bisect and two additions."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        buckets: list[tuple[str, float]] = []
        seen = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            seen += count
            buckets.append((repr(float(bound)), seen))
        buckets.append(("+Inf", seen + self.counts[-1]))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.total)


class Metrics(HubObserver):
    """The numbers behind ``/metrics``: the hub reports to it (it is the hub's observer), the
    storage task reports commit times, and :attr:`registry` serves them.

    Attach the hub with :attr:`hub` for the values read at scrape time.
    """

    __slots__ = (
        "_ack",
        "_auth",
        "_broadcast_bytes",
        "_broadcast_frames",
        "_commit",
        "_commit_batches",
        "_compactions",
        "_errors",
        "_presence_bytes",
        "_presence_frames",
        "_push_bytes",
        "_pushes",
        "_snapshot_bytes",
        "_snapshot_loads",
        "hub",
        "registry",
    )

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._pushes = 0
        self._push_bytes = 0
        self._broadcast_frames = 0
        self._broadcast_bytes = 0
        self._presence_frames = 0
        self._presence_bytes = 0
        self._commit_batches = 0
        self._commit = _Histogram(buckets)
        self._ack = _Histogram(buckets)
        # Indexed by the code's number: counting is one list index, no dict lookup.
        self._errors = [0] * (max(ErrorCode) + 1)
        self._auth = [0] * len(_AUTH_REASONS)
        # Snapshots loaded with every check, and by their verified tag.
        self._snapshot_loads = [0, 0]
        # Compactions written, and the bytes of their snapshots.
        self._compactions = 0
        self._snapshot_bytes = 0
        #: The hub whose connections, documents and queues a scrape reads (None: none yet).
        self.hub: Hub | None = None
        #: This server's registry (the process-wide default one is never used).
        self.registry = CollectorRegistry()
        self.registry.register(self)

    # -- what the hub and the storage task report (the event loop's thread only) ----------

    def pushed(self, nbytes: int) -> None:
        self._pushes += 1
        self._push_bytes += nbytes

    def acked(self, seconds: float) -> None:
        self._ack.observe(seconds)

    def broadcast(self, frames: int, nbytes: int) -> None:
        self._broadcast_frames += frames
        self._broadcast_bytes += nbytes

    def presence_sent(self, frames: int, nbytes: int) -> None:
        self._presence_frames += frames
        self._presence_bytes += nbytes

    def refused(self, code: ErrorCode) -> None:
        self._errors[code] += 1

    def auth_failed(self, error: AuthError) -> None:
        if isinstance(error, TokenExpiredError):
            self._auth[1] += 1
        elif isinstance(error, AuthUnavailableError):
            self._auth[2] += 1
        else:
            self._auth[0] += 1

    def snapshot_loaded(self, tagged: bool) -> None:
        self._snapshot_loads[tagged] += 1

    def compacted(self, nbytes: int) -> None:
        self._compactions += 1
        self._snapshot_bytes += nbytes

    def committed(self, seconds: float, batches: int) -> None:
        """Storage committed ``batches`` pushed batches in one transaction in ``seconds``."""
        self._commit.observe(seconds)
        self._commit_batches += batches

    # -- a scrape ---------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)

    def describe(self) -> Iterable[Metric]:
        """The families :meth:`collect` yields (the registry checks their names)."""
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        """Every metric family, as of now (called by the registry on each scrape)."""
        websockets = requests = queued_bytes = queued_frames = largest = 0
        docs = views_behind = 0
        hub = self.hub
        if hub is not None:
            docs = len(hub.open_doc_ids)
            views_behind = hub.views_behind
            for conn in hub.connections:
                if conn.http:
                    requests += 1
                else:
                    websockets += 1
                size = conn.queued_bytes
                queued_bytes += size
                queued_frames += len(conn.outbox)
                largest = max(largest, size)
        connections = GaugeMetricFamily(
            "synckit_connections",
            "Open connections: WebSockets, and HTTP requests being answered.",
            labels=["transport"],
        )
        connections.add_metric(["websocket"], websockets)
        connections.add_metric(["http"], requests)
        yield connections
        yield GaugeMetricFamily(
            "synckit_open_documents",
            "Documents held in memory (subscribed to, or lingering after their last "
            "subscriber left).",
            value=docs,
        )
        try:  # a scrape runs in the event loop; registering the collector may not
            tasks = len(asyncio.all_tasks())
        except RuntimeError:
            tasks = 0
        yield GaugeMetricFamily(
            "synckit_asyncio_tasks",
            "asyncio tasks not yet done in the server's event loop (a steady rise under steady "
            "load is a leak).",
            value=tasks,
        )
        yield CounterMetricFamily(
            "synckit_pushes", "Pushes received (WebSocket and HTTP).", value=self._pushes
        )
        loads = CounterMetricFamily(
            "synckit_snapshot_loads",
            "Documents rebuilt from a stored snapshot: checks=tagged, its tag verified under "
            "the server's snapshot key (fewer checks); checks=full, every check ran.",
            labels=["checks"],
        )
        loads.add_metric(["full"], self._snapshot_loads[0])
        loads.add_metric(["tagged"], self._snapshot_loads[1])
        yield loads
        yield CounterMetricFamily(
            "synckit_compactions",
            "Logs of documents replaced by a snapshot in storage.",
            value=self._compactions,
        )
        yield CounterMetricFamily(
            "synckit_snapshot_bytes",
            "Bytes of the snapshots those compactions wrote.",
            value=self._snapshot_bytes,
        )
        yield GaugeMetricFamily(
            "synckit_views_behind",
            "Documents whose stored JSON view (PostgreSQL's views table) lags behind their "
            "commits: large documents, whose views are written at a pace (view_inline_bytes).",
            value=views_behind,
        )
        yield CounterMetricFamily(
            "synckit_push_bytes",
            "Bytes of changes in the pushes received.",
            value=self._push_bytes,
        )
        yield CounterMetricFamily(
            "synckit_broadcast_frames",
            "Broadcast frames queued for subscribers (one per subscriber per change).",
            value=self._broadcast_frames,
        )
        yield CounterMetricFamily(
            "synckit_broadcast_bytes",
            "Bytes of the broadcast frames queued for subscribers (their bodies: each frame adds "
            "a few bytes of header).",
            value=self._broadcast_bytes,
        )
        yield CounterMetricFamily(
            "synckit_presence_frames",
            "Presence frames queued for clients (at most one per member of a changed room per "
            "tick, plus one per join).",
            value=self._presence_frames,
        )
        yield CounterMetricFamily(
            "synckit_presence_bytes",
            "Bytes of the presence frames counted by synckit_presence_frames (their bodies).",
            value=self._presence_bytes,
        )
        yield CounterMetricFamily(
            "synckit_committed_batches",
            "Pushed batches committed to storage (several per commit under load).",
            value=self._commit_batches,
        )
        yield self._commit.family(
            "synckit_commit_seconds",
            "Time storage took to commit one group of pushed batches (one transaction).",
        )
        yield self._ack.family(
            "synckit_ack_seconds",
            "Time from the server taking a push to its Ack being queued (commit included).",
        )
        yield GaugeMetricFamily(
            "synckit_send_queue_bytes",
            "Bytes queued for clients and not yet written, all connections together.",
            value=queued_bytes,
        )
        yield GaugeMetricFamily(
            "synckit_send_queue_frames",
            "Frames queued for clients and not yet written, all connections together.",
            value=queued_frames,
        )
        yield GaugeMetricFamily(
            "synckit_send_queue_max_bytes",
            "Bytes queued for the connection with the longest send queue.",
            value=largest,
        )
        auth = CounterMetricFamily(
            "synckit_auth_failures",
            "Tokens refused, by reason: refused (invalid), expired, unavailable (keys could "
            "not be fetched).",
            labels=["reason"],
        )
        for reason, count in zip(_AUTH_REASONS, self._auth, strict=True):
            auth.add_metric([reason], count)
        yield auth
        errors = CounterMetricFamily(
            "synckit_errors", "Errors sent to clients, by error code.", labels=["code"]
        )
        counts = self._errors
        for code in _CODES:
            errors.add_metric([code.name], counts[code])
        yield errors


def metrics_response(metrics: Metrics) -> Response:
    """A ``/metrics`` answer."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the main server's handle the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class MetricsListener:
    """``GET /metrics`` without authentication on an address of its own, served in the same
    event loop as the sync server. Bind it to a private interface: anyone who reaches it
    reads the metrics."""

    def __init__(self, metrics: Metrics, address: tuple[str, int] | socket.socket) -> None:
        self._metrics = metrics
        self._address = address
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        #: ``http://host:port`` once started.
        self.url: str | None = None

    async def _endpoint(self, request: Request) -> Response:
        return metrics_response(self._metrics)

    async def start(self) -> str:
        """Listen; return the base URL.

        Raises:
            OSError: the address cannot be bound.
            SyncKitError: the listener did not start.
        """
        address = self._address
        sock = address if isinstance(address, socket.socket) else bind(*address)
        self._sock = sock
        app = Starlette(routes=[Route(METRICS_PATH, self._endpoint, methods=["GET"])])
        # No log_config and no log_level: the main server's uvicorn settings stay in charge.
        config = uvicorn.Config(app, lifespan="off", log_config=None, log_level=None)
        server = self._server = _Server(config)
        task = self._task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name="synckit-metrics"
        )
        while not server.started:
            if task.done():
                await self.aclose()
                raise SyncKitError(f"the metrics listener did not start on {base_url(sock)}")
            await asyncio.sleep(0.005)
        self.url = base_url(sock)
        return self.url

    async def aclose(self) -> None:
        """Stop listening. Idempotent."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        if server is not None:
            server.should_exit = True
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        if sock is not None:
            sock.close()
