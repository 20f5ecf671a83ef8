"""One writer at a time within a process, where the database allows only one anyway."""

from __future__ import annotations

import asyncio
from types import TracebackType


class WriteGate:
    """Serialises this process's write transactions on SQLite.

    SQLite admits one writer; a second one waits in its busy handler, which sleeps in
    steps of up to 100 ms. Queuing writers on an asyncio lock instead hands the database
    over the moment it is free, which keeps accept-to-delivery latency low when the API
    and the worker share one process. On PostgreSQL the gate is open.
    """

    def __init__(self, serialise: bool) -> None:
        self._lock = asyncio.Lock() if serialise else None

    async def __aenter__(self) -> None:
        if self._lock is not None:
            await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            self._lock.release()
