"""The durable scheduler on both databases: recurring and one-time jobs fire when due,
once per firing whichever of two schedulers looks, a dead holder's job is taken over,
a job missed while nothing ran fires once and late, and a failing handler is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, update

from nabat.clock import FrozenClock
from nabat.models.liveness import WorkerBeat
from nabat.models.schedule import ScheduledJob
from nabat.scheduler import Firing, Handler, Recurring, Scheduler, schedule_once, unschedule
from nabat.state import AppState


class Recorder:
    """A handler that keeps every firing it got (and can be told to fail)."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self.fail = False

    async def __call__(self, firing: Firing) -> None:
        self.firings.append(firing)
        if self.fail:
            raise RuntimeError("the handler broke")


@pytest.fixture
def state(app: FastAPI) -> AppState:
    running: AppState = app.state.nabat
    return running


def scheduler(
    state: AppState,
    clock: FrozenClock,
    owner: str,
    *,
    recurring: list[Recurring] | None = None,
    handlers: dict[str, Handler] | None = None,
) -> Scheduler:
    return Scheduler(
        sessions=state.sessions,
        gate=state.write_gate,
        clock=clock,
        owner=owner,
        dead_after=timedelta(seconds=5),
        recurring=recurring or [],
        handlers=handlers,
    )


async def beat(state: AppState, owner: str, at: datetime) -> None:
    async with state.sessions() as session:
        await session.execute(insert(WorkerBeat).values(owner=owner, started_at=at, beat_at=at))
        await session.commit()


async def test_a_recurring_job_fires_at_once_then_every_interval(state: AppState) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    tick = Recorder()
    running = scheduler(state, clock, "a", recurring=[Recurring("tick", 60, tick)])
    await running.started()
    await running.round()
    assert [f.key for f in tick.firings] == ["tick"]
    assert tick.firings[0].late is False
    clock.advance(59)
    await running.round()
    assert len(tick.firings) == 1
    clock.advance(1)
    await running.round()
    assert len(tick.firings) == 2
    # Starting again (a restart) keeps the schedule as it is.
    await running.started()
    await running.round()
    assert len(tick.firings) == 2


async def test_a_missed_job_fires_once_on_start_marked_late(state: AppState) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    tick = Recorder()
    first = scheduler(state, clock, "a", recurring=[Recurring("tick", 60, tick)])
    await first.started()
    await first.round()
    # Everything was down for an hour: sixty firings missed, one fires.
    clock.advance(3600)
    again = scheduler(state, clock, "b", recurring=[Recurring("tick", 60, tick)])
    await again.started()
    await again.round()
    await again.round()
    assert len(tick.firings) == 2
    assert tick.firings[1].late is True


async def test_two_schedulers_fire_a_one_time_job_once_and_it_is_removed(
    state: AppState,
) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    remind = Recorder()
    one = scheduler(state, clock, "a", handlers={"remind": remind})
    other = scheduler(state, clock, "b", handlers={"remind": remind})
    due = clock.now() + timedelta(minutes=5)
    async with state.sessions() as session:
        await schedule_once(session, key="remind:1", kind="remind", due_at=due, payload={"n": 1})
        await session.commit()
    await one.round()
    assert remind.firings == []
    clock.advance(300)
    await one.round()
    await other.round()
    assert [(f.key, f.payload, f.firing_key) for f in remind.firings] == [
        ("remind:1", {"n": 1}, f"remind:1@{due.isoformat()}")
    ]
    async with state.sessions() as session:
        assert await session.get(ScheduledJob, "remind:1") is None


async def test_rescheduling_moves_a_job_and_unscheduling_removes_it(state: AppState) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    remind = Recorder()
    running = scheduler(state, clock, "a", handlers={"remind": remind})
    async with state.sessions() as session:
        await schedule_once(
            session, key="r", kind="remind", due_at=clock.now(), payload={"at": "first"}
        )
        await schedule_once(
            session,
            key="r",
            kind="remind",
            due_at=clock.now() + timedelta(hours=1),
            payload={"at": "second"},
        )
        await schedule_once(session, key="gone", kind="remind", due_at=clock.now(), payload={})
        await session.commit()
        await unschedule(session, "gone")
        await session.commit()
    await running.round()
    assert remind.firings == []
    clock.advance(3600)
    await running.round()
    assert [f.payload for f in remind.firings] == [{"at": "second"}]


async def test_a_dead_holders_job_is_taken_over_at_once_with_the_same_firing_key(
    state: AppState,
) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    remind = Recorder()
    async with state.sessions() as session:
        await schedule_once(session, key="r", kind="remind", due_at=clock.now(), payload={})
        await session.commit()
    # A process claimed it and died: its heartbeat goes stale, its lease is long.
    await beat(state, "dead", clock.now())
    async with state.sessions() as session:
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.key == "r")
            .values(lease_owner="dead", lease_until=clock.now() + timedelta(minutes=10))
        )
        await session.commit()
    rescuer = scheduler(state, clock, "alive", handlers={"remind": remind})
    await rescuer.round()
    assert remind.firings == []
    clock.advance(6)
    await rescuer.round()
    assert [f.key for f in remind.firings] == ["r"]


async def test_a_failing_handler_is_tried_again_later_with_its_error_kept(
    state: AppState,
) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    tick = Recorder()
    tick.fail = True
    running = scheduler(state, clock, "a", recurring=[Recurring("tick", 3600, tick)])
    await running.started()
    await running.round()
    async with state.sessions() as session:
        row = await session.scalar(select(ScheduledJob).where(ScheduledJob.key == "tick"))
        assert row is not None
        assert row.last_error == "RuntimeError: the handler broke"
        assert row.due_at == clock.now() + timedelta(minutes=1)
        assert row.lease_owner is None
    tick.fail = False
    clock.advance(60)
    await running.round()
    assert len(tick.firings) == 2
    async with state.sessions() as session:
        row = await session.scalar(select(ScheduledJob).where(ScheduledJob.key == "tick"))
        assert row is not None
        assert row.last_error is None
        assert row.due_at == clock.now() + timedelta(hours=1)


async def test_the_process_schedules_housekeeping_and_the_channel_checks(
    state: AppState,
) -> None:
    await state.scheduler.started()
    async with state.sessions() as session:
        keys = set(await session.scalars(select(ScheduledJob.key)))
    assert {"housekeeping", "channel-checks"} <= keys
    assert await state.scheduler.round() is False
