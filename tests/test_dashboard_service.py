"""The dashboard's counts, made by the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from nabat.clock import FrozenClock
from nabat.services.dashboard import ByChannel, channel_timeline, timeline
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import CHANNELS, deliver, webhook_channel
from tests.support.hours import frozen_app, move_to, send


async def test_this_hours_deliveries_are_counted_by_status_in_the_last_bucket(
    frozen: tuple[FastAPI, FrozenClock], receiver: WebhookReceiver
) -> None:
    app, clock = frozen
    # Half past the hour: the last bucket is this hour's, however long the test takes.
    move_to(clock, clock.now() + timedelta(hours=23, minutes=30))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        await webhook_channel(client, headers, receiver.url, isDefault=True)
        for _ in range(3):
            body = {"status": "DOWN", "message": "billing is down"}
            sent = await client.post("/api/v1/notifications/send", json=body, headers=headers)
            assert sent.status_code == 200, sent.text
        await deliver(app)
        project_id = await _project_id(client, headers)
    now = clock.now()
    async with app.state.nabat.sessions() as session:
        hours = await timeline(session, project_id, now=now)
    assert len(hours) == 24
    assert hours[-1].start <= now < hours[-1].start + timedelta(hours=1)
    assert hours[-1].by_status == {"SENT": 3}
    assert all(hour.total == 0 for hour in hours[:-1])


@pytest.fixture
async def frozen(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    """The application on a clock a day back that moves only when told to."""
    async with frozen_app(settings) as running:
        yield running


async def _project_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    projects = (await client.get("/api/v1/projects", headers=headers)).json()
    project_id: int = projects[0]["id"]
    return project_id


def _rows(chart: ByChannel) -> list[tuple[str, str | None, int, dict[int, int]]]:
    """Each row as (kind, name, folded, its non-empty hours by index)."""
    return [
        (
            row.kind.value,
            row.name,
            row.folded,
            {hour: count for hour, count in enumerate(row.per_hour) if count},
        )
        for row in chart.series
    ]


async def test_deliveries_per_hour_by_channel_busiest_first_and_the_rest_folded(
    frozen: tuple[FastAPI, FrozenClock], receiver: WebhookReceiver
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        names = ["golf", "foxtrot", "echo", "delta", "charlie", "bravo", "alpha", "hotel"]
        ids = {
            name: await webhook_channel(client, headers, receiver.url, name=name) for name in names
        }
        start = clock.now()
        move_to(clock, start + timedelta(hours=19, minutes=10))
        await send(client, headers, ids["alpha"], 3)
        await send(client, headers, ids["bravo"])
        move_to(clock, start + timedelta(hours=21, minutes=59))
        await send(client, headers, ids["alpha"])
        await send(client, headers, ids["charlie"], 2)
        move_to(clock, start + timedelta(hours=23, minutes=30))
        for name in ("delta", "echo", "foxtrot", "golf", "hotel"):
            await send(client, headers, ids[name])
        await send(client, headers, ids["bravo"], 2)
        # A deleted channel's deliveries stay, without their channel.
        gone = await client.delete(f"{CHANNELS}/{ids['hotel']}", headers=headers)
        assert gone.status_code == 200, gone.text
        project_id = await _project_id(client, headers)
    async with app.state.nabat.sessions() as session:
        chart = await channel_timeline(session, project_id, now=clock.now())
        shown_all = await channel_timeline(session, project_id, now=clock.now(), shown=7)
    assert len(chart.starts) == 24
    assert chart.starts[0] == start
    assert _rows(chart) == [
        ("channel", "alpha", 0, {19: 3, 21: 1}),
        ("channel", "bravo", 0, {19: 1, 23: 2}),
        ("channel", "charlie", 0, {21: 2}),
        # Equal totals keep the order of their names.
        ("channel", "delta", 0, {23: 1}),
        ("channel", "echo", 0, {23: 1}),
        ("other", None, 3, {23: 3}),
    ]
    assert [row.total for row in chart.series] == [4, 3, 2, 1, 1, 3]
    assert [(row.peak, row.peak_index) for row in chart.series[:3]] == [(3, 19), (2, 23), (2, 21)]
    assert chart.busiest == 3
    assert chart.hour_total(23) == 7
    # Room for all but one: that one keeps its row rather than become an "other" of one.
    assert _rows(shown_all)[-3:] == [
        ("channel", "foxtrot", 0, {23: 1}),
        ("channel", "golf", 0, {23: 1}),
        ("deleted", None, 0, {23: 1}),
    ]


async def test_an_hours_edges_count_in_that_hour_on_both_databases(
    frozen: tuple[FastAPI, FrozenClock], receiver: WebhookReceiver
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        channel = await webhook_channel(client, headers, receiver.url, name="edges")
        last_hour = clock.now() + timedelta(hours=23)
        almost = timedelta(seconds=3599, microseconds=700_000)
        # Just before the window, the previous hour's last moment, the last hour's first
        # and its last.
        for moment in (
            last_hour - timedelta(hours=23, microseconds=300_000),
            last_hour - timedelta(microseconds=300_000),
            last_hour,
            last_hour + almost,
        ):
            move_to(clock, moment)
            await send(client, headers, channel)
        project_id = await _project_id(client, headers)
    async with app.state.nabat.sessions() as session:
        hours = await timeline(session, project_id, now=clock.now())
        chart = await channel_timeline(session, project_id, now=clock.now())
    assert [hour.total for hour in hours[-2:]] == [1, 2]
    assert sum(hour.total for hour in hours) == 3
    [row] = chart.series
    assert (row.name, row.per_hour[-2:], row.total) == ("edges", (1, 2), 3)
