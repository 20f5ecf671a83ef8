"""Public ids for events and deliveries: unguessable, and ordered by time.

A purely random id lands anywhere in its unique index, so every insert touches a
different page of it; a time-ordered prefix makes new ids append at the index's end,
which made inserting thousands of rows a second measurably cheaper on SQLite.
"""

from __future__ import annotations

import os
import time

_RANDOM_BYTES = 10
# Random bytes are read from the OS a few kilobytes at a time: one system call per id
# was a visible share of storing a batch of events.
_POOL_SIZE = _RANDOM_BYTES * 400


class _Pool:
    def __init__(self) -> None:
        self.refill()

    def refill(self) -> None:
        self.data = os.urandom(_POOL_SIZE)
        self.at = 0

    def take(self) -> bytes:
        if self.at == _POOL_SIZE:
            self.refill()
        start = self.at
        self.at = start + _RANDOM_BYTES
        return self.data[start : self.at]


_pool = _Pool()
# A forked child must not hand out its parent's remaining random bytes again.
os.register_at_fork(after_in_child=_pool.refill)


def ordered_id(prefix: str) -> str:
    """``prefix`` + 12 hex digits of milliseconds since the epoch + 80 random bits."""
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{_pool.take().hex()}"


def ordered_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids as :func:`ordered_id` makes them, for a batch: one clock reading and
    one read of random bytes."""
    stamp = f"{prefix}{time.time_ns() // 1_000_000:012x}"
    randoms = os.urandom(_RANDOM_BYTES * count).hex()
    width = _RANDOM_BYTES * 2
    return [stamp + randoms[at : at + width] for at in range(0, width * count, width)]
