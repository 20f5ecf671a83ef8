"""A sliding-window attempt counter used to slow down password guessing."""

from __future__ import annotations

from collections import deque

from nabat.clock import Clock


class AttemptLimiter:
    """Allows ``limit`` attempts per ``window`` seconds for each key.

    Kept in process memory: it guards one process's login endpoint. Several API
    processes each apply the limit (see docs/decisions.md).
    """

    def __init__(self, clock: Clock, limit: int, window: float = 60.0) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        hits = self._prune(key)
        if hits is None or len(hits) < self._limit:
            return 0.0
        return max(0.0, hits[0] + self._window - self._clock.monotonic())

    def hit(self, key: str) -> float:
        """Record one attempt for ``key``; return its stamp, for :meth:`forgive`."""
        if len(self._hits) > 10_000:
            # A flood of distinct keys must not grow memory without bound.
            for stale in list(self._hits):
                self._prune(stale)
        hits = self._prune(key)
        if hits is None:
            hits = self._hits[key] = deque()
        stamp = self._clock.monotonic()
        hits.append(stamp)
        return stamp

    def forgive(self, key: str, stamp: float) -> None:
        """Take back the attempt recorded at ``stamp`` (it turned out not to count)."""
        hits = self._prune(key)
        if hits is not None and stamp in hits:
            hits.remove(stamp)
            if not hits:
                del self._hits[key]

    def _prune(self, key: str) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        horizon = self._clock.monotonic() - self._window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits
