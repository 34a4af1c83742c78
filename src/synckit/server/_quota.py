"""What one principal may cost everyone else: connections at once, push bytes per second, the
event-loop time its requests take (merging pushes, catching subscriptions up) and the bytes of
catch-ups it is sent.

:class:`Quotas` answers four questions for the hub, each with the error to send when the answer
is no: may this principal open one more connection (:meth:`Quotas.admit`), may it push this
many bytes now (:meth:`Quotas.charge`, a token bucket per principal shared by all its
connections and transports), may it push or subscribe at all while its earlier requests took
more of the event loop than its share (:meth:`Quotas.loop_debt`; the hub reports the time of
each merge and each subscription's catch-up with :meth:`Quotas.charge_loop`), and may it be
caught up while it was sent more catch-up bytes than its rate allows (:meth:`Quotas.debt`,
which asks that and the loop question; the hub reports each answer's size with
:meth:`Quotas.charge_sent`). The anonymous principal of an open server is not limited: an
open server trusts whoever can reach it (a loopback address, see ``synckit serve``).

Time comes from the hub's monotonic clock; nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

from synckit.protocol import Error, ErrorCode
from synckit.server._limits import Limits

__all__ = ["Quotas", "TokenBucket"]

K = TypeVar("K", str, str | int)

# Buckets of principals that pushed nothing for this long are forgotten (they are full again).
_IDLE_BUCKET_SECONDS = 600.0


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; starts full."""

    rate: float
    burst: float
    level: float
    at: float

    def take(self, amount: float, now: float) -> float:
        """Take ``amount`` tokens if there are that many: 0.0 then; otherwise the seconds
        until there would be (nothing is taken)."""
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        if amount <= self.level + 1e-6:  # waited exactly as told: float rounding is no refusal
            self.level = max(0.0, self.level - amount)
            return 0.0
        return (amount - self.level) / self.rate

    def spend(self, amount: float, now: float) -> None:
        """Take ``amount`` tokens whatever the level: it may go below zero (a debt)."""
        self.level = min(self.burst, self.level + (now - self.at) * self.rate) - amount
        self.at = now

    def owed(self, now: float) -> float:
        """Seconds until the level is back at zero (0.0: no debt)."""
        level = min(self.burst, self.level + (now - self.at) * self.rate)
        return 0.0 if level >= 0.0 else -level / self.rate


