"""The server's limits: how much any one client may make the server hold or send."""

from __future__ import annotations

from dataclasses import dataclass

from synckit.errors import InvalidValueError
from synckit.protocol import DEFAULT_MAX_FRAME_BYTES

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Server limits; each one refused with an error that names it."""

    #: Largest frame accepted from a client (FRAME_TOO_LARGE, connection closed).
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    #: Largest stored size of one document (DOC_TOO_LARGE, that push refused).
    max_doc_bytes: int = 64 * 1024 * 1024
    #: Frames and bytes queued for one connection before it counts as too slow
    #: (SLOW_CONSUMER, connection closed; the client catches up when it reconnects). One
    #: frame alone is always allowed whatever its size (a large document's first sync), so
    #: a reader that stops reading costs at most this much plus its largest frame.
    max_queue_frames: int = 1024
    max_queue_bytes: int = 1024 * 1024
    #: Seconds a document stays open after its last subscriber left (0: it closes at once,
    #: snapshotted if its log holds anything). A client polling over HTTP, or resubscribing,
    #: then finds it open instead of making the server read and snapshot it every time.
    room_linger: float = 30.0
    #: Requests held for one document while it loads from storage, beyond which they are
    #: refused (INTERNAL, retryable).
    max_load_waiters: int = 4096
    #: Seconds a WebSocket may take from connecting to an accepted Hello
    #: (HANDSHAKE_TIMEOUT, connection closed).
    handshake_timeout: float = 5.0
    #: Largest HTTP request head (request line and headers, the WebSocket upgrade request's
    #: too): a larger one gets ``431 Request Header Fields Too Large`` and the connection is
    #: closed. Neither httptools nor uvicorn bounds it: a request with a 10 MB header was
    #: read whole, for anyone, and its headers kept while it was served.
    max_head_bytes: int = 64 * 1024
    #: Bytes a second an HTTP request body must arrive at, on average, counted from
    #: ``handshake_timeout`` seconds after its head (``408 Request Timeout``, connection
    #: closed, if slower). Nothing bounded a body's time: a POST announcing 1,000 bytes and
    #: sending two was held for good, for anyone. Time the server itself holds the body
    #: back is not counted against the sender.
    min_body_rate: int = 1024
    #: Longest token, in characters, that a Hello or an ``Authorization`` header may carry
    #: (AUTH_FAILED, as for any refused token) when the server checks tokens: a longer
    #: one is refused before the ``authenticate`` hook sees it. PyJWT reads a token
    #: character by character in Python before it checks the signature, so a made-up token
    #: of 8 MB held the event loop 0.5 s for everyone, sent by someone with no token at all.
    #: A JWT is usually well under 4 KiB; raise this for tokens carrying very many grants.
    max_token_length: int = 16 * 1024
    #: Documents one connection may be subscribed to at once (TOO_MANY, that subscribe
    #: refused; unsubscribe from another first).
    max_subscriptions: int = 1000
    #: Documents one principal may be subscribed to at once over all its WebSocket
    #: connections to this server (TOO_MANY, that subscribe refused; unsubscribe from
    #: another first). Each subscription holds a room open (about 2 KiB for an empty
    #: document, more for a loaded one) and costs a load from storage: without this, one
    #: principal could hold max_subscriptions x max_connections_per_principal (100,000).
    #: The anonymous principal of an open server is not limited.
    max_subscriptions_per_principal: int = 10_000
    #: Open WebSocket connections of one principal on this server (TOO_MANY at the Hello,
    #: retryable once another of its connections closed). The anonymous principal of an
    #: open server is not limited.
    max_connections_per_principal: int = 100
    #: Client ids one principal may register (each new id is a stored row; TOO_MANY at the
    #: Hello of one more). A client store makes one id, so this is about how many stores
    #: (devices, browsers, reinstalls) one principal may ever use.
    max_client_ids_per_principal: int = 10_000
    #: Push bytes one principal may send per second, on average over all its connections and
    #: transports, and the burst it may send at once (RATE_LIMITED, that push refused, with
    #: the milliseconds after which it would be accepted). A burst larger than one push's
    #: largest frame keeps every single push possible.
    push_bytes_per_second: int = 1024 * 1024
    push_burst_bytes: int = 16 * 1024 * 1024
    #: Event-loop time one principal's requests may take: merging its pushes and computing
    #: what its subscriptions catch up on. A share of each second on average, over all its
    #: connections and transports, and the seconds it may take at once (RATE_LIMITED for its
    #: next push or subscribe, with the milliseconds until the time is repaid). Bytes alone
    #: do not bound this time: a megabyte pasted as one insert merges in about a millisecond,
    #: a megabyte of single characters inserted at scattered places in about a second, and a
    #: subscribe of a few bytes can ask for half of a large document's history; meanwhile
    #: every other client of the process waits. A request is refused only while the principal is
    #: over budget, so a single one is always possible.
    loop_share: float = 0.25
    loop_burst: float = 2.0
    #: Event-loop time one principal's WebSocket connections may take with everything they
    #: send, frame by frame (parsing, answering, merging: a flood of Pings or of any other
    #: cheap frame costs the loop as much as pushes do). A share of each second and the
    #: seconds it may take at once; past them the server stops reading from that principal's
    #: connections until the time is repaid (nothing is refused: TCP holds the rest). The
    #: anonymous connections of an open server are counted one by one. Whatever the budget,
    #: a connection's frames are handled in slices of a few milliseconds, each at its turn
    #: of the loop beside everyone else's.
    read_share: float = 0.25
    read_burst: float = 0.5
    #: Operations one push (or HTTP sync) may hold (TOO_MANY, that push refused, nothing
    #: stored). Told to clients in the Welcome; the SDK clients send a larger backlog in parts
    #: of at most this many. Merging costs the event loop time per operation, which bytes
    #: do not bound: a character inserted at a scattered place takes about 10 µs, so a
    #: full-sized frame of them would hold every other client of the process for seconds;
    #: this bounds what one push can (0.2-0.4 s at the default on 2 shared cores), where
    #: ``loop_share`` bounds how often.
    max_push_ops: int = 16_384
    #: Work one push's merge may do beyond its fixed cost per operation, in steps (about
    #: 0.5 µs each; see :mod:`synckit.core._work`): a YATA scan's step per character that
    #: was inserted into the same gap, 16 per item a delete reaches beyond its first. Hostile
    #: bytes make that work quadratic (16,000 inserts naming the same two origins, 128 KB,
    #: merged in 53 s), which ``max_push_ops`` does not bound; honest pushes come nowhere
    #: near. Past it the merge stops (TOO_MANY, nothing stored), and as it may have stopped
    #: part way, the document is loaded again from storage: its subscribers are
    #: disconnected (INTERNAL, retryable) and resync, and the principal owes its whole
    #: ``loop_burst`` besides the time taken.
    max_merge_work: int = 250_000
    #: Changes that may wait in one document for operations the server does not hold (their
    #: dependencies: with several servers, a client may push to one what depends on changes
    #: that reached it through another, until they arrive here too). A push whose changes
    #: would add to more is refused (TOO_MANY, retryable after a second, nothing stored).
    #: A merge that may give them what they wait for looks at all of them again, and they
    #: are stored, so hostile changes waiting on an honest writer's next seqs would make its
    #: every push dear for good. (Before merges looked at them only then, 10,000 waiting
    #: changes, 379 KB, made every honest push take 8.9 ms instead of 40 µs.)
    max_waiting_changes: int = 64
    #: Client ids one push may add to a document besides its writer's own (TOO_MANY,
    #: retryable after a second, nothing stored): the clients its changes depend on that
    #: this server has not heard of yet (with several servers, authors known elsewhere).
    #: Every id a push's table names is kept with the document for good, used or not: one
    #: push of 7 MiB naming 400,000 made-up ids took 0.73 s to merge and left the
    #: document's snapshot at 8.8 MB and each ``changes()`` at 40 ms. Counted before any
    #: is added.
    max_new_clients: int = 64
    #: Bytes of catch-ups one principal may make the server send per second, on average over
    #: all its connections and transports, and at once: what each Subscribe is answered with
    #: (the changes its version lacks) and each JSON view. A few bytes of Subscribe naming an
    #: empty version get a whole document (a 1.1 MB text, kept encoded: 373 of them per
    #: second to one client of a 2-core machine, 400 MB/s out of a 30-byte request each).
    #: Charged after the answer is made, so a single catch-up of any size is always possible;
    #: while the principal owes bytes, its next subscribe or view is refused RATE_LIMITED
    #: with ``retry_after_ms``. Not applied to an open server's anonymous principal.
    catch_up_bytes_per_second: int = 16 * 1024 * 1024
    catch_up_burst_bytes: int = 256 * 1024 * 1024
    #: Client ids in the version a Subscribe says it holds (BAD_CHANGES, that subscribe
    #: refused). An honest version names the authors of the document, one per device that
    #: wrote to it; decoding one costs the event loop about a microsecond per id, so this
    #: bounds what one frame can cost everyone else (the frame limit alone allows ~500,000).
    max_version_entries: int = 100_000
    #: Replace a document's log by a snapshot after this many committed batches, once they
    #: add up to an eighth of the snapshot's bytes (or after 16 times as many, whatever
    #: their size: see ``LoggedDocument.compaction_due`` in :mod:`synckit._logged`).
    compact_every: int = 256
    #: Documents of this many stored bytes or more are snapshotted and loaded away from the
    #: event loop when the server offloads (``SyncServer(offload=True)``, the default): a
    #: snapshot is built in a worker process, a load decoded in a thread.
    offload_bytes: int = 64 * 1024
    #: Documents of this many stored bytes or more (texts counted decoded) have the JSON view
    #: a store keeps (PostgreSQL's ``views`` table) written at most once per ``max(1 s,
    #: view bytes / view_bytes_per_second)`` instead of with every commit; in between their
    #: stored view lags, and catches up once due (see :mod:`synckit.server._views`): a view
    #: costs the event loop and the commit in proportion to the whole document (a 5.5 MB
    #: text: 20 ms and 70 ms, for every keystroke, before every other document's acks).
    view_inline_bytes: int = 256 * 1024
    view_bytes_per_second: int = 1024 * 1024
    #: The share of the event loop's time that building views may take, all documents
    #: together (a view's cost follows the document's shape as well as its size: a list of
    #: 2,000 small maps took 15 ms). Past it, views lag and are written oldest first as the
    #: budget refills (see :mod:`synckit.server._views`).
    view_loop_share: float = 0.1
    #: Open documents kept decoded in memory. Beyond this many, the least recently used
    #: are kept as their snapshot bytes (:meth:`synckit.Document.compact`) until used again.
    live_docs: int = 1024
    #: How far ahead of the server's wall clock, in seconds, an operation's clock may lie
    #: (CLOCK_SKEW, that push refused, retryable once the server's clock caught up). A device
    #: whose clock is off by a day still syncs; nobody can stamp writes further ahead to win
    #: last-writer-wins conflicts for longer, or push a clock toward the format's maximum.
    max_clock_ahead: float = 36 * 3600.0
    #: Largest presence state (JSON bytes) one connection may set in one document
    #: (PRESENCE_TOO_LARGE, that state dropped; the subscription carries on).
    max_presence_bytes: int = 4096
    #: Documents in which one connection may have presence at once (PRESENCE_TOO_LARGE for
    #: one more; clear one first).
    max_presence_docs: int = 32
    #: Seconds between presence flushes: each member of a room gets at most one presence
    #: frame per tick, holding every change since the last.
    presence_tick: float = 0.04
    #: Seconds a presence state lives unless renewed (clients renew every third of it); the
    #: entries of a server that stops relaying also go after this long.
    presence_timeout: float = 30.0

    @property
    def hello_frame_bytes(self) -> int:
        """The largest message a WebSocket client may send before its Hello is accepted (a
        larger one closes the connection, WebSocket 1009, unread): room for a Hello with a
        token of :attr:`max_token_length` characters of up to four UTF-8 bytes each, its
        client id and capabilities. (A Hello over :attr:`max_frame_bytes` but within this is
        refused FRAME_TOO_LARGE, as any frame over it.)"""
        return 4 * self.max_token_length + 64 * 1024

    def __post_init__(self) -> None:
        for name in (
            "max_frame_bytes",
            "max_doc_bytes",
            "max_queue_frames",
            "max_queue_bytes",
            "compact_every",
            "offload_bytes",
            "view_inline_bytes",
            "view_bytes_per_second",
            "live_docs",
            "max_load_waiters",
            "max_subscriptions",
            "max_subscriptions_per_principal",
            "max_version_entries",
            "max_push_ops",
            "max_merge_work",
            "catch_up_bytes_per_second",
            "catch_up_burst_bytes",
            "max_waiting_changes",
            "max_new_clients",
            "max_connections_per_principal",
            "max_client_ids_per_principal",
            "push_bytes_per_second",
            "push_burst_bytes",
            "max_presence_bytes",
            "max_presence_docs",
            "max_token_length",
            "max_head_bytes",
            "min_body_rate",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise InvalidValueError(f"Limits.{name} must be a positive int, got {value!r}")
        wait = self.handshake_timeout
        if type(wait) not in (int, float) or not 0 < wait <= 3600:
            raise InvalidValueError(
                f"Limits.handshake_timeout must be seconds in (0, 3600], got {wait!r}"
            )
        if self.push_burst_bytes < self.max_frame_bytes:
            raise InvalidValueError(
                f"Limits.push_burst_bytes ({self.push_burst_bytes}) must be at least "
                f"max_frame_bytes ({self.max_frame_bytes}), or a largest push could never pass"
            )
        share = "a share of a second in [0.001, 1]"
        for name, low, high, what in (
            ("room_linger", 0, 86400, "seconds in [0, 86400]"),
            ("loop_share", 0.001, 1, share),
            ("loop_burst", 0, 3600, "seconds in [0, 3600]"),
            ("read_share", 0.001, 1, share),
            ("read_burst", 0, 3600, "seconds in [0, 3600]"),
            ("view_loop_share", 0.001, 1, share),
            ("presence_tick", 0.001, 10, "seconds in [0.001, 10]"),
            ("presence_timeout", 0.1, 3600, "seconds in [0.1, 3600]"),
            ("max_clock_ahead", 0, 10 * 365 * 86400, "seconds in [0, 10 years]"),
        ):
            value = getattr(self, name)
            if type(value) not in (int, float) or not low <= value <= high:
                raise InvalidValueError(f"Limits.{name} must be {what}, got {value!r}")
