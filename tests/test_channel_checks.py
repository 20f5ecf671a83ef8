"""Scheduled channel checks against local fakes: Telegram's getMe, an SMS provider's
balance and a Microsoft token for the sender a send would have (no message sent), a test
message for a webhook, one failing and one recovered notice per incident, one check per
due channel however many processes look, and the interval's rules."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from nabat.channels.descriptor import SenderParts
from nabat.channels.python_bot import PYTHON_BOT, PythonBotConfig
from nabat.clock import Clock, FrozenClock
from nabat.errors import ValidationFailed
from nabat.models.channel import Channel
from nabat.services.channel_checks import ChannelChecks
from nabat.services.check_interval import check_interval
from nabat.state import AppState
from tests.fakes.exchange import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT, ExchangeFake
from tests.fakes.sms import running_sms_fakes
from tests.fakes.telegram import TOKEN, TelegramFake
from tests.fakes.webhook import Scripted, WebhookReceiver

CHANNELS = "/api/v1/notifications/channels"
OTHER_TOKEN = "987654321:AAH-other-token-0123456789abcdefXYZ"


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramFake]:
    async with TelegramFake() as fake:
        yield fake


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> int:
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["id"]
    return channel_id


async def _status(client: httpx.AsyncClient, headers: dict[str, str], channel: int) -> Any:
    response = await client.get(f"{CHANNELS}/{channel}/status", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _checks(app: FastAPI, clock: Clock | None = None) -> ChannelChecks:
    """The channel checks of this app's process (on its own clock when given one)."""
    state: AppState = app.state.nabat
    clock = clock or state.clock
    return ChannelChecks(
        sessions=state.sessions,
        gate=state.write_gate,
        clock=clock,
        box=state.box,
        senders=state.senders,
        parts=SenderParts(state.outbound, state.smtp, clock),
        tests=state.test_parts(),
        settings=state.settings,
        wake_workers=state.wake_workers,
    )


async def _notices(app: FastAPI, receiver: WebhookReceiver) -> list[str]:
    """The channel-health notices that reached the notice channel (a webhook)."""
    await app.state.nabat.new_worker("notices").run_until_idle()
    return [
        r.json()["event"]["type"]
        for r in receiver.received
        if isinstance(r.json(), dict) and "event" in r.json()
    ]


async def _due_now(app: FastAPI, channel: int) -> None:
    """Make a channel's next check due (as if its interval had passed)."""
    async with app.state.nabat.sessions() as session:
        await session.execute(
            update(Channel).where(Channel.id == channel).values(next_check_at=Channel.created_at)
        )
        await session.commit()


async def test_a_telegram_check_asks_getme_sends_nothing_and_raises_one_notice_each_way(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    telegram: TelegramFake,
    receiver: WebhookReceiver,
) -> None:
    # Where the notices go: the project's default channel.
    await _create(
        client,
        admin_headers,
        name="ops hook",
        type="WEBHOOK",
        configuration={"url": receiver.url},
        isDefault=True,
    )
    config = {"botToken": OTHER_TOKEN, "chatId": "-1001", "apiBaseUrl": telegram.base_url}
    bot = await _create(
        client,
        admin_headers,
        name="bot",
        type="TELEGRAM",
        configuration=config,
        checkIntervalSeconds=300,
    )
    checks = _checks(app)
    # A token the Bot API does not know: the check fails, the channel is failing.
    assert await checks.sweep() == 1
    status = await _status(client, admin_headers, bot)
    assert status["failing"] is True
    assert status["lastCheckOk"] is False
    assert "401" in status["lastCheckError"] or "token" in status["lastCheckError"].lower()
    assert OTHER_TOKEN.split(":")[1] not in status["lastCheckError"]
    # Not due again before its interval: a second round checks nothing.
    asked = len(telegram.requests)
    await checks.sweep()
    assert len(telegram.requests) == asked
    # Still broken at the next check: no second notice.
    await _due_now(app, bot)
    await checks.sweep()
    assert await _notices(app, receiver) == ["channel.failing"]
    # Repaired: the next check recovers it, one notice.
    telegram.tokens.add(OTHER_TOKEN)
    await _due_now(app, bot)
    await checks.sweep()
    status = await _status(client, admin_headers, bot)
    assert (status["failing"], status["lastCheckOk"], status["lastCheckError"]) == (
        False,
        True,
        None,
    )
    assert await _notices(app, receiver) == ["channel.failing", "channel.recovered"]
    assert {r.path.rsplit("/", 1)[1] for r in telegram.requests} == {"getMe"}


async def test_a_webhook_check_sends_a_test_message_and_a_failing_answer_marks_it_failing(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    hook = await _create(
        client,
        admin_headers,
        name="checked hook",
        type="WEBHOOK",
        configuration={"url": f"{receiver.url}/checked"},
        checkIntervalSeconds=60,
    )
    checks = _checks(app)
    await checks.sweep()
    [test] = receiver.received
    assert test.path == "/checked"
    assert (await _status(client, admin_headers, hook))["lastCheckOk"] is True
    receiver.default = Scripted(500, "broken")
    await _due_now(app, hook)
    await checks.sweep()
    status = await _status(client, admin_headers, hook)
    assert status["failing"] is True
    assert status["lastCheckOk"] is False
    assert "500" in status["lastCheckError"]


async def test_two_processes_looking_at_once_check_a_due_channel_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    telegram: TelegramFake,
) -> None:
    config = {"botToken": TOKEN, "chatId": "-1001", "apiBaseUrl": telegram.base_url}
    await _create(
        client,
        admin_headers,
        name="bot",
        type="TELEGRAM",
        configuration=config,
        checkIntervalSeconds=600,
    )
    one, other = _checks(app), _checks(app)
    await one.sweep()
    await other.sweep()
    assert len(telegram.requests) == 1


