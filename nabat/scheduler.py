"""The durable scheduler: due-time jobs in the database, run by every delivering process.

A job is a row of ``scheduled_jobs``: recurring (housekeeping, the channel checks' sweep)
or once (later: reminders and escalations). A process claims due jobs under a lease in
one conditional ``UPDATE`` (rows picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), with
the delivery queue's liveness rule: a job leased to a process whose heartbeat went stale
is taken over at once, not after the lease. Its handler gets the **firing**: the job at
one ``due_at``, whose key (``<job>@<due_at>``) is the same however often a crash makes it
run again, so a handler that writes with that key (an idempotency key, say) fires once.
After the handler, a recurring job is due again ``every_seconds`` from now — firings
missed while everything was down collapse into one, marked late — and a one-time job is
removed; a handler that fails is tried again a minute later, its error kept on the row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.bulk import upsert_for
from nabat.db.gate import WriteGate
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.liveness import WorkerBeat
from nabat.models.schedule import ScheduledJob

log = logging.getLogger("nabat.scheduler")

# Jobs claimed per round; the loop comes back at once while there were that many.
CLAIM = 50
# A claim's lease: long enough for any handler; a crashed holder is found by its heartbeat.
LEASE = timedelta(minutes=10)
# A failed handler's next try.
RETRY = timedelta(minutes=1)
# Later than this after its due time, a firing is late (it was missed, not merely busy).
LATE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Firing:
    """One firing of a job: what its handler gets."""

    key: str
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    late: bool

    @property
    def firing_key(self) -> str:
        """The same for every run of this firing (crash, restart, two schedulers)."""
        return f"{self.key}@{self.due_at.isoformat()}"


Handler = Callable[[Firing], Awaitable[None]]


@dataclass(frozen=True)
class Recurring:
    """A job the process keeps scheduled: its key (also its kind), interval and handler."""

    key: str
    every_seconds: int
    handler: Handler


async def schedule_once(
    session: AsyncSession, *, key: str, kind: str, due_at: datetime, payload: dict[str, Any]
) -> None:
    """Put a one-time job on the schedule, or move it (same key) to ``due_at`` with this
    payload, in the caller's transaction."""
    row = await session.get(ScheduledJob, key)
    if row is None:
        session.add(
            ScheduledJob(key=key, kind=kind, payload=payload, due_at=due_at, every_seconds=None)
        )
        return
    row.kind, row.payload, row.due_at = kind, payload, due_at


async def unschedule(session: AsyncSession, key: str) -> None:
    """Take a job off the schedule (nothing if it is not on it), in the caller's
    transaction."""
    await session.execute(delete(ScheduledJob).where(ScheduledJob.key == key))


class Scheduler(BackgroundLoop):
    """Runs due jobs (see the module's doc); one per delivering process."""

    name = "scheduler"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        owner: str,
        dead_after: timedelta,
        recurring: list[Recurring],
        handlers: Mapping[str, Handler] | None = None,
        poll_seconds: float = 5.0,
        health: LoopHealth | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=poll_seconds)
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._owner = owner
        self._dead_after = dead_after
        self._recurring = recurring
        self._handlers: dict[str, Handler] = {job.key: job.handler for job in recurring}
        self._handlers.update(handlers or {})

    async def started(self) -> None:
        """Make sure every recurring job is on the schedule (due now when new)."""
        now = self._clock.now()
        async with self._sessions() as session, self._gate:
            for job in self._recurring:
                await session.execute(
                    upsert_for(session)(ScheduledJob)
                    .values(
                        key=job.key,
                        kind=job.key,
                        payload={},
                        due_at=now,
                        every_seconds=job.every_seconds,
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
            await session.commit()

    async def round(self) -> bool:
        """Claim the due jobs and run them one after the other."""
        claimed = await self._claim()
        for row in claimed:
            await self._run(row)
        return len(claimed) == CLAIM

    async def _claim(self) -> list[ScheduledJob]:
        now = self._clock.now()
        owner_dead = exists().where(
            WorkerBeat.owner == ScheduledJob.lease_owner,
            WorkerBeat.beat_at < now - self._dead_after,
        )
        due = and_(
            ScheduledJob.due_at <= now,
            or_(
                ScheduledJob.lease_owner.is_(None),
                ScheduledJob.lease_until < now,
                and_(ScheduledJob.lease_owner != self._owner, owner_dead),
            ),
        )
        async with self._sessions() as session, self._gate:
            pick = select(ScheduledJob.key).where(due).order_by(ScheduledJob.due_at).limit(CLAIM)
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            keys = list((await session.scalars(pick)).all())
            if not keys:
                await session.rollback()
                return []
            # The same condition again: between the pick and the update another process
            # may have claimed a row (SQLite has no SKIP LOCKED).
            await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.key.in_(keys), due)
                .values(lease_owner=self._owner, lease_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            rows = list(
                await session.scalars(
                    select(ScheduledJob).where(
                        ScheduledJob.key.in_(keys),
                        ScheduledJob.lease_owner == self._owner,
                        ScheduledJob.lease_until == now + LEASE,
                    )
                )
            )
            await session.commit()
        return rows

    async def _run(self, row: ScheduledJob) -> None:
        now = self._clock.now()
        late = now - row.due_at > LATE_AFTER
        firing = Firing(row.key, row.kind, dict(row.payload or {}), row.due_at, late)
        if firing.late:
            log.warning("job %s fires late (due %s)", row.key, row.due_at.isoformat())
        handler = self._handlers.get(row.kind)
        error: str | None = None
        if handler is None:
            error = f"no handler for jobs of kind {row.kind!r} in this process"
        else:
            try:
                await handler(firing)
            except Exception as exc:
                log.exception("job %s failed", row.key)
                error = f"{type(exc).__name__}: {exc}"[:500]
        await self._settle(row, error)

    async def _settle(self, row: ScheduledJob, error: str | None) -> None:
        now = self._clock.now()
        mine = and_(ScheduledJob.key == row.key, ScheduledJob.lease_owner == self._owner)
        async with self._sessions() as session, self._gate:
            if error is None and row.every_seconds is None:
                await session.execute(delete(ScheduledJob).where(mine))
            else:
                due = (
                    now + RETRY
                    if error is not None
                    else now + timedelta(seconds=row.every_seconds or 0)
                )
                await session.execute(
                    update(ScheduledJob)
                    .where(mine)
                    .values(
                        due_at=due,
                        lease_owner=None,
                        lease_until=None,
                        last_fired_at=now if error is None else row.last_fired_at,
                        last_error=error,
                    )
                    .execution_options(synchronize_session=False)
                )
            await session.commit()
