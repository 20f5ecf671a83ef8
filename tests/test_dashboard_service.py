"""The dashboard's counts, made by the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from nabat.services.dashboard import timeline
from nabat.state import AppState
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import deliver, webhook_channel


async def test_this_hours_deliveries_are_counted_by_status_in_the_last_bucket(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    await webhook_channel(client, admin_headers, receiver.url, isDefault=True)
    for _ in range(3):
        body = {"status": "DOWN", "message": "billing is down"}
        sent = await client.post("/api/v1/notifications/send", json=body, headers=admin_headers)
        assert sent.status_code == 200, sent.text
    await deliver(app)
    state: AppState = app.state.nabat
    now = state.clock.now()
    async with state.sessions() as session:
        projects = (await client.get("/api/v1/projects", headers=admin_headers)).json()
        hours = await timeline(session, projects[0]["id"], now=now)
    assert len(hours) == 24
    assert hours[-1].start <= now < hours[-1].start + timedelta(hours=1)
    assert hours[-1].by_status == {"SENT": 3}
    assert all(hour.total == 0 for hour in hours[:-1])
