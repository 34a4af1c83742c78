"""A client session talking to one hub connection, frames moved by hand (for hub tests)."""

from __future__ import annotations

from collections.abc import Callable

from synckit.core import VersionVector
from synckit.protocol import ClientSession, Event, Hello, Push, Subscribe, Subscribed, Welcome
from synckit.server import Connection, Hub


class Peer:
    """A client session talking to one hub connection (frames moved synchronously)."""

    def __init__(
        self,
        hub: Hub,
        name: str = "peer",
        token: str = "",
        *,
        welcome: bool = True,
        wake: Callable[[], None] | None = None,
        capabilities: tuple[str, ...] = (),
    ) -> None:
        self.hub = hub
        self.session = ClientSession()
        self.conn: Connection = hub.connect(wake)
        self.batch = 0
        self.send(Hello(name, token, capabilities))
        if welcome:
            [answer] = self.received()
            assert isinstance(answer, Welcome), answer
            assert answer.max_frame_bytes == hub.limits.max_frame_bytes
            self.welcome = answer

    def send(self, event: Event) -> None:
        self.session.send(event)
        for frame in self.session.data_to_send():
            self.hub.receive(self.conn, frame)

    def received(self) -> list[Event]:
        events: list[Event] = []
        for frame in self.conn.take_frames():
            events.extend(self.session.receive(frame))
        return events

    def subscribe(self, doc_id: str, version: VersionVector | None = None) -> Subscribed:
        self.send(Subscribe(doc_id, (version or VersionVector()).encode()))
        [answer] = self.received()
        assert isinstance(answer, Subscribed)
        return answer

    def push(self, doc_id: str, changes: bytes) -> None:
        self.batch += 1
        self.send(Push(doc_id, self.batch, changes))
