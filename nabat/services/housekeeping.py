"""Housekeeping: removes records whose time is over, so they do not pile up forever.

Today that is the idempotency and dedup keys past their window (``event_keys``): every
event with a ``dedupKey`` and every request with an ``Idempotency-Key`` leaves one, and
an expired one is never read again (a new key of the same name replaces it); and inbox
items and the record of inbox changes older than the retention (``NABAT_INBOX_RETENTION_DAYS``),
which the live stream then no longer resumes from. It runs
wherever deliveries are made (``nabat serve``, ``nabat worker``), as the scheduler's
recurring ``housekeeping`` job, a bounded number of rows
per transaction so that the write lock is held only briefly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.models.event import EventKey
from nabat.models.inbox import InboxChange, InboxItem
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


async def purge_old_inbox(session: AsyncSession, before: datetime, *, limit: int = CHUNK) -> int:
    """Delete up to ``limit`` inbox items made before ``before``, and up to ``limit``
    inbox changes from before then, in the caller's transaction; how many rows went."""
    removed = 0
    for table, moment in ((InboxItem, InboxItem.created_at), (InboxChange, InboxChange.at)):
        doomed = select(table.id).where(moment < before).limit(limit)
        result = await session.execute(
            delete(table)
            .where(table.id.in_(doomed.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


class Housekeeper:
    """Sweeps expired records; the scheduler fires it every ``EVERY_SECONDS``."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        inbox_retention: timedelta = timedelta(days=90),
    ) -> None:
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._inbox_retention = inbox_retention

    async def sweep(self) -> int:
        """Remove everything expired now, a chunk per transaction; how many rows went."""
        return await self._sweep(self._purge_keys) + await self._sweep(self._purge_inbox)

    async def _sweep(self, purge: Callable[[AsyncSession], Awaitable[int]]) -> int:
        removed = 0
        while True:
            async with self._sessions() as session, self._gate:
                count = await purge(session)
            removed += count
            if count < CHUNK:
                return removed

    async def _purge_keys(self, session: AsyncSession) -> int:
        return await purge_expired_keys(session, self._clock.now())

    async def _purge_inbox(self, session: AsyncSession) -> int:
        count = await purge_old_inbox(session, self._clock.now() - self._inbox_retention)
        await session.commit()
        return count

    async def fire(self, firing: Firing) -> None:
        """The scheduler's recurring ``housekeeping`` job: one sweep."""
        removed = await self.sweep()
        if removed:
            log.info("removed %d expired keys and inbox records", removed)
