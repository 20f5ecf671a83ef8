"""The router: routes batched events, which are stored first and routed right after.

A batch's answer only waits for its events to be durable (see ``docs/events.md``); this
loop, running wherever deliveries are made (``nabat serve``, ``nabat worker``), takes
the stored events oldest first, routes them exactly as single events are routed, and
writes their deliveries, notes and repeats in the same transaction that marks them
routed. A router that dies mid-way rolls back, so the events are taken again; on
PostgreSQL concurrent routers skip each other's events (``SKIP LOCKED``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import groupby

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.queue import Claimed, Lease
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.event import Event
from nabat.services.event_input import EventInput
from nabat.services.ingest import Ingest, Limits, StoredEvent
from nabat.services.sending import as_stored

log = logging.getLogger("nabat.router")

# Events routed per transaction: a batch of the events API at a time.
CHUNK = 1000

_PENDING = Event.routed_at.is_(None)


async def _any_pending(session: AsyncSession) -> bool:
    """Whether any event waits, by a read that takes no write lock."""
    found = await session.scalar(select(Event.id).where(_PENDING).limit(1))
    await session.rollback()
    return found is not None


async def _claim(session: AsyncSession, limit: int) -> list[tuple[int, StoredEvent]]:
    """Take up to ``limit`` waiting events in this transaction, oldest first."""
    pick = select(Event.id).where(_PENDING).order_by(Event.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # Writing first takes SQLite's write lock at once, so no other process routes these.
    statement = (
        update(Event)
        .where(Event.id.in_(pick.scalar_subquery()))
        .values(routed_at=Event.received_at)
        .returning(
            Event.id,
            Event.public_id,
            Event.project_id,
            Event.received_at,
            Event.origin,
            Event.type,
            Event.severity,
            Event.message,
            Event.source,
            Event.subject,
            Event.labels,
            Event.data,
            Event.recipients,
            Event.channel_ids,
            Event.dedup_key,
            Event.occurred_at,
        )
        .execution_options(synchronize_session=False)
    )
    rows = sorted(
        (await session.execute(statement)).all(), key=lambda row: (row.project_id, row.id)
    )
    return [
        (
            row.project_id,
            StoredEvent(
                id=row.id,
                public_id=row.public_id,
                received_at=row.received_at,
                item=as_stored(
                    EventInput(
                        type=row.type,
                        severity=row.severity,
                        message=row.message,
                        source=row.source,
                        subject=row.subject,
                        labels=row.labels,
                        data=row.data,
                        occurred_at=row.occurred_at,
                        dedup_key=row.dedup_key,
                        recipients=tuple(row.recipients) if row.recipients else None,
                        channel_ids=tuple(row.channel_ids) if row.channel_ids else None,
                        origin=row.origin,
                    ),
                    row.received_at,
                ),
            ),
        )
        for row in rows
    ]


class EventRouter(BackgroundLoop):
    """Routes stored, unrouted events until stopped (a supervised loop; woken when a
    batch is stored, polling otherwise)."""

    name = "router"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        limits: Limits,
        poll_seconds: float,
        lease_for: Callable[[int], Lease | None],
        hand_over: Callable[[list[Claimed], Lease | None], None],
        health: LoopHealth | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=poll_seconds)
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._limits = limits
        self._lease_for = lease_for
        self._hand_over = hand_over

    async def route_once(self) -> int:
        """Route one chunk of waiting events and commit; how many were taken."""
        async with self._sessions() as session:
            if not await _any_pending(session):
                return 0
            lease = self._lease_for(CHUNK)
            queued: list[Claimed] = []
            async with self._gate:
                now = self._clock.now()
                claimed = await _claim(session, CHUNK)
                for project_id, group in groupby(claimed, key=lambda pair: pair[0]):
                    ingest = Ingest(session, project_id=project_id, now=now, limits=self._limits)
                    await ingest.load()
                    result = await ingest.route_stored([event for _, event in group], lease=lease)
                    queued.extend(result.queued)
                await session.commit()
        self._hand_over(queued, lease)
        return len(claimed)

    async def run_until_idle(self) -> None:
        """Route until nothing waits (tests)."""
        while await self.route_once():
            pass

    async def round(self) -> bool:
        """Route one chunk; True when there was one (more may wait)."""
        return bool(await self.route_once())
