"""Group commit for events: requests that arrive together are stored in one transaction.

Every request still waits for its own events to be durable before it answers; what it
shares is the transaction. While one transaction is being written, newly arriving
requests queue up, and the next transaction takes all of them. Under load this turns
thousands of small commits a second into a few dozen larger ones (SQLite admits one
writer at a time, so its commit rate, not the CPU, is what single-event posting is
bound by otherwise). An idle server stores a lone request at once: nothing waits for a
batch to fill.

A request whose events are invalid fails alone; the others in its transaction go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.db.gate import WriteGate
from nabat.delivery.queue import Claimed, Lease
from nabat.errors import NabatError
from nabat.services.event_input import EventInput
from nabat.services.ingest import Ingest, Limits, Planned
from nabat.services.ingest_store import Accepted
from nabat.services.intake import Intake, intake, store_unrouted

# At most this many events per transaction: a bounded wait for the last request in it.
MAX_EVENTS = 2000


@dataclass
class _Request:
    project_id: int
    items: list[EventInput]
    future: asyncio.Future[list[Accepted]]
    # Checked and converted already: stored for the router, not routed.
    unrouted: Intake | None
    planned: list[Planned] = field(default_factory=list)


class IngestBatcher:
    """Stores events for concurrent requests, many requests per transaction."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        clock: Clock,
        limits: Limits,
        lease_for: Callable[[int], Lease | None],
        hand_over: Callable[[list[Claimed], Lease | None], None],
        stored_unrouted: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._gate = gate
        self._clock = clock
        self._limits = limits
        self._lease_for = lease_for
        self._hand_over = hand_over
        self._stored_unrouted = stored_unrouted
        self._pending: list[_Request] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(
        self, project_id: int, items: list[EventInput], *, unrouted: bool = False
    ) -> list[Accepted]:
        """Store ``items`` durably (with whatever else is waiting) and return their outcomes.

        ``unrouted``: store the checked events for the router instead of routing them
        first (batches). Raises the request's own NabatError when its events are invalid,
        or the storage error when the transaction failed (then nothing of it was stored).
        """
        checked = None
        if unrouted:
            # Checked and converted here, outside the write lock, while earlier requests
            # are being written.
            async with self._sessions() as session:
                checked = await intake(session, project_id, items, now=self._clock.now())
        future: asyncio.Future[list[Accepted]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(project_id, items, future, checked))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def drain(self) -> None:
        """Wait until every request handed in so far is stored (at shutdown)."""
        while self._runner is not None and not self._runner.done():
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while self._pending:
            batch: list[_Request] = []
            count = 0
            while self._pending and (
                not batch or count + len(self._pending[0].items) <= MAX_EVENTS
            ):
                request = self._pending.pop(0)
                batch.append(request)
                count += len(request.items)
            try:
                await self._store(batch, count)
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    async def _store(self, batch: list[_Request], count: int) -> None:
        now = self._clock.now()
        lease = self._lease_for(count)
        queued: list[Claimed] = []
        outcomes: list[tuple[_Request, list[Accepted]]] = []
        unrouted = [request for request in batch if request.unrouted is not None]
        async with self._sessions() as session, self._gate:
            for request in unrouted:
                assert request.unrouted is not None
                stored = await store_unrouted(session, request.unrouted, now)
                outcomes.append((request, stored))
            routed = sorted(
                (request for request in batch if request.unrouted is None),
                key=lambda r: r.project_id,
            )
            for project_id, group in groupby(routed, key=lambda r: r.project_id):
                ingest = Ingest(session, project_id=project_id, now=now, limits=self._limits)
                await ingest.load()
                valid: list[_Request] = []
                for request in group:
                    try:
                        request.planned = ingest.prepare(request.items)
                    except NabatError as exc:
                        request.future.set_exception(exc)
                    else:
                        valid.append(request)
                if not valid:
                    continue
                result = await ingest.store(
                    [plan for request in valid for plan in request.planned], lease=lease
                )
                queued.extend(result.queued)
                start = 0
                for request in valid:
                    end = start + len(request.planned)
                    outcomes.append((request, result.accepted[start:end]))
                    start = end
            await session.commit()
        self._hand_over(queued, lease)
        if unrouted:
            self._stored_unrouted()
        for request, accepted in outcomes:
            if not request.future.done():
                request.future.set_result(accepted)
