"""Housekeeping: removes records whose time is over, so they do not pile up forever.

Today that is the idempotency and dedup keys past their window (``event_keys``): every
event with a ``dedupKey`` and every request with an ``Idempotency-Key`` leaves one, and
an expired one is never read again (a new key of the same name replaces it). It runs
wherever deliveries are made (``nabat serve``, ``nabat worker``), as the scheduler's
recurring ``housekeeping`` job, a bounded number of rows
per transaction so that the write lock is held only briefly.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.models.event import EventKey
from nabat.scheduler import Firing

log = logging.getLogger("nabat.housekeeping")

# Rows removed per transaction, and how often a sweep runs.
CHUNK = 5000
EVERY_SECONDS = 300


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


class Housekeeper:
    """Sweeps expired records; the scheduler fires it every ``EVERY_SECONDS``."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
    ) -> None:
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

    async def fire(self, firing: Firing) -> None:
        """The scheduler's recurring ``housekeeping`` job: one sweep."""
        removed = await self.sweep()
        if removed:
            log.info("removed %d expired idempotency and dedup keys", removed)
