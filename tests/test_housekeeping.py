"""Expired idempotency and dedup keys are removed; live ones stay and keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from nabat.app import create_app
from nabat.clock import FrozenClock
from nabat.models.event import EventKey
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login

EVENTS = "/api/v1/events"


@pytest.fixture
async def frozen(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    clock = FrozenClock(datetime.now(UTC))
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application, clock


async def _keys(app: FastAPI) -> list[str]:
    async with app.state.nabat.sessions() as session:
        return list(await session.scalars(select(EventKey.key).order_by(EventKey.key)))


async def test_expired_keys_are_swept_and_live_ones_stay(
    frozen: tuple[FastAPI, FrozenClock],
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        # A dedup key held for the default hour, and an idempotency key held for 24 hours.
        await client.post(EVENTS, json={"type": "test", "dedupKey": "d"}, headers=headers)
        await client.post(
            EVENTS, json={"type": "test"}, headers={**headers, "Idempotency-Key": "i"}
        )
        assert len(await _keys(app)) == 2
        assert await app.state.nabat.housekeeper.sweep() == 0

        clock.advance(2 * 3600)
        assert await app.state.nabat.housekeeper.sweep() == 1
        [left] = await _keys(app)
        assert left.startswith("idem:")
        # The dedup window is over: the same key is news again, and holds a new key.
        again = await client.post(EVENTS, json={"type": "test", "dedupKey": "d"}, headers=headers)
        assert again.json()["status"] == "ACCEPTED"

        clock.advance(24 * 3600)
        assert await app.state.nabat.housekeeper.sweep() == 2
        async with app.state.nabat.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(EventKey)) == 0
