"""Preferences over the in-app inbox: its kind can be switched off like any other, and
quiet hours never hold an item back while an external channel waits them out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from nabat.clock import FrozenClock
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.telegram import TelegramFake
from tests.support.hours import frozen_app, move_to
from tests.support.inbox import INBOX, inapp_channel
from tests.support.preferences import chat_of, post, quiet_now, state_of, switch, telegram


@pytest.fixture
async def frozen(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    """The application on a frozen clock (the top of an hour two days back)."""
    async with frozen_app(settings) as running:
        yield running


async def inbox_titles(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    listed = await client.get(INBOX, headers=headers)
    assert listed.status_code == 200, listed.text
    return [item["title"] for item in listed.json()["items"]]


async def test_switching_off_the_inbox_suppresses_its_item_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    inapp = (await inapp_channel(client, admin_headers))["id"]
    await switch(client, admin_headers, "inapp", False)
    accepted = await post(client, admin_headers, [inapp], ["admin"])
    assert [d["status"] for d in accepted["deliveries"]] == ["SUPPRESSED"]
    await state_of(app).new_worker().run_until_idle()
    assert await inbox_titles(client, admin_headers) == []
    record = await client.get(f"/api/v1/events/{accepted['eventId']}", headers=admin_headers)
    [held] = record.json()["deliveries"]
    assert held["suppressedBy"] == "PREFERENCE"
    assert held["reason"] == "admin switched off inapp notifications of the type 'service.down'"


async def test_in_quiet_hours_the_inbox_collects_at_once_while_telegram_waits(
    frozen: tuple[FastAPI, FrozenClock],
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with (
        TelegramFake() as fake,
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):
        headers = await login(client, "admin", ADMIN_PASSWORD)
        inapp = (await inapp_channel(client, headers))["id"]
        tg = await telegram(client, headers, fake.api_base_url())
        await chat_of(client, headers, "777")
        await quiet_now(client, headers, clock)
        ends = clock.now() + timedelta(hours=2)
        accepted = await post(client, headers, [inapp, tg], ["admin"])
        assert sorted(d["status"] for d in accepted["deliveries"]) == ["QUEUED", "QUEUED"]
        worker = state_of(app).new_worker()
        await worker.run_until_idle()
        assert len(await inbox_titles(client, headers)) == 1
        assert fake.sent == []
        move_to(clock, ends)
        await worker.run_until_idle()
        assert [sent.chat_id for sent in fake.sent] == [777]
        assert len(await inbox_titles(client, headers)) == 1
