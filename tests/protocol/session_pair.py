"""A client and a server session wired back to back in memory (no network)."""

from __future__ import annotations

from synckit.protocol import ClientSession, Event, Hello, ServerSession, Session, Welcome


class SessionPair:
    """Moves frames between a :class:`ClientSession` and a :class:`ServerSession`."""

    def __init__(self, *, max_frame_bytes: int = 1 << 20) -> None:
        self.client: ClientSession = ClientSession(max_frame_bytes=max_frame_bytes)
        self.server: ServerSession = ServerSession(max_frame_bytes=max_frame_bytes)

    def peer(self, side: Session) -> Session:
        return self.server if side is self.client else self.client

    def send(self, side: Session, event: Event) -> list[Event]:
        """``side`` sends ``event``; return what the other side made of every queued frame."""
        side.send(event)
        return self.flush(side)

    def flush(self, side: Session) -> list[Event]:
        """Deliver ``side``'s queued frames to its peer; return the events it produced."""
        peer = self.peer(side)
        events: list[Event] = []
        for frame in side.data_to_send():
            events.extend(peer.receive(frame))
        return events

    def handshake(self, client_id: str = "alice") -> None:
        assert self.send(self.client, Hello(client_id)) == [Hello(client_id)]
        assert self.send(self.server, Welcome()) == [Welcome()]
