"""The tests' one fake wall clock (the ``clock`` fixture of ``tests/conftest.py`` yields one).

``Document(clock=...)`` and ``SyncEngine(clock=...)`` read the time by calling a clock that
returns integer milliseconds. Tests pass a :class:`FakeClock` so that time is theirs to set.
"""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Integer milliseconds that move only as the test says.

    It stands still unless moved by :meth:`advance` or :meth:`set`; with ``step`` it also moves
    ``step`` ms after each reading, like a replica whose writes are some time apart.
    ``reads`` counts the readings, to check that a clock is in use.
    """

    __slots__ = ("now", "reads", "step")

    def __init__(self, start: int = 1_000, *, step: int = 0) -> None:
        _check_ms("start", start)
        _check_ms("step", step)
        self.now = start
        self.step = step
        self.reads = 0

    def __call__(self) -> int:
        now = self.now
        self.now += self.step
        self.reads += 1
        return now

    def advance(self, ms: int) -> None:
        """Move ``ms`` milliseconds on (use :meth:`set` to turn the clock back)."""
        _check_ms("advance", ms)
        self.now += ms

    def set(self, ms: int) -> None:
        """Show ``ms`` from now on; it may be earlier than now, like a clock that was reset."""
        _check_ms("set", ms)
        self.now = ms

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now}, step={self.step}, reads={self.reads})"


def _check_ms(what: str, ms: int) -> None:
    if ms < 0:
        raise ValueError(f"FakeClock {what}: {ms} ms is negative")
