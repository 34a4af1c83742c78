"""Presence on the server, without I/O: who is in each document, coalesced per room per tick.

Theory of operation
-------------------
A connection subscribed to a document sets its presence there with ``PresenceSet`` (a JSON
object, at most :attr:`Limits.max_presence_bytes`). The table keeps one entry per connection and
document, under a key the server makes (``"<server>:<connection>"``) and with the principal and
client id the connection authenticated with: nothing a client says can name another one.

Setting a state only overwrites the connection's entry and marks it changed; nothing is sent
then. Every :attr:`Limits.presence_tick` seconds :meth:`PresenceTable.flush` sends each other
member of a room that changed exactly one ``Presence`` frame holding every entry changed since
the last flush, never the receiver's own. A client that sets its state a thousand times in a
tick costs one entry in one frame per member: a room of N clients costs N frames per tick,
never N² (each entry is encoded once; a receiver's frame is a join of the encoded entries).

A state sent again unchanged only renews the entry; one not renewed within
:attr:`Limits.presence_timeout` seconds is removed (:meth:`PresenceTable.tick`), and so is the
entry of a connection that leaves the document (unsubscribe, disconnect, access changed). A
removal is passed on like a change. A connection that joins a room gets every entry there once,
right after its ``Subscribed``.

Across servers, each table publishes its own changes (:attr:`PresenceTable.on_relay`, once per
flush) and merges the others' (:meth:`PresenceTable.merge_relay`). Every third of the timeout
it publishes all its entries (a *full* relay, which also says it is alive): a server that hears
nothing from another for the timeout drops that server's entries, and a message lost on the way
is mended by the next full relay. Nothing is ever stored.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from synckit.protocol import (
    Error,
    ErrorCode,
    Presence,
    PresenceEntry,
    encode_presence_body,
    encode_presence_entry,
)
from synckit.server._connection import Connection
from synckit.server._limits import Limits
from synckit.server._log import log_event
from synckit.server._observer import NO_OBSERVER, HubObserver

__all__ = ["PresenceTable"]


@dataclass(slots=True)
class _Entry:
    key: str
    principal: str
    client_id: str
    state: bytes
    #: The server that holds the connection (this table's id for a local entry).
    origin: str
    #: When it expires unless renewed (monotonic seconds; local entries only).
    expires_at: float = 0.0
    #: ``encode_presence_entry`` of it, made once.
    encoded: bytes = b""


@dataclass(slots=True)
class _Room:
    entries: dict[str, _Entry] = field(default_factory=dict)
    #: Key -> encoded entry (or removal) changed since the last flush, in order of change.
    dirty: dict[str, bytes] = field(default_factory=dict)
    #: Local connections that receive the room's presence (their Subscribed was sent).
    members: dict[int, Connection] = field(default_factory=dict)


class PresenceTable:
    """The presence of one server's rooms (see the module's theory of operation).

    Args:
        limits: ``max_presence_bytes``, ``max_presence_docs`` and ``presence_timeout``.
        wake: called when a flush is due (a room changed, or a relay waits): the caller runs
            :meth:`flush` ``limits.presence_tick`` seconds later.
        server_id: this server's part of every key (random when None).
        observer: told how many presence frames and bytes were queued.
    """

    __slots__ = (
        "_by_conn",
        "_due",
        "_heard",
        "_limits",
        "_next_full",
        "_observer",
        "_outgoing",
        "_rooms",
        "_wake",
        "on_relay",
        "server_id",
    )

    def __init__(
        self,
        limits: Limits,
        *,
        wake: Callable[[], None] | None = None,
        server_id: str | None = None,
        observer: HubObserver | None = None,
    ) -> None:
        self._limits = limits
        self._wake = wake
        self._observer = NO_OBSERVER if observer is None else observer
        #: Names this server in keys and relays.
        self.server_id = server_id or secrets.token_hex(4)
        #: Called with each relay for the other servers (None: there are none).
        self.on_relay: Callable[[bytes], None] | None = None
        self._rooms: dict[str, _Room] = {}
        # Connection id -> documents in which it has an entry.
        self._by_conn: dict[int, set[str]] = {}
        # Local changes not relayed yet: doc -> key -> entry (None: removed).
        self._outgoing: dict[str, dict[str, _Entry | None]] = {}
        # Other server -> when it was last heard (monotonic seconds).
        self._heard: dict[str, float] = {}
        self._next_full = 0.0
        self._due = False

    # -- what clients do ------------------------------------------------------------------

    def key_of(self, conn: Connection) -> str:
        """The key of ``conn``'s entries."""
        return f"{self.server_id}:{conn.id}"

    def set_state(self, conn: Connection, doc_id: str, state: bytes, now: float) -> Error | None:
        """``conn`` set its presence in ``doc_id`` (``b""``: cleared it) at monotonic time
        ``now``; the caller checked that it is subscribed. Returns the error to send when the
        state is refused (the entry stays as it was)."""
        if not state:
            self._remove(doc_id, self.key_of(conn))
            return None
        limits = self._limits
        key = self.key_of(conn)
        room = self._rooms.get(doc_id)
        entry = None if room is None else room.entries.get(key)
        if entry is not None and entry.state == state:
            entry.expires_at = now + limits.presence_timeout  # a renewal: nothing to pass on
            return None
        if len(state) > limits.max_presence_bytes:
            return Error(
                ErrorCode.PRESENCE_TOO_LARGE,
                f"presence state of {len(state)} bytes exceeds the limit of "
                f"{limits.max_presence_bytes} (max_presence_bytes)",
                doc_id=doc_id,
            )
        try:
            value = json.loads(state.decode("utf-8"))  # UTF-8 only (json.loads takes UTF-16 too)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
            value = None
        if not isinstance(value, dict):
            return Error(
                ErrorCode.BAD_PRESENCE,
                "a presence state is a JSON object as UTF-8 bytes",
                doc_id=doc_id,
            )
        docs = self._by_conn.setdefault(conn.id, set())
        if entry is None and doc_id not in docs and len(docs) >= limits.max_presence_docs:
            return Error(
                ErrorCode.PRESENCE_TOO_LARGE,
                f"this connection has presence in {len(docs)} documents already "
                "(max_presence_docs); clear one first",
                doc_id=doc_id,
            )
        principal = conn.principal.id if conn.principal is not None else ""
        entry = _Entry(key, principal, conn.session.client_id, state, self.server_id)
        entry.expires_at = now + limits.presence_timeout
        docs.add(doc_id)
        self._put(doc_id, entry)
        self._outgoing.setdefault(doc_id, {})[key] = entry
        return None

    def joined(self, conn: Connection, doc_id: str) -> None:
        """``conn``'s ``Subscribed`` for ``doc_id`` was sent: from now on it receives the room's
        presence, starting with every entry there is."""
        if not conn.session.presence:
            return
        room = self._rooms.setdefault(doc_id, _Room())
        room.members[conn.id] = conn
        own = self.key_of(conn)
        parts = [e.encoded for k, e in room.entries.items() if k != own]
        if parts:
            self._send(conn, doc_id, encode_presence_body(doc_id, parts))

    def left(self, conn: Connection, doc_id: str) -> None:
        """``conn`` no longer follows ``doc_id`` (unsubscribed, gone, or its access changed):
        its entry there is removed."""
        room = self._rooms.get(doc_id)
        if room is not None:
            room.members.pop(conn.id, None)
        self._remove(doc_id, self.key_of(conn))

    def dropped(self, conn: Connection) -> None:
        """``conn`` is gone: every entry of it is removed."""
        for doc_id in list(self._by_conn.get(conn.id, ())):
            self.left(conn, doc_id)

    # -- the clock ------------------------------------------------------------------------

    def flush(self) -> None:
        """Send each member of every changed room one frame with the entries changed since the
        last flush (not its own); relay this server's changes. Call ``presence_tick`` seconds
        after ``wake``."""
        self._due = False
        frames = nbytes = 0
        for doc_id, room in list(self._rooms.items()):
            if not room.dirty:
                continue
            dirty, room.dirty = room.dirty, {}
            shared = encode_presence_body(doc_id, list(dirty.values()))
            event = Presence(doc_id)  # for the sessions' checks, once per room; bodies carry all
            for conn_id, conn in list(room.members.items()):
                if conn.closed:
                    del room.members[conn_id]
                    continue
                if not conn.session.may_broadcast(doc_id):
                    continue
                own = self.key_of(conn)
                body = shared
                if own in dirty:
                    if len(dirty) == 1:
                        continue  # never the receiver's own state back
                    body = encode_presence_body(
                        doc_id, [part for k, part in dirty.items() if k != own]
                    )
                conn.send(event, body)
                frames += 1
                nbytes += len(body)
            self._drop_if_empty(doc_id, room)
        if frames:
            self._observer.presence_sent(frames, nbytes)
        if self._outgoing and self.on_relay is not None:
            self.on_relay(self._relay(self._outgoing, full=False))
        self._outgoing = {}

    def tick(self, now: float) -> None:
        """Remove local entries not renewed in time and the entries of servers not heard from
        in time; with other servers, relay every entry every third of the timeout. Call about
        once a second (``now``: monotonic seconds)."""
        for doc_id, room in list(self._rooms.items()):
            for key, entry in list(room.entries.items()):
                if entry.origin == self.server_id and entry.expires_at < now:
                    self._remove(doc_id, key)
        timeout = self._limits.presence_timeout
        for origin, heard in list(self._heard.items()):
            if heard + timeout < now:
                del self._heard[origin]
                self._forget(origin, keep=set())
        if self.on_relay is not None and now >= self._next_full:
            self._next_full = now + timeout / 3
            self.on_relay(self.full_relay())

    # -- other servers ----------------------------------------------------------------------

    def full_relay(self) -> bytes:
        """Every local entry, as a relay that replaces what the others hold of this server."""
        mine: dict[str, dict[str, _Entry | None]] = {}
        for doc_id, room in self._rooms.items():
            for key, entry in room.entries.items():
                if entry.origin == self.server_id:
                    mine.setdefault(doc_id, {})[key] = entry
        return self._relay(mine, full=True)

    def _relay(self, rooms: dict[str, dict[str, _Entry | None]], *, full: bool) -> bytes:
        body = {
            "o": self.server_id,
            "full": full,
            "rooms": {
                doc_id: [
                    [key, None]
                    if e is None
                    else [key, e.principal, e.client_id, e.state.decode("utf-8", "replace")]
                    for key, e in entries.items()
                ]
                for doc_id, entries in rooms.items()
            },
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def merge_relay(self, payload: bytes, now: float) -> None:
        """Take another server's relay (from :attr:`on_relay` there) at monotonic ``now``."""
        try:
            body = json.loads(payload)
            origin = body["o"]
            full = bool(body.get("full"))
            rooms = body["rooms"]
        except (ValueError, KeyError, TypeError, RecursionError):
            origin = rooms = None
        if not isinstance(origin, str) or not isinstance(rooms, dict):
            log_event(logging.WARNING, "presence_bad_relay")
            return
        if origin == self.server_id:
            return
        self._heard[origin] = now
        kept: set[tuple[str, str]] = set()
        for doc_id, items in rooms.items():
            if not isinstance(items, list):
                continue
            for item in items:
                try:
                    if len(item) == 2 and item[1] is None:
                        key, state = str(item[0]), None
                    else:
                        key, principal, client_id, state = (str(x) for x in item)
                except (TypeError, ValueError):
                    continue
                room = self._rooms.get(doc_id)
                held = None if room is None else room.entries.get(key)
                if held is not None and held.origin != origin:
                    continue  # a server speaks only for its own connections
                if state is None:
                    self._remove(doc_id, key)
                    continue
                kept.add((doc_id, key))
                if held is not None and held.state == state.encode():
                    continue
                self._put(doc_id, _Entry(key, principal, client_id, state.encode(), origin))
        if full:
            self._forget(origin, keep=kept)

    def _forget(self, origin: str, *, keep: set[tuple[str, str]]) -> None:
        """Remove the entries of server ``origin`` but those in ``keep``."""
        for doc_id, room in list(self._rooms.items()):
            for key, entry in list(room.entries.items()):
                if entry.origin == origin and (doc_id, key) not in keep:
                    self._remove(doc_id, key)

    # -- inspection -------------------------------------------------------------------------

    def entries(self, doc_id: str) -> dict[str, PresenceEntry]:
        """The entries of ``doc_id`` now (key -> entry), local and remote."""
        room = self._rooms.get(doc_id)
        if room is None:
            return {}
        return {
            k: PresenceEntry(e.key, e.principal, e.client_id, e.state)
            for k, e in room.entries.items()
        }

    @property
    def room_count(self) -> int:
        """Rooms held (with members or entries)."""
        return len(self._rooms)

    # -- internals --------------------------------------------------------------------------

    def _put(self, doc_id: str, entry: _Entry) -> None:
        entry.encoded = encode_presence_entry(
            PresenceEntry(entry.key, entry.principal, entry.client_id, entry.state)
        )
        room = self._rooms.setdefault(doc_id, _Room())
        room.entries[entry.key] = entry
        self._mark(room, entry.key, entry.encoded)

    def _remove(self, doc_id: str, key: str) -> None:
        room = self._rooms.get(doc_id)
        if room is None:
            return
        entry = room.entries.pop(key, None)
        if entry is not None:
            if entry.origin == self.server_id:
                self._outgoing.setdefault(doc_id, {})[key] = None
                conn_id = int(key.rpartition(":")[2])
                docs = self._by_conn.get(conn_id)
                if docs is not None:
                    docs.discard(doc_id)
                    if not docs:
                        del self._by_conn[conn_id]
            self._mark(room, key, encode_presence_entry(PresenceEntry(key, removed=True)))
        self._drop_if_empty(doc_id, room)

    def _mark(self, room: _Room, key: str, encoded: bytes) -> None:
        room.dirty.pop(key, None)  # keep the order of changes
        room.dirty[key] = encoded
        if not self._due:
            self._due = True
            if self._wake is not None:
                self._wake()

    def _drop_if_empty(self, doc_id: str, room: _Room) -> None:
        if not room.entries and not room.members and not room.dirty:
            self._rooms.pop(doc_id, None)

    def _send(self, conn: Connection, doc_id: str, body: bytes) -> None:
        conn.send(Presence(doc_id), body)  # the event is for the session's checks; body is all