class Quotas:
    """Connections, push bytes per second and event-loop time per principal (see
    :class:`Limits`)."""

    __slots__ = ("_buckets", "_conns", "_limits", "_loop", "_read", "_sent", "_swept")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        # principal -> ids of its open connections
        self._conns: dict[str, set[int]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        # principal -> seconds of the event loop it may still take (see Limits.loop_share)
        self._loop: dict[str, TokenBucket] = {}
        # principal -> bytes of catch-ups it may still be sent (see Limits.catch_up_bytes_...)
        self._sent: dict[str, TokenBucket] = {}
        # principal, or an anonymous connection's id -> seconds of the event loop its
        # connections' frames may still take (see Limits.read_share)
        self._read: dict[str | int, TokenBucket] = {}
        self._swept = 0.0

    def connections_of(self, principal_id: str) -> int:
        """Open connections of ``principal_id`` counted so far."""
        return len(self._conns.get(principal_id, ()))

    def connection_ids(self, principal_id: str) -> frozenset[int]:
        """The ids of the open connections of ``principal_id`` counted so far."""
        return frozenset(self._conns.get(principal_id, ()))

    def admit(self, principal_id: str, conn_id: int) -> Error | None:
        """Count connection ``conn_id`` for ``principal_id``; the error to refuse it with
        when the principal already has its limit of connections (nothing counted then)."""
        if not principal_id:
            return None
        conns = self._conns.setdefault(principal_id, set())
        limit = self._limits.max_connections_per_principal
        if conn_id not in conns and len(conns) >= limit:
            return Error(
                ErrorCode.TOO_MANY,
                f"principal {principal_id!r} already has {limit} connections open on this "
                "server (max_connections_per_principal); close one, or share one connection "
                "between documents",
                retryable=True,
                fatal=True,
                retry_after_ms=5000,
            )
        conns.add(conn_id)
        return None

    def release(self, principal_id: str, conn_id: int) -> None:
        """Connection ``conn_id`` of ``principal_id`` closed."""
        conns = self._conns.get(principal_id)
        if conns is None:
            return
        conns.discard(conn_id)
        if not conns:
            del self._conns[principal_id]

    def charge(
        self,
        principal_id: str,
        nbytes: int,
        now: float,
        *,
        doc_id: str = "",
        batch_id: int = 0,
        what: str = "push",
    ) -> Error | None:
        """Charge a push (or another frame ``what`` names) of ``nbytes`` to ``principal_id``
        at monotonic time ``now``; the error to refuse it with when the principal is over its
        rate (nothing charged then)."""
        if not principal_id:
            return None
        limits = self._limits
        self._sweep(now)
        bucket = _bucket(
            self._buckets, principal_id, limits.push_bytes_per_second, limits.push_burst_bytes, now
        )
        wait = bucket.take(nbytes, now)
        if not wait:
            return None
        return _rate_limited(
            f"principal {principal_id!r} pushes more than {limits.push_bytes_per_second} bytes "
            f"per second (push_bytes_per_second); this {what} of {nbytes} bytes is refused, "
            "send it again after retry_after_ms",
            wait,
            doc_id,
            batch_id,
        )

    def charge_loop(self, principal_id: str, seconds: float, now: float) -> None:
        """Count ``seconds`` of the event loop spent on a request of ``principal_id`` (a
        push merged, refused or not, or a subscription caught up: taken either way)."""
        if not principal_id or seconds <= 0.0:
            return
        self._loop_bucket(principal_id, now).spend(seconds, now)

    def charge_read(self, reader: str | int, seconds: float, now: float) -> float:
        """Count ``seconds`` of the event loop spent on what ``reader`` (a principal's id, or
        an anonymous connection's) sent; the seconds to stop reading from it for, until the
        time is repaid (0.0: read on)."""
        limits = self._limits
        if reader not in self._read:
            self._sweep(now)  # (before: a new bucket is full, and would go with the others)
        bucket = _bucket(self._read, reader, limits.read_share, limits.read_burst, now)
        bucket.spend(seconds, now)
        return bucket.owed(now)

    def owe_loop_burst(self, principal_id: str, now: float) -> None:
        """``principal_id`` did something that costs everyone more than its loop time (a
        merge stopped part way, which reloads the document): it owes its whole burst on top
        of what it owed, so it may not push or subscribe for ``loop_burst / loop_share``
        seconds at least."""
        if not principal_id:
            return
        bucket = self._loop_bucket(principal_id, now)
        bucket.spend(0.0, now)  # refilled up to now
        bucket.level = min(bucket.level, 0.0) - bucket.burst

    def _loop_bucket(self, principal_id: str, now: float) -> TokenBucket:
        limits = self._limits
        return _bucket(self._loop, principal_id, limits.loop_share, limits.loop_burst, now)

    def loop_debt(
        self,
        principal_id: str,
        now: float,
        *,
        doc_id: str = "",
        batch_id: int = 0,
        what: str = "push",
    ) -> Error | None:
        """The error to refuse a request (``what``) of ``principal_id`` with while its earlier
        requests took more of the event loop than its share allows; None when it may go on."""
        wait = _owed(self._loop, principal_id, now)
        if not wait:
            return None
        limits = self._limits
        return _rate_limited(
            f"principal {principal_id!r} took more than {limits.loop_share:g} of each second "
            f"(loop_share, burst {limits.loop_burst:g} s) of this server's event loop merging "
            f"its pushes and catching its subscriptions up; this {what} is refused, send it "
            "again after retry_after_ms",
            wait,
            doc_id,
            batch_id,
        )

    def charge_sent(self, principal_id: str, nbytes: int, now: float) -> None:
        """Count ``nbytes`` of catch-up (a Subscribe's answer, a JSON view) sent to
        ``principal_id``: taken whatever the level, so the bucket may go into debt."""
        if not principal_id or nbytes <= 0:
            return
        limits = self._limits
        rate, burst = limits.catch_up_bytes_per_second, limits.catch_up_burst_bytes
        _bucket(self._sent, principal_id, rate, burst, now).spend(nbytes, now)

    def debt(
        self, principal_id: str, now: float, *, doc_id: str = "", what: str = "subscribe"
    ) -> Error | None:
        """The error to refuse a catch-up (``what``: a subscribe, a JSON view) of
        ``principal_id`` with while it owes event-loop time or catch-up bytes; None when it
        may go on."""
        refusal = self.loop_debt(principal_id, now, doc_id=doc_id, what=what)
        if refusal is not None:
            return refusal
        wait = _owed(self._sent, principal_id, now)
        if not wait:
            return None
        limits = self._limits
        return _rate_limited(
            f"principal {principal_id!r} was sent more than {limits.catch_up_bytes_per_second} "
            f"bytes of catch-ups per second (catch_up_bytes_per_second, burst "
            f"{limits.catch_up_burst_bytes}); this {what} is refused, send it again after "
            "retry_after_ms",
            wait,
            doc_id,
            0,
        )

    def _sweep(self, now: float) -> None:
        """Forget buckets idle long enough to be full again (bounded memory)."""
        if now - self._swept < _IDLE_BUCKET_SECONDS:
            return
        self._swept = now
        limits = self._limits
        full = max(_IDLE_BUCKET_SECONDS, limits.push_burst_bytes / limits.push_bytes_per_second)
        idle = [p for p, b in self._buckets.items() if now - b.at >= full]
        for principal_id in idle:
            del self._buckets[principal_id]
        # A loop bucket whose debt is repaid and burst refilled is as good as a new one.
        _forget_full(self._loop, now)
        _forget_full(self._sent, now)
        _forget_full(self._read, now)


def _forget_full(buckets: dict[K, TokenBucket], now: float) -> None:
    """Drop the buckets whose debt is repaid and burst refilled: as good as new ones."""
    full_again = [k for k, b in buckets.items() if now - b.at >= (b.burst - b.level) / b.rate]
    for key in full_again:
        del buckets[key]


def _bucket(
    buckets: dict[K, TokenBucket], key: K, rate: float, burst: float, now: float
) -> TokenBucket:
    """``key``'s bucket in ``buckets`` (a principal's, or a reader's), made full (``rate``
    per second, at most ``burst``) when it has none."""
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = TokenBucket(float(rate), float(burst), float(burst), now)
    return bucket


def _owed(buckets: dict[str, TokenBucket], principal_id: str, now: float) -> float:
    """Seconds until ``principal_id``'s bucket in ``buckets`` is out of debt (0.0: none)."""
    bucket = buckets.get(principal_id) if principal_id else None
    return 0.0 if bucket is None else bucket.owed(now)


def _rate_limited(message: str, wait: float, doc_id: str, batch_id: int) -> Error:
    """A retryable RATE_LIMITED refusal, to be sent again after ``wait`` seconds."""
    return Error(
        ErrorCode.RATE_LIMITED,
        message,
        retryable=True,
        doc_id=doc_id,
        batch_id=batch_id,
        retry_after_ms=max(1, math.ceil(wait * 1000)),
    )
