"""Injectable clocks, so that time-dependent code is testable without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        import time

        return time.monotonic()


class FrozenClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def monotonic(self) -> float:
        """Return the frozen monotonic reading."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both readings forward by ``seconds``."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
