"""Token buckets per destination, so that Nabat stays inside provider limits."""

from __future__ import annotations

from dataclasses import dataclass

from nabat.clock import Clock


@dataclass(frozen=True)
class Rate:
    """``per_second`` sustained, with bursts of up to ``burst``."""

    per_second: float
    burst: float


class _Bucket:
    __slots__ = ("paused_until", "stamp", "tokens")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.stamp = now
        self.paused_until = 0.0


class RateLimits:
    """Reservations against many buckets at once (a Telegram message needs its chat's
    token and its bot's token)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, limits: list[tuple[str, Rate]]) -> float:
        """Take a token from every bucket now and return 0, or take none and return the
        seconds until all of them will have one."""
        now = self._clock.monotonic()
        wait = 0.0
        buckets = []
        for key, rate in limits:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(rate.burst, now)
            bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.stamp) * rate.per_second)
            bucket.stamp = now
            wait = max(wait, bucket.paused_until - now)
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / rate.per_second)
            buckets.append(bucket)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.tokens -= 1.0
        return 0.0

    def pause(self, key: str, seconds: float) -> None:
        """Hold a bucket shut for ``seconds`` (the provider said so with a 429)."""
        now = self._clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(0.0, now)
        bucket.paused_until = max(bucket.paused_until, now + seconds)
