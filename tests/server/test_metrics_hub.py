"""Metrics of a Hub without a network: real sessions, frames moved by hand, the exposition
parsed as Prometheus's text format."""

from __future__ import annotations

from peer import Peer
from prometheus_client.parser import text_string_to_metric_families

from synckit import Document
from synckit.protocol import Ack, Push, Subscribe
from synckit.server import Hub, Limits, MemoryStore, perform_io
from synckit.server._metrics import Metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise KeyError(name, labels)


class Writer:
    """One replica's edits, each as the changes it adds."""

    def __init__(self, actor: str) -> None:
        self.doc = Document(actor)

    def __call__(self, key: str) -> bytes:
        before = self.doc.version()
        self.doc.set(key, key * 10)
        return self.doc.changes(before)


def test_send_queue_depth_is_what_waits_unsent() -> None:
    metrics = Metrics()
    hub = metrics.hub = Hub(MemoryStore(), observer=metrics)
    a, b, c = Peer(hub, "a"), Peer(hub, "b"), Peer(hub, "c")
    changes = Writer("a")
    for peer in (a, b, c):
        peer.subscribe("d")
    assert sample(metrics, "synckit_send_queue_bytes") == 0
    a.push("d", changes("x"))
    a.push("d", changes("y"))
    a.received()
    # b and c read nothing yet: two broadcasts wait for each.
    waiting = b.conn.queued_bytes + c.conn.queued_bytes
    assert waiting > 0 and b.conn.queued_bytes == c.conn.queued_bytes
    assert sample(metrics, "synckit_send_queue_bytes") == waiting
    assert sample(metrics, "synckit_send_queue_frames") == 4
    assert sample(metrics, "synckit_send_queue_max_bytes") == b.conn.queued_bytes
    assert sample(metrics, "synckit_broadcast_frames_total") == 4
    # The bodies of those frames (each frame adds a few bytes of header of its own).
    assert 0 < waiting - sample(metrics, "synckit_broadcast_bytes_total") <= 4 * 16
    b.received()
    assert sample(metrics, "synckit_send_queue_bytes") == c.conn.queued_bytes
    assert sample(metrics, "synckit_connections", transport="websocket") == 3


def test_a_push_that_waits_for_its_document_is_counted_once() -> None:
    metrics = Metrics()
    hub = Hub(observer=metrics)  # storage driven by hand: the load is still running
    store = MemoryStore()
    peer = Peer(hub, "a")
    peer.send(Subscribe("d", b""))
    peer.send(Push("d", 1, Writer("a")("x")))
    assert sample(metrics, "synckit_pushes_total") == 1
    while (op := hub.next_io()) is not None:
        hub.io_done(op, perform_io(op, store))
    assert Ack in [type(e) for e in peer.received()]
    assert sample(metrics, "synckit_pushes_total") == 1  # replayed after the load, not recounted
    assert sample(metrics, "synckit_ack_seconds_count") == 1
    assert sample(metrics, "synckit_commit_seconds_count") == 0  # the I/O shell times commits


def test_a_slow_consumer_is_counted() -> None:
    metrics = Metrics()
    hub = Hub(MemoryStore(), limits=Limits(max_queue_frames=3), observer=metrics)
    a, b = Peer(hub, "a"), Peer(hub, "b")
    a.subscribe("d")
    b.subscribe("d")
    changes = Writer("a")
    for i in range(5):
        a.push("d", changes(f"k{i}"))
        a.received()
    assert sample(metrics, "synckit_errors_total", code="SLOW_CONSUMER") == 1
    assert sample(metrics, "synckit_errors_total", code="INTERNAL") == 0


def test_two_servers_metrics_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    assert first.registry is not second.registry
    hub = Hub(MemoryStore(), observer=first)
    peer = Peer(hub, "a")
    peer.subscribe("d")
    peer.push("d", Writer("a")("x"))
    assert sample(first, "synckit_pushes_total") == 1
    assert sample(second, "synckit_pushes_total") == 0


def test_compactions_and_lagging_views_are_counted() -> None:
    metrics = Metrics()
    store = MemoryStore()
    limits = Limits(compact_every=2, view_inline_bytes=500, view_bytes_per_second=100)
    hub = metrics.hub = Hub(None, limits=limits, observer=metrics)
    hub.views_wanted = True  # (as with a store that keeps views)

    def drain() -> None:
        while (op := hub.next_io()) is not None:
            hub.io_done(op, perform_io(op, store))

    peer = Peer(hub, "a")
    peer.send(Subscribe("d"))
    drain()
    writer = Writer("a")
    for key in ("a" * 60, "b" * 60, "c" * 60):  # 600-byte values: views paced from the first
        peer.push("d", writer(key))
        drain()
    assert sample(metrics, "synckit_compactions_total") == 1
    stored = store.load("d")
    assert stored is not None and stored.snapshot is not None
    assert sample(metrics, "synckit_snapshot_bytes_total") == len(stored.snapshot)
    assert sample(metrics, "synckit_views_behind") == 1  # the third's view lags
