"""Waiting in the background loops (delivery worker, router) for work or for the end."""

from __future__ import annotations

import asyncio


async def wake_or_stop(wake: asyncio.Event, stop: asyncio.Event, poll_seconds: float) -> None:
    """Return when ``wake`` or ``stop`` is set, or after ``poll_seconds`` (the poll for
    work that another process made); ``wake`` is cleared for the next round."""
    waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
    await asyncio.wait(waiters, timeout=poll_seconds, return_when="FIRST_COMPLETED")
    for waiter in waiters:
        waiter.cancel()
    wake.clear()
