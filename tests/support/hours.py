"""A Nabat whose clock stands a day back and moves only when told to, for tests that put
deliveries in chosen hours of the dashboard's last 24."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from nabat.app import create_app
from nabat.clock import FrozenClock
from nabat.settings import Settings

SEND = "/api/v1/notifications/send"


@asynccontextmanager
async def frozen_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    """The application (lifespan running) and its clock, set to the top of an hour two
    days back. Tokens are checked against the real clock, so they are issued for a week
    here: one issued at any moment of the test's day (all of it in the past) is valid."""
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clock = FrozenClock(top - timedelta(days=2))
    lasting = settings.model_copy(update={"jwt_ttl_seconds": 7 * 86400})
    application = create_app(lasting, clock=clock)
    async with application.router.lifespan_context(application):
        yield application, clock


def move_to(clock: FrozenClock, moment: datetime) -> None:
    """Move ``clock`` on to ``moment``."""
    clock.advance((moment - clock.now()).total_seconds())


async def send(
    client: httpx.AsyncClient, headers: dict[str, str], channel_id: int, times: int = 1
) -> None:
    """Send ``times`` notifications through the API over ``channel_id``."""
    for _ in range(times):
        body = {"status": "DOWN", "message": "billing is down", "channelId": channel_id}
        sent = await client.post(SEND, json=body, headers=headers)
        assert sent.status_code == 200, sent.text
