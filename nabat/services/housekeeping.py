"""Housekeeping: removes records whose time is over, so they do not pile up forever.

Today that is the idempotency and dedup keys past their window (``event_keys``): every
event with a ``dedupKey`` and every request with an ``Idempotency-Key`` leaves one, and
an expired one is never read again (a new key of the same name replaces it). It runs
wherever deliveries are made (``nabat serve``, ``nabat worker``), a bounded number of rows
per transaction so that the write lock is held only briefly.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.event import EventKey

log = logging.getLogger("nabat.housekeeping")

# Rows removed per transaction, and how often a sweep runs.
CHUNK = 5000
EVERY_SECONDS = 300.0


async def purge_expired_keys(session: AsyncSession, now: datetime, *, limit: int = CHUNK) -> int:
    """Delete up to ``limit`` keys expired by ``now`` and commit; how many went."""
    doomed = select(EventKey.id).where(EventKey.expires_at <= now).limit(limit)
    result = await session.execute(
        delete(EventKey)
        .where(EventKey.id.in_(doomed.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


class Housekeeper(BackgroundLoop):
    """Sweeps expired records every ``every`` seconds until stopped."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        every: float = EVERY_SECONDS,
        health: LoopHealth | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=every)
        self._sessions = sessions
        self._gate = gate
        self._clock = clock

    async def sweep(self) -> int:
        """Remove everything expired now, a chunk per transaction; how many rows went."""
        removed = 0
        while True:
            async with self._sessions() as session, self._gate:
                count = await purge_expired_keys(session, self._clock.now())
            removed += count
            if count < CHUNK:
                return removed

    async def round(self) -> bool:
        """One sweep; then the loop waits ``every`` seconds."""
        removed = await self.sweep()
        if removed:
            log.info("removed %d expired idempotency and dedup keys", removed)
        return False
