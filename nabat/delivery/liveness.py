"""Proof that a delivery process is alive, so a dead one's work is taken over in seconds.

Each process that owns delivery leases registers a per-boot owner id (``host:pid:random``)
in ``worker_beats`` and beats every ``heartbeat_seconds``. A beat renews the row and the
leases still held by this owner, so a lease may be short (``lease_seconds``) and still
outlive any send in flight. A process that stops beating for ``dead_after_seconds``
(``kill -9``, a lost machine) is dead: any live worker, the restarted process included
(it boots with a new id), claims its rows at once (``delivery/queue.py``).

Times come from the injected clock, as the leases' do: processes on several machines
need clocks that agree to well within ``dead_after_seconds``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.loops import BackgroundLoop, LoopHealth
from nabat.models.delivery import Delivery, DeliveryStatus
from nabat.models.liveness import WorkerBeat
from nabat.settings import Settings

log = logging.getLogger("nabat.liveness")

# Rows of processes silent this long are deleted: nothing can still be leased to them
# (their leases ran out long ago) and the table stays as small as the fleet.
_FORGET_AFTER = timedelta(hours=1)


def new_owner_id() -> str:
    """A lease owner id unique to this boot: the host and pid say who, the random part
    keeps a reused pid (a container restarted) from inheriting a dead boot's rows."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Liveness(BackgroundLoop):
    """This process's heartbeat: :meth:`register` before any worker claims, a supervised
    loop of beats while workers run, deregistration when it ends."""

    name = "heartbeat"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        settings: Settings,
        owner: str | None = None,
        health: LoopHealth | None = None,
    ) -> None:
        super().__init__(health=health, idle_seconds=settings.heartbeat_seconds)
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._lease = timedelta(seconds=settings.lease_seconds)
        self.owner = owner or new_owner_id()

    async def register(self) -> None:
        """Record this owner as alive now (idempotent); call before any lease is taken,
        or other workers would count the new owner's rows as a dead one's."""
        async with self._sessions() as session, self._gate:
            await self._touch(session)
            await session.commit()

    async def beat(self) -> None:
        """One heartbeat, one transaction: this owner alive now; its leases that would
        run out within half a lease renewed to a full one (a row is rewritten at most
        every half lease, not every beat); rows of long-dead owners forgotten."""
        async with self._sessions() as session, self._gate:
            now = await self._touch(session)
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.SENDING.value,
                    Delivery.lease_owner == self.owner,
                    Delivery.lease_until < now + self._lease / 2,
                )
                .values(lease_until=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                delete(WorkerBeat).where(WorkerBeat.beat_at < now - _FORGET_AFTER)
            )
            await session.commit()

    async def deregister(self) -> None:
        """Hand back whatever is still leased to this owner (QUEUED, due now) and remove
        its row, in one transaction. Call only after this process's workers stopped:
        a row they still sent would be sent again by another worker."""
        async with self._sessions() as session, self._gate:
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.SENDING.value,
                    Delivery.lease_owner == self.owner,
                )
                .values(
                    status=DeliveryStatus.QUEUED.value,
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=self._clock.now(),
                )
                .execution_options(synchronize_session=False)
            )
            await session.execute(delete(WorkerBeat).where(WorkerBeat.owner == self.owner))
            await session.commit()

    async def started(self) -> None:
        """Register (again: idempotent) before the first beat."""
        await self.register()

    async def round(self) -> bool:
        """One beat; a failed one is retried by the loop, and missing a few is what
        ``dead_after_seconds`` allows."""
        await self.beat()
        return False

    async def finished(self) -> None:
        """Hand back what is still leased to this owner and remove its row."""
        await self.deregister()

    async def _touch(self, session: AsyncSession) -> datetime:
        now = self._clock.now()
        found = await session.execute(
            update(WorkerBeat).where(WorkerBeat.owner == self.owner).values(beat_at=now)
        )
        # Absent on the first beat, or forgotten after a very long stall of this process.
        if not found.rowcount:  # type: ignore[attr-defined]
            await session.execute(
                insert(WorkerBeat).values(owner=self.owner, started_at=now, beat_at=now)
            )
        return now
