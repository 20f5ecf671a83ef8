"""When to try again: exponential backoff with full jitter, never before the provider says."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``, after ``attempt`` failures (1-based).

    Full jitter spreads a burst of failures across the window instead of retrying them
    in lockstep (AWS, "Exponential Backoff and Jitter"). A provider's ``retry_after`` is a
    floor: we never come back earlier than asked.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
