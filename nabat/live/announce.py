"""Announcing which projects' deliveries changed, at most a few times a second.

A worker settles deliveries in batches many times a second under load, and every
announcement is a NOTIFY on PostgreSQL (a commit that takes a global lock there): so the
first announcement goes out at once (a quiet system shows a change without delay) and
those that follow within :data:`WINDOW` seconds are gathered into one at its end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from nabat.signals import Signals
from nabat.signals.base import MAX_PAYLOAD_BYTES

WINDOW = 0.25


def id_payloads(ids: Iterable[int], budget: int = MAX_PAYLOAD_BYTES) -> list[str]:
    """Comma-separated ids in as few payloads of at most ``budget`` bytes as it takes."""
    payloads: list[str] = []
    current = ""
    for one in sorted(set(ids)):
        text = str(one)
        if current and len(current) + 1 + len(text) > budget:
            payloads.append(current)
            current = ""
        current = f"{current},{text}" if current else text
    if current:
        payloads.append(current)
    return payloads


def read_ids(payload: str) -> set[int]:
    """The ids of a payload made by :func:`id_payloads`; a part that is not a number is
    skipped."""
    parts = (part.strip() for part in payload.split(","))
    return {int(part) for part in parts if part.isascii() and part.isdecimal()}


class Announcer:
    """Publishes ids on one topic, gathering those announced close together."""

    def __init__(self, signals: Signals, topic: str, window: float = WINDOW) -> None:
        self._signals = signals
        self._topic = topic
        self._window = window
        self._pending: set[int] = set()
        self._last = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def announce(self, ids: Iterable[int]) -> None:
        """Publish ``ids`` now, or with the others at the end of the current window.
        Call it after the commit that made the change, from the event loop."""
        self._pending.update(ids)
        if not self._pending or self._timer is not None:
            return
        wait = self._last + self._window - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Publish what waits now (also on the way out, before the signals close)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, set()
        self._last = time.monotonic()
        for payload in id_payloads(pending):
            self._signals.publish(self._topic, payload)
