"""Tools for testing and measuring a running SyncKit server from the outside.

The SDK client (:func:`synckit.client.connect`) hides the protocol: it resends, batches and
recovers, as an application wants. A test of the server often needs the opposite, frames by
hand and nothing done behind its back: a client that never reads, one that sends what an
honest client never would, thousands of idle connections. :class:`RawConnection` is that: one
WebSocket driving a :class:`~synckit.protocol.ClientSession` (so every frame is still encoded
and checked by the real protocol code), with no storage, no retries and no tasks of its own.

The project's own end-to-end tests, benchmarks and soak use these, and so can an
application's tests of its deployment::

    raw = await RawConnection.open("http://127.0.0.1:8080", "probe", token=jwt)
    await raw.subscribe("doc-1")
    await raw.send(Push("doc-1", 1, changes))
    ack = await raw.recv()
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from synckit.client import sync_url
from synckit.core import VersionVector
from synckit.errors import ProtocolError
from synckit.protocol import ClientSession, Event, Hello, Subscribe, Subscribed, Welcome

__all__ = ["RawConnection", "never_reading_socket", "percentile", "rss_mib"]


class RawConnection:
    """A bare WebSocket speaking the protocol through a :class:`ClientSession`.

    Events received are queued in order; :meth:`recv` returns the oldest. Nothing is sent
    unless asked for (no pings either, so a test decides when the connection looks idle).
    """

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        #: The client id sent in Hello.
        self.name = name
        self.session = ClientSession()
        self._events: list[Event] = []

    @classmethod
    async def open(
        cls, url: str, name: str, *, token: str = "", sock: socket.socket | None = None
    ) -> RawConnection:
        """Connect to the server at ``url`` (``http://host:port``) and say Hello as client
        ``name``; ``sock``: an already connected socket to use (see
        :func:`never_reading_socket`).

        Raises:
            ProtocolError: the server answered Hello with something other than Welcome
                (the connection is closed). Failing or cancelled before the answer, the
                socket is aborted, never left open.
        """
        ws = await ws_connect(
            sync_url(url), compression=None, max_size=None, sock=sock, ping_interval=None
        )
        raw = cls(ws, name)
        try:
            await raw.send(Hello(name, token))
            welcome = await raw.recv()
        except BaseException:  # failed or cancelled half-way: the socket is not left open
            ws.transport.abort()
            raise
        if not isinstance(welcome, Welcome):
            await ws.close()
            raise ProtocolError(f"{name}: the server answered Hello with {welcome!r}")
        return raw

    async def send(self, event: Event) -> None:
        """Encode ``event`` with the session and send its frames."""
        self.session.send(event)
        for frame in self.session.data_to_send():
            await self.ws.send(frame)

    async def recv(self, timeout: float = 30) -> Event:
        """The oldest event received and not yet returned, waiting at most ``timeout``
        seconds for one (:class:`TimeoutError` after that)."""
        while not self._events:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if isinstance(frame, bytes):
                self._events.extend(self.session.receive(frame))
        return self._events.pop(0)

    async def subscribe(self, doc_id: str, version: VersionVector | None = None) -> Subscribed:
        """Subscribe to ``doc_id`` holding ``version`` (nothing by default) and return the
        server's answer.

        Raises:
            ProtocolError: the answer was not Subscribed.
        """
        await self.send(Subscribe(doc_id, (version or VersionVector()).encode()))
        answer = await self.recv()
        if not isinstance(answer, Subscribed):
            raise ProtocolError(f"{self.name}: Subscribe {doc_id!r} was answered {answer!r}")
        return answer

    async def close(self) -> None:
        await self.ws.close()


def never_reading_socket(host: str, port: int) -> socket.socket:
    """A socket connected to ``host:port`` with a 4 KiB receive buffer (set before connecting,
    so the kernel does not grow it): once its owner stops reading, the server's writes to it
    back up at once. Give it to :meth:`RawConnection.open` as ``sock``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.setblocking(False)
    return sock


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux ``/proc``); 0.0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(samples: list[float], fraction: float = 0.99) -> float:
    """The sample at ``fraction`` of the sorted ``samples`` (nearest rank below; 0.0 for no
    samples): ``percentile(latencies)`` is their p99."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
