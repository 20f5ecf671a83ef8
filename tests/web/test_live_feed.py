"""The console's live deliveries feed on the live hub: woken by signals, not by a poll
(the hub's resync is set to an hour here), for a delivery queued for other processes'
workers and for one adopted and settled by the in-process worker; announcements of
settled deliveries gathered, and split to stay under the seam's payload limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from nabat.app import create_app
from nabat.live.announce import Announcer, id_payloads, read_ids
from nabat.settings import Settings
from nabat.signals import DELIVERY_CHANGES, LocalSignals
from nabat.signals.base import MAX_PAYLOAD_BYTES
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import webhook_channel
from tests.support.serving import served
from tests.support.sse import Reader
from tests.web.support import console_login

SEND = "/api/v1/notifications/send"
NOTIFICATION = {"status": "DOWN", "severity": "ERROR", "message": "Billing is down"}
WAIT = 10.0


async def _app(settings: Settings, *, workers: bool) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings.model_copy(
            update={
                "run_workers": workers,
                "poll_seconds": 0.1,
                "stream_resync_seconds": 3600.0,
            }
        )
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(params=[True, False], ids=["in-process-worker", "queued"])
async def live(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[FastAPI]:
    """With its in-process worker (deliveries adopted and settled here), or without one
    (deliveries queued for another process's workers)."""
    async for application in _app(settings, workers=request.param):
        yield application


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_feed_is_woken_by_signals_not_by_a_poll(
    live: FastAPI, receiver: WebhookReceiver
) -> None:
    workers = live.state.nabat.settings.run_workers
    async with served(live) as base, httpx.AsyncClient(base_url=base, timeout=WAIT) as http:
        headers = await login(http, "admin", ADMIN_PASSWORD)
        await webhook_channel(http, headers, receiver.url, isDefault=True)
        await console_login(http)
        async with http.stream("GET", "/deliveries/stream") as response:
            assert response.status_code == 200
            stream = Reader(response)
            sent = (await http.post(SEND, json=NOTIFICATION, headers=headers)).json()
            async with asyncio.timeout(WAIT):
                while True:
                    change = (await stream.event("delivery")).data
                    assert change["id"] == sent["deliveryId"]
                    if change["status"] == ("SENT" if workers else "QUEUED"):
                        break


async def test_announcements_close_together_go_out_as_one() -> None:
    signals = LocalSignals()
    heard: list[str | None] = []
    signals.subscribe(DELIVERY_CHANGES, heard.append)
    announcer = Announcer(signals, DELIVERY_CHANGES, window=0.05)
    announcer.announce({1})
    # The first goes out at once: a quiet system shows a change without delay.
    assert heard == ["1"]
    announcer.announce({2})
    announcer.announce({3, 2})
    assert heard == ["1"]
    async with asyncio.timeout(WAIT):
        while len(heard) < 2:  # noqa: ASYNC110 - a listener is a plain callback
            await asyncio.sleep(0.01)
    assert heard == ["1", "2,3"]
    announcer.announce({4})
    announcer.flush()
    assert heard == ["1", "2,3", "4"]


def test_many_projects_take_several_payloads_each_under_the_limit() -> None:
    ids = range(1, 5001)
    payloads = id_payloads(ids)
    assert len(payloads) > 1
    assert all(len(payload.encode()) <= MAX_PAYLOAD_BYTES for payload in payloads)
    assert set().union(*(read_ids(payload) for payload in payloads)) == set(ids)
    assert read_ids("7,x,8") == {7, 8}
