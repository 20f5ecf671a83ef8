"""Routing respects what each person wants: their switches per type and channel kind, the
project's defaults, mandatory types, and quiet hours (docs/routing.md, "Preferences")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event as sql_event

from nabat.clock import FrozenClock
from nabat.models.account import Role
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.telegram import TelegramFake
from tests.fakes.webhook import WebhookReceiver
from tests.support.hours import frozen_app, move_to
from tests.support.preferences import (
    DEFAULTS,
    EVENTS,
    channel,
    chat_of,
    mail,
    member,
    post,
    quiet_now,
    recorded,
    state_of,
    switch,
    telegram,
)

DELIVERIES = "/api/v1/notifications/deliveries"
TYPES = "/api/v1/notification-types"


async def test_a_kind_switched_off_suppresses_that_persons_delivery_saying_who_what_and_how(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    tg = await telegram(client, admin_headers, None)
    email = await mail(client, admin_headers)
    hook = await channel(client, admin_headers, "WEBHOOK", {"url": receiver.url})
    await chat_of(client, admin_headers, "777")
    await switch(client, admin_headers, "telegram", False)
    accepted = await post(client, admin_headers, [tg, email, hook], ["admin"])
    statuses = sorted((d["channelType"], d["status"]) for d in accepted["deliveries"])
    # A webhook posts to its own place: nobody's switch reaches it.
    assert statuses == [("EMAIL", "QUEUED"), ("TELEGRAM", "SUPPRESSED"), ("WEBHOOK", "QUEUED")]
    held = (await recorded(client, admin_headers, accepted))[("TELEGRAM", "777")]
    assert held["suppressedBy"] == "PREFERENCE"
    assert held["reason"] == "admin switched off telegram notifications of the type 'service.down'"
    # Another type over the same kind still goes.
    other = await client.post(
        EVENTS,
        json={"type": "service.up", "message": "back", "channelIds": [tg], "recipients": ["admin"]},
        headers=admin_headers,
    )
    assert [d["status"] for d in other.json()["deliveries"]] == ["QUEUED"]


async def test_the_projects_default_applies_to_people_without_a_switch_of_their_own(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    tg = await telegram(client, admin_headers, None)
    _, bob = await member(app, "bob", Role.VIEWER)
    await chat_of(client, admin_headers, "777")
    await chat_of(client, bob, "888")
    await switch(client, admin_headers, "telegram", False, path=DEFAULTS)
    await switch(client, admin_headers, "telegram", True)
    accepted = await post(client, admin_headers, [tg], ["admin", "bob"])
    found = await recorded(client, admin_headers, accepted)
    assert found[("TELEGRAM", "777")]["status"] == "QUEUED"
    held = found[("TELEGRAM", "888")]
    assert (held["status"], held["suppressedBy"]) == ("SUPPRESSED", "PREFERENCE")
    assert held["reason"] == (
        "telegram notifications of the type 'service.down' are off by this project's "
        "default, and bob has not switched them on"
    )
    # Dropping one's own switch goes back to the default.
    await switch(client, admin_headers, "telegram", None)
    again = await post(client, admin_headers, [tg], ["admin"])
    assert [d["status"] for d in again["deliveries"]] == ["SUPPRESSED"]


async def test_a_mandatory_type_is_sent_whatever_the_switches_and_defaults_say(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    tg = await telegram(client, admin_headers, None)
    await chat_of(client, admin_headers, "777")
    await switch(client, admin_headers, "telegram", False)
    await switch(client, admin_headers, "telegram", False, path=DEFAULTS)
    made = await client.put(
        f"{TYPES}/service.down", json={"mandatory": True}, headers=admin_headers
    )
    assert made.status_code == 200, made.text
    assert made.json()["mandatory"] is True
    accepted = await post(client, admin_headers, [tg], ["admin"])
    assert [d["status"] for d in accepted["deliveries"]] == ["QUEUED"]
    # Made optional again, the switch a person left behind counts once more.
    await client.put(f"{TYPES}/service.down", json={"mandatory": False}, headers=admin_headers)
    accepted = await post(client, admin_headers, [tg], ["admin"])
    assert [d["status"] for d in accepted["deliveries"]] == ["SUPPRESSED"]


async def test_the_projects_switch_of_a_type_stays_the_master_switch(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    tg = await telegram(client, admin_headers, None)
    await chat_of(client, admin_headers, "777")
    await switch(client, admin_headers, "telegram", False)
    off = await client.put(f"{TYPES}/service.down", json={"enabled": False}, headers=admin_headers)
    assert off.status_code == 200, off.text
    accepted = await post(client, admin_headers, [tg], ["admin"])
    [held] = (await recorded(client, admin_headers, accepted)).values()
    assert held["suppressedBy"] == "TYPE_DISABLED"


async def test_a_fallback_channel_the_person_switched_off_is_left_out_of_their_chain(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    email = await mail(client, admin_headers)
    tg = await telegram(client, admin_headers, None)
    await chat_of(client, admin_headers, "777")
    await switch(client, admin_headers, "telegram", False)
    made = await client.post(
        "/api/v1/rules",
        json={
            "name": "downs",
            "match": {"types": ["service.down"]},
            "actions": [{"channelId": email, "recipients": ["admin"], "fallbackChannelIds": [tg]}],
        },
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    body = {"type": "service.down", "severity": "ERROR", "message": "billing is down"}
    accepted = (await client.post(EVENTS, json=body, headers=admin_headers)).json()
    [delivery] = accepted["deliveries"]
    assert delivery["status"] == "QUEUED"
    detail = (await client.get(f"{DELIVERIES}/{delivery['id']}", headers=admin_headers)).json()
    assert detail["fallback"] == []
    [note] = [n for n in accepted["notes"] if n["code"] == "PREFERENCE"]
    assert note["message"] == (
        f"channel {tg} is left out of the fallback chain: admin switched off telegram "
        "notifications of the type 'service.down'"
    )


@contextmanager
def personal_reads(app: FastAPI) -> Iterator[list[str]]:
    """The statements that read people's own switches and quiet hours, as they run."""
    seen: list[str] = []
    engine = state_of(app).engine.sync_engine

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "UNION ALL" in statement and "quiet_hours" in statement:
            seen.append(statement)

    sql_event.listen(engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        sql_event.remove(engine, "before_cursor_execute", watch)


async def test_peoples_settings_are_read_once_per_request_and_only_when_someone_has_any(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    tg = await telegram(client, admin_headers, None)
    _, bob = await member(app, "bob", Role.MEMBER)
    await chat_of(client, admin_headers, "777")
    await chat_of(client, bob, "888")
    with personal_reads(app) as reads:
        await post(client, admin_headers, [tg], ["admin", "bob"])
    assert reads == []
    await switch(client, bob, "telegram", False)
    with personal_reads(app) as reads:
        accepted = await post(client, admin_headers, [tg], ["admin", "bob"])
    assert len(reads) == 1
    assert sorted(d["status"] for d in accepted["deliveries"]) == ["QUEUED", "SUPPRESSED"]


# --- quiet hours, on a clock that moves only when told to --------------------------------


@pytest.fixture
async def frozen(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    """The application on a frozen clock (the top of an hour two days back)."""
    async with frozen_app(settings) as running:
        yield running


@pytest.fixture
async def telegram_fake() -> AsyncIterator[TelegramFake]:
    """A Telegram Bot API on 127.0.0.1."""
    async with TelegramFake() as fake:
        yield fake


async def test_quiet_hours_hold_an_external_delivery_until_they_end(
    frozen: tuple[FastAPI, FrozenClock], telegram_fake: TelegramFake
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        tg = await telegram(client, headers, telegram_fake.api_base_url())
        await chat_of(client, headers, "777")
        await quiet_now(client, headers, clock)
        ends = clock.now() + timedelta(hours=2)
        accepted = await post(client, headers, [tg], ["admin"])
        [delivery] = accepted["deliveries"]
        assert delivery["status"] == "QUEUED"
        [note] = [n for n in accepted["notes"] if n["code"] == "QUIET_HOURS"]
        assert "the quiet hours of admin end" in note["message"]
        detail = (await client.get(f"{DELIVERIES}/{delivery['id']}", headers=headers)).json()
        assert detail["nextAttemptAt"] == ends.isoformat().replace("+00:00", "Z")
        worker = state_of(app).new_worker()
        await worker.run_until_idle()
        assert telegram_fake.sent == []
        move_to(clock, ends - timedelta(seconds=1))
        await worker.run_until_idle()
        assert telegram_fake.sent == []
        move_to(clock, ends)
        await worker.run_until_idle()
        assert [sent.chat_id for sent in telegram_fake.sent] == [777]
        done = (await client.get(f"{DELIVERIES}/{delivery['id']}", headers=headers)).json()
        assert done["status"] == "SENT"


@pytest.mark.parametrize(("severity", "enabled"), [("CRITICAL", True), ("ERROR", False)])
async def test_a_critical_event_or_quiet_hours_switched_off_hold_nothing(
    frozen: tuple[FastAPI, FrozenClock], telegram_fake: TelegramFake, severity: str, enabled: bool
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        tg = await telegram(client, headers, telegram_fake.api_base_url())
        await chat_of(client, headers, "777")
        await quiet_now(client, headers, clock, enabled=enabled)
        accepted = await post(client, headers, [tg], ["admin"], severity=severity)
        assert not [n for n in accepted["notes"] if n["code"] == "QUIET_HOURS"]
        await state_of(app).new_worker().run_until_idle()
        assert [sent.chat_id for sent in telegram_fake.sent] == [777]
