"""Public ids for events and deliveries: unguessable, and ordered by time.

A purely random id lands anywhere in its unique index, so every insert touches a
different page of it; a time-ordered prefix makes new ids append at the index's end,
which made inserting thousands of rows a second measurably cheaper on SQLite.
"""

from __future__ import annotations

import os
import time

_RANDOM_BYTES = 10


def ordered_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids: ``prefix`` + 12 hex digits of milliseconds since the epoch + 80
    random bits. One clock reading and one read of random bytes serve a whole batch."""
    stamp = f"{prefix}{time.time_ns() // 1_000_000:012x}"
    randoms = os.urandom(_RANDOM_BYTES * count).hex()
    width = _RANDOM_BYTES * 2
    return [stamp + randoms[at : at + width] for at in range(0, width * count, width)]


def ordered_id(prefix: str) -> str:
    """One id as :func:`ordered_ids` makes them."""
    return ordered_ids(prefix, 1)[0]
