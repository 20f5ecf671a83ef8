"""Liveness rules of the queue: a dead owner's rows are taken over at once, a live owner's
never, whatever its first lease said; a worker that lost its rows cannot settle them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import FrozenClock
from nabat.delivery.liveness import Liveness
from nabat.delivery.queue import Claimed, NewDelivery, Outcome, any_due, claim, enqueue, settle
from nabat.models.delivery import Delivery, DeliveryStatus
from nabat.models.liveness import WorkerBeat
from nabat.settings import Settings

LEASE = timedelta(seconds=30)
DEAD_AFTER = timedelta(seconds=5)


@dataclass
class Queue:
    app: FastAPI
    clock: FrozenClock
    settings: Settings

    def liveness(self, owner: str) -> Liveness:
        state = self.app.state.nabat
        return Liveness(
            sessions=state.sessions,
            gate=state.write_gate,
            clock=self.clock,
            settings=self.settings,
            owner=owner,
        )

    async def enqueue(self) -> int:
        async with self.app.state.nabat.sessions() as session:
            [row] = await enqueue(
                session,
                [NewDelivery(1, None, "WEBHOOK", {"payload": {}})],
                now=self.clock.now(),
                max_attempts=3,
            )
            await session.commit()
        return row.id

    async def claim(self, worker: str) -> list[Claimed]:
        async with self.app.state.nabat.sessions() as session:
            return await claim(
                session,
                worker=worker,
                now=self.clock.now(),
                lease=LEASE,
                limit=10,
                dead_after=DEAD_AFTER,
            )

    async def any_due(self, worker: str) -> bool:
        async with self.app.state.nabat.sessions() as session:
            return await any_due(
                session, now=self.clock.now(), worker=worker, dead_after=DEAD_AFTER
            )

    async def row(self, delivery_id: int) -> Delivery:
        sessions: async_sessionmaker[AsyncSession] = self.app.state.nabat.sessions
        async with sessions() as session:
            return (await session.scalars(select(Delivery).where(Delivery.id == delivery_id))).one()

    async def owners(self) -> list[str]:
        async with self.app.state.nabat.sessions() as session:
            return list((await session.scalars(select(WorkerBeat.owner))).all())


@pytest.fixture
def queue(app: FastAPI, settings: Settings) -> Queue:
    live = settings.model_copy(
        update={"lease_seconds": LEASE.total_seconds(), "heartbeat_seconds": 1.0}
    )
    return Queue(app, FrozenClock(datetime.now().astimezone()), live)


def _sent(delivery_id: int, at: datetime) -> Outcome:
    return Outcome(
        delivery_id=delivery_id,
        status=DeliveryStatus.SENT,
        next_attempt_at=at,
        attempted=True,
        started_at=at,
        duration_ms=1.0,
        status_code=200,
        failure_class=None,
        reason="HTTP 200",
        provider_id=None,
        attempt_number=1,
    )


async def test_a_row_of_an_owner_that_stopped_beating_is_claimable_before_its_lease_ends(
    queue: Queue,
) -> None:
    delivery_id = await queue.enqueue()
    await queue.liveness("crashed").register()
    assert [c.id for c in await queue.claim("crashed")] == [delivery_id]
    queue.clock.advance(DEAD_AFTER.total_seconds() - 1)
    assert not await queue.any_due("rescuer")
    assert await queue.claim("rescuer") == []

    queue.clock.advance(2)  # no beat for longer than DEAD_AFTER; the lease has 24 s left
    assert await queue.any_due("rescuer")
    assert [c.id for c in await queue.claim("rescuer")] == [delivery_id]
    assert (await queue.row(delivery_id)).lease_owner == "rescuer"


async def test_a_beating_owner_keeps_its_row_long_past_its_first_lease(queue: Queue) -> None:
    delivery_id = await queue.enqueue()
    owner = queue.liveness("alive")
    await owner.register()
    await queue.claim("alive")
    for _ in range(3 * int(LEASE.total_seconds())):
        queue.clock.advance(1)
        await owner.beat()
        assert await queue.claim("other") == []
    row = await queue.row(delivery_id)
    assert row.status == DeliveryStatus.SENDING
    assert row.lease_owner == "alive"


async def test_a_worker_whose_row_was_taken_over_cannot_settle_it(queue: Queue) -> None:
    delivery_id = await queue.enqueue()
    await queue.liveness("stalled").register()
    await queue.claim("stalled")
    queue.clock.advance(DEAD_AFTER.total_seconds() + 1)
    await queue.claim("rescuer")

    async with queue.app.state.nabat.sessions() as session:
        owned = await settle(
            session,
            [_sent(delivery_id, queue.clock.now())],
            worker="stalled",
            now=queue.clock.now(),
        )
        await session.commit()
    assert owned == set()
    row = await queue.row(delivery_id)
    assert (row.status, row.lease_owner, row.attempts) == (DeliveryStatus.SENDING, "rescuer", 0)


async def test_a_worker_never_takes_its_own_rows_for_a_dead_owners(queue: Queue) -> None:
    delivery_id = await queue.enqueue()
    await queue.liveness("slow").register()
    await queue.claim("slow")
    queue.clock.advance(DEAD_AFTER.total_seconds() + 1)  # its own heartbeat is late
    assert not await queue.any_due("slow")
    assert await queue.claim("slow") == []
    queue.clock.advance(LEASE.total_seconds())  # but a lease that ran out is anyone's
    assert [c.id for c in await queue.claim("slow")] == [delivery_id]


async def test_an_owner_that_never_registered_keeps_its_rows_until_the_lease_ends(
    queue: Queue,
) -> None:
    delivery_id = await queue.enqueue()
    await queue.claim("burst-mode")
    queue.clock.advance(LEASE.total_seconds() - 1)
    assert await queue.claim("other") == []
    queue.clock.advance(2)
    assert [c.id for c in await queue.claim("other")] == [delivery_id]


async def test_deregistering_hands_leftover_rows_back_due_at_once(queue: Queue) -> None:
    delivery_id = await queue.enqueue()
    owner = queue.liveness("leaving")
    await owner.register()
    await queue.claim("leaving")
    await owner.deregister()
    row = await queue.row(delivery_id)
    assert (row.status, row.lease_owner) == (DeliveryStatus.QUEUED, None)
    assert await queue.owners() == []
    assert [c.id for c in await queue.claim("other")] == [delivery_id]


async def test_a_beat_forgets_owners_silent_for_an_hour_and_restores_its_own_row(
    queue: Queue,
) -> None:
    await queue.liveness("long-gone").register()
    queue.clock.advance(3601)
    survivor = queue.liveness("survivor")
    await survivor.beat()  # never registered, or forgotten during a long stall: re-created
    assert await queue.owners() == ["survivor"]


async def test_workers_of_a_process_lease_as_its_liveness_owner(app: FastAPI) -> None:
    state = app.state.nabat
    assert state.new_worker().owner == state.liveness.owner
    assert state.new_worker().lease(state.clock.now()).owner == state.liveness.owner


async def test_the_heartbeat_loop_renews_until_stopped_then_hands_back_and_leaves(
    queue: Queue,
) -> None:
    delivery_id = await queue.enqueue()
    owner = queue.liveness("looping")
    await owner.register()
    await queue.claim("looping")
    stop = asyncio.Event()
    beating = asyncio.create_task(owner.run(stop))
    await asyncio.sleep(0)  # at least one beat starts
    stop.set()
    await beating
    assert await queue.owners() == []
    row = await queue.row(delivery_id)
    assert (row.status, row.lease_owner) == (DeliveryStatus.QUEUED, None)