async def test_the_first_check_comes_at_once_and_the_next_after_the_interval(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    telegram: TelegramFake,
) -> None:
    clock = FrozenClock(app.state.nabat.clock.now())
    checks = _checks(app, clock)
    config = {"botToken": TOKEN, "chatId": "-1001", "apiBaseUrl": telegram.base_url}
    await _create(
        client,
        admin_headers,
        name="bot",
        type="TELEGRAM",
        configuration=config,
        checkIntervalSeconds=120,
    )
    clock.advance(1)
    await checks.sweep()
    assert len(telegram.requests) == 1
    clock.advance(119)
    await checks.sweep()
    assert len(telegram.requests) == 1
    clock.advance(2)
    await checks.sweep()
    assert len(telegram.requests) == 2


@pytest.mark.parametrize(
    ("seconds", "says"), [(30, "60 to 604800"), (10**7, "60 to 604800"), (-1, "greater")]
)
async def test_an_interval_out_of_bounds_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
    seconds: int,
    says: str,
) -> None:
    body = {
        "name": "hook",
        "type": "WEBHOOK",
        "configuration": {"url": receiver.url},
        "checkIntervalSeconds": seconds,
    }
    response = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert any(
        "checkIntervalSeconds" in d["field"] and says in d["message"]
        for d in response.json()["details"]
    ), response.json()


async def test_an_interval_can_be_changed_and_turned_off(
    client: httpx.AsyncClient, admin_headers: dict[str, str], receiver: WebhookReceiver
) -> None:
    hook = await _create(
        client, admin_headers, name="hook", type="WEBHOOK", configuration={"url": receiver.url}
    )
    url = f"{CHANNELS}/{hook}"

    async def interval() -> int:
        value: int = (await _status(client, admin_headers, hook))["checkIntervalSeconds"]
        return value

    assert await interval() == 0
    # The channel itself reads back in seed 002's shape, with no field of ours.
    assert "checkIntervalSeconds" not in (await client.get(url, headers=admin_headers)).json()
    for body, expected in (
        ({"checkIntervalSeconds": 3600}, 3600),
        ({"name": "renamed"}, 3600),
        ({"checkIntervalSeconds": 0}, 0),
    ):
        changed = await client.put(url, json=body, headers=admin_headers)
        assert changed.status_code == 200, changed.text
        assert await interval() == expected


def test_a_personal_channel_without_recipients_and_without_a_provider_check_is_refused() -> None:
    unaddressed = dataclasses.replace(PYTHON_BOT, addressed=lambda config: False)
    config = PythonBotConfig.model_validate({"botUrl": "https://bot.example.org/hook"})
    with pytest.raises(ValidationFailed) as refused:
        check_interval(unaddressed, config, 300)
    assert refused.value.details[0]["field"] == "checkIntervalSeconds"
    assert "cannot be checked" in refused.value.details[0]["message"]
    assert check_interval(PYTHON_BOT, config, 300) == 300
    assert check_interval(unaddressed, config, 0) is None


async def test_an_sms_check_asks_the_balance_and_sends_no_sms(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    async with running_sms_fakes() as fakes:
        # No default recipients: a provider check needs no one to send to.
        sms = await _create(
            client,
            admin_headers,
            name="sms",
            type="SMS",
            configuration=fakes.settings("SMSRU"),
            checkIntervalSeconds=600,
        )
        checks = _checks(app)
        assert await checks.sweep() == 1
        status = await _status(client, admin_headers, sms)
        assert (status["lastCheckOk"], status["failing"]) == (True, False)
        fakes.smsru.balance = 0.0
        await _due_now(app, sms)
        await checks.sweep()
        status = await _status(client, admin_headers, sms)
        assert (status["lastCheckOk"], status["failing"]) == (False, True)
        assert "has no money left (balance 0.0)" in status["lastCheckError"]
        assert [r.path for r in fakes.smsru.requests] == ["/my/balance", "/my/balance"]
        assert fakes.smsru.messages == []


async def test_a_mail_check_sees_the_sender_a_send_would_have(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    async with ExchangeFake() as exchange:
        configuration = {
            "tenantId": TENANT,
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "authorityHost": exchange.base_url,
            "graphBaseUrl": exchange.base_url,
        }
        graph = await _create(
            client,
            admin_headers,
            name="exchange online",
            type="GRAPH_MAIL",
            configuration=configuration,
            checkIntervalSeconds=600,
        )
        checks = _checks(app)
        # Neither the channel nor the project names a sender: no send could go out.
        await checks.sweep()
        status = await _status(client, admin_headers, graph)
        assert status["lastCheckOk"] is False
        assert "no sender address" in status["lastCheckError"]
        assert exchange.requests == []
        mail = {"fromAddress": MAILBOX, "fromName": "Nabat", "replyTo": MAILBOX}
        changed = await client.put("/api/v1/settings/mail", json=mail, headers=admin_headers)
        assert changed.status_code == 200, changed.text
        await _due_now(app, graph)
        await checks.sweep()
        status = await _status(client, admin_headers, graph)
        assert status["lastCheckOk"] is True, status["lastCheckError"]
        assert [r.path for r in exchange.requests] == [f"/{TENANT}/oauth2/v2.0/token"]
        assert exchange.graph_sent == []
