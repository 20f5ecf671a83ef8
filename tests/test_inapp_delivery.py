"""The in-app channel end to end: every project has one; rules route to members' inboxes
through the real worker; a test send lands in the tester's inbox; one item per delivery;
old items go; the inbox signal is heard only once the item is committed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from nabat.app import create_app
from nabat.channels.contract import InboxDraft
from nabat.clock import FrozenClock
from nabat.delivery.inbox import store_items
from nabat.delivery.queue import Claimed
from nabat.models.account import User
from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth, Delivery
from nabat.models.inbox import InboxChange, InboxItem
from nabat.services.inapp_channels import add_inapp_channels
from nabat.settings import Settings
from nabat.signals import INBOX
from nabat.signals.inbox import read_inbox_payload
from nabat.state import AppState
from tests.conftest import ADMIN_PASSWORD, login
from tests.fakes.inbox import changes_of, inbox_of
from tests.support.delivery import deliver, webhook_channel
from tests.support.inbox import CHANNELS, inapp_channel, inbox_rule, member, post_event


async def admin_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    profile = await client.get("/api/auth/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    user_id: int = profile.json()["id"]
    return user_id


async def test_every_project_has_an_enabled_in_app_channel_that_is_not_the_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    channel = await inapp_channel(client, admin_headers)
    assert channel["enabled"] is True
    assert channel["isDefault"] is False
    assert channel["name"] == "Входящие"  # the project's language is Russian at first
    assert channel["configuration"] == {}
    made = await client.post(
        "/api/v1/projects", json={"name": "Second", "slug": "second"}, headers=admin_headers
    )
    assert made.status_code == 201, made.text
    in_second = await inapp_channel(client, {**admin_headers, "X-Nabat-Project": "second"})
    assert in_second["id"] != channel["id"]
    state: AppState = app.state.nabat
    # At the next start nothing is made twice.
    async with state.sessions() as session:
        assert await add_inapp_channels(session, state.box, state.clock) == 0
        await session.commit()
        count = await session.scalar(
            select(func.count()).select_from(Channel).where(Channel.type == "INAPP")
        )
    assert count == 2


async def test_a_project_without_one_gets_it_at_the_next_start(settings: Settings) -> None:
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        state: AppState = first.state.nabat
        async with state.sessions() as session:
            await session.execute(delete(Channel))
            await session.commit()
    again = create_app(settings)
    async with again.router.lifespan_context(again):
        transport = httpx.ASGITransport(app=again)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = await login(client, "admin", ADMIN_PASSWORD)
            assert (await inapp_channel(client, headers))["enabled"] is True


async def test_the_in_app_channel_can_be_switched_off_but_not_deleted_doubled_or_retyped(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    channel = await inapp_channel(client, admin_headers)
    url = f"{CHANNELS}/{channel['id']}"
    off = await client.put(url, json={"enabled": False}, headers=admin_headers)
    assert off.status_code == 200, off.text
    assert off.json()["enabled"] is False
    based = await client.put(
        url,
        json={"configuration": {"linkBaseUrl": "https://desk.example.org"}},
        headers=admin_headers,
    )
    assert based.json()["configuration"] == {"linkBaseUrl": "https://desk.example.org"}

    deleted = await client.delete(url, headers=admin_headers)
    assert deleted.status_code == 409, deleted.text
    assert "switch it off instead" in deleted.json()["error"]
    second = await client.post(
        CHANNELS,
        json={"name": "another inbox", "type": "INAPP", "configuration": {}},
        headers=admin_headers,
    )
    assert second.status_code == 409, second.text
    assert f"(channel {channel['id']})" in second.json()["error"]
    retyped = await client.put(
        url,
        json={"type": "WEBHOOK", "configuration": {"url": "https://hooks.example.org/x"}},
        headers=admin_headers,
    )
    assert retyped.status_code == 422, retyped.text
    assert retyped.json()["details"][0]["field"] == "type"
    hook = await webhook_channel(client, admin_headers, "https://hooks.example.org/x")
    into = await client.put(
        f"{CHANNELS}/{hook}", json={"type": "INAPP", "configuration": {}}, headers=admin_headers
    )
    assert into.status_code == 422, into.text
    assert "another channel cannot become one" in into.json()["error"]
    listed = await client.get(CHANNELS, headers=admin_headers)
    assert sorted(c["type"] for c in listed.json()) == ["INAPP", "WEBHOOK"]


async def test_a_rule_puts_an_item_in_the_inbox_of_each_member_it_names(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    anna, _ = await member(client, admin_headers, "anna", "Anna Smirnova")
    admin = await admin_id(client, admin_headers)
    await inbox_rule(
        client,
        admin_headers,
        ["anna", "admin@example.org", "stranger@example.net"],
        types=["service.*"],
    )
    accepted = await post_event(client, admin_headers, data={"link": "https://desk.example.org/1"})
    assert [(n["code"], n["recipient"]) for n in accepted["notes"]] == [
        ("USER_NOT_FOUND", "stranger@example.net")
    ]
    assert sorted(d["recipient"] for d in accepted["deliveries"]) == sorted([str(anna), str(admin)])
    state: AppState = app.state.nabat
    assert await inbox_of(state, anna) == []  # nothing before the worker sends it
    await deliver(app)

    for user_id in (anna, admin):
        [item] = await inbox_of(state, user_id)
        assert item.title == "Сервис «Billing API» недоступен"
        assert item.body == "No answer within 10 s."
        assert item.link == "https://desk.example.org/1"
        assert (item.type_key, item.severity) == ("service.down", "CRITICAL")
        assert item.event_id == accepted["eventId"]
        assert (item.seen_at, item.read_at, item.archived_at) == (None, None, None)
        assert [(kind, of) for _, kind, of in await changes_of(state, user_id)] == [
            ("new", item.id)
        ]
    async with state.sessions() as session:
        rows = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
    assert [row.status for row in rows] == ["SENT", "SENT"]
    assert all(row.provider_id == row.public_id for row in rows)


async def test_a_switched_off_in_app_channel_delivers_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    anna, _ = await member(client, admin_headers, "anna")
    channel = await inapp_channel(client, admin_headers)
    await inbox_rule(client, admin_headers, ["anna"], types=["service.*"])
    await client.put(f"{CHANNELS}/{channel['id']}", json={"enabled": False}, headers=admin_headers)
    accepted = await post_event(client, admin_headers)
    assert accepted["deliveries"] == []
    assert [n["code"] for n in accepted["notes"]] == ["CHANNEL_DISABLED"]
    await deliver(app)
    assert await inbox_of(app.state.nabat, anna) == []


async def test_an_in_app_test_lands_in_the_testers_own_inbox(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    anna, _ = await member(client, admin_headers, "anna")
    channel = await inapp_channel(client, admin_headers)
    tested = await client.post(
        f"{CHANNELS}/{channel['id']}/test",
        json={"message": "Is the bell ringing?", "recipient": "anna"},
        headers=admin_headers,
    )
    assert tested.status_code == 200, tested.text
    assert tested.json()["message"] == "Тестовое уведомление добавлено в ваши входящие"
    state: AppState = app.state.nabat
    [item] = await inbox_of(state, await admin_id(client, admin_headers))
    assert item.body == "Is the bell ringing?"
    assert item.type_key == "test"
    assert item.event_id is None
    assert await inbox_of(state, anna) == []


async def test_one_item_per_delivery_however_often_it_is_settled(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    anna, _ = await member(client, admin_headers, "anna")
    await inbox_rule(client, admin_headers, ["anna"], types=["service.*"])
    await post_event(client, admin_headers)
    await deliver(app)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        row = await session.scalar(select(Delivery))
        assert row is not None
        claimed = Claimed(
            id=row.id,
            public_id=row.public_id,
            project_id=row.project_id,
            channel_id=row.channel_id,
            channel_type=row.channel_type,
            kind=row.kind,
            recipient=row.recipient,
            content=row.content,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
        )
    draft = InboxDraft(title="again", body="again")
    for _ in range(2):
        async with state.sessions() as session:
            assert (
                await store_items(session, [(claimed, draft), (claimed, draft)], now=row.created_at)
                == []
            )
            await session.commit()
    [item] = await inbox_of(state, anna)
    assert item.title != "again"
    assert [kind for _, kind, _ in await changes_of(state, anna)] == ["new"]


async def test_an_item_for_an_account_gone_since_routing_is_not_made(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    await member(client, admin_headers, "anna")
    await inbox_rule(client, admin_headers, ["anna"], types=["service.*"])
    await post_event(client, admin_headers)
    state: AppState = app.state.nabat
    async with state.sessions() as session:
        await session.execute(delete(User).where(User.username == "anna"))
        await session.commit()
    await deliver(app)
    async with state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxItem)) == 0
        [status] = list(await session.scalars(select(Delivery.status)))
    assert status == "SENT"


@pytest.fixture
async def frozen(settings: Settings) -> AsyncIterator[tuple[FastAPI, FrozenClock]]:
    clock = FrozenClock(datetime.now(UTC))
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application, clock


async def test_items_and_changes_past_the_retention_are_removed(
    frozen: tuple[FastAPI, FrozenClock],
) -> None:
    app, clock = frozen
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = await login(client, "admin", ADMIN_PASSWORD)
        await inbox_rule(client, headers, ["admin"], types=["service.*"])
        await post_event(client, headers)
        await deliver(app)
        clock.advance(80 * 86400)
        await post_event(client, headers, source={"name": "Search"})
        await deliver(app)
        state: AppState = app.state.nabat
        admin = await admin_id(client, headers)
        [old, new] = await inbox_of(state, admin)
        read = await client.post(f"/api/v1/inbox/{old.id}/read", headers=headers)
        assert read.status_code == 200, read.text
        assert await state.housekeeper.sweep() == 0

        clock.advance(11 * 86400)  # the first item is 91 days old, its read 11 days
        assert await state.housekeeper.sweep() == 2
        assert [item.id for item in await inbox_of(state, admin)] == [new.id]
        assert [(kind, item) for _, kind, item in await changes_of(state, admin)] == [
            ("new", new.id),
            ("read", old.id),
        ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_inbox_signal_is_heard_once_the_item_is_committed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI, settings: Settings
) -> None:
    anna, _ = await member(client, admin_headers, "anna")
    await inbox_rule(client, admin_headers, ["anna"], types=["service.*"])
    await post_event(client, admin_headers)
    state: AppState = app.state.nabat
    database = settings.effective_database_url.split("///", 1)[1]
    heard: list[tuple[dict[int, int], list[tuple[int, str]]]] = []

    def listener(payload: str | None) -> None:
        # Read from outside Nabat's connections, at the moment of the signal: what another
        # process's stream would find.
        assert payload is not None
        named = read_inbox_payload(payload)
        with sqlite3.connect(database) as outside:
            rows = outside.execute(
                "SELECT id, kind FROM inbox_changes WHERE user_id = ?", (anna,)
            ).fetchall()
        heard.append((named, rows))

    subscription = state.signals.subscribe(INBOX, listener)
    try:
        await deliver(app)
    finally:
        subscription.close()
    [(named, rows)] = heard
    [(change_id, kind)] = rows
    assert named == {anna: change_id}
    assert kind == "new"


async def test_a_failing_channel_is_told_to_the_admins_inboxes_when_in_app_is_the_default(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    inapp = await inapp_channel(client, admin_headers)
    await client.put(f"{CHANNELS}/{inapp['id']}", json={"isDefault": True}, headers=admin_headers)
    # Nothing listens on this port: every attempt fails at once.
    hook = await webhook_channel(client, admin_headers, "http://127.0.0.1:9/down")
    rule = await client.post(
        "/api/v1/rules",
        json={"name": "hook", "match": {"types": ["service.*"]}, "actions": [{"channelId": hook}]},
        headers=admin_headers,
    )
    assert rule.status_code == 201, rule.text
    await post_event(client, admin_headers)
    state: AppState = app.state.nabat
    admin = await admin_id(client, admin_headers)
    anna, _ = await member(client, admin_headers, "anna")  # a member, not an admin
    for _ in range(5):
        await deliver(app)
        if await inbox_of(state, admin):
            break
        async with state.sessions() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.status == "FAILED")
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
    [item] = await inbox_of(state, admin)
    assert item.type_key == "channel.failing"
    assert await inbox_of(state, anna) == []


async def test_without_the_choice_the_in_app_channel_carries_no_health_notice(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    await webhook_channel(client, admin_headers, "http://127.0.0.1:9/down", isDefault=True)
    await post_event(client, admin_headers)
    state: AppState = app.state.nabat
    for _ in range(5):
        await deliver(app)
        async with state.sessions() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.status == "FAILED")
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
    async with state.sessions() as session:
        assert await session.scalar(select(ChannelHealth.failing)) is True
        kinds = list(await session.scalars(select(Delivery.kind)))
        assert await session.scalar(select(func.count()).select_from(InboxChange)) == 0
    assert kinds == ["notification"]
