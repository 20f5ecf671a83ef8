"""Across the providers' failure tables, no secret reaches an attempt record or a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from nabat.models.delivery import Delivery, DeliveryAttempt
from nabat.services.channels import ChannelService
from nabat.services.ingest import Ingest, Limits
from nabat.services.sending import Notification, notification_events
from tests.fakes.discord import WEBHOOK_TOKEN, DiscordFake, discord_error, discord_rate_limited
from tests.fakes.provider import FakeProvider, Reply
from tests.fakes.slack import WEBHOOK_SECRET, SlackFake, slack_error, slack_rate_limited
from tests.fakes.telegram import TOKEN, TelegramFake, telegram_error
from tests.fakes.webhook import Scripted, running_receiver

FAILURES: dict[str, list[Reply]] = {
    "TELEGRAM": [
        telegram_error(401, "Unauthorized"),
        telegram_error(403, "Forbidden: bot was blocked by the user"),
        telegram_error(400, "Bad Request: chat not found"),
        telegram_error(500, "Internal Server Error"),
        # Last: a 429 pauses the destination, which would hold back anything after it.
        telegram_error(429, "Too Many Requests: retry after 7", retry_after=7),
    ],
    "SLACK": [
        slack_error(403, "invalid_token"),
        slack_error(404, "no_service"),
        slack_error(410, "channel_is_archived"),
        slack_error(500, "rollup_error"),
        slack_rate_limited(30),
    ],
    "DISCORD": [
        discord_error(401, "401: Unauthorized", 0),
        discord_error(404, "Unknown Webhook", 10015),
        discord_error(500, "Internal Server Error", 0),
        discord_rate_limited(1.5, header="2"),
    ],
}


def _config(kind: str, fake: Any) -> tuple[dict[str, Any], list[str]]:
    if kind == "TELEGRAM":
        return (
            {"botToken": TOKEN, "chatId": "12345678", "apiBaseUrl": fake.api_base_url()},
            [TOKEN, TOKEN.split(":")[1]],
        )
    if kind == "SLACK":
        return {"webhookUrl": fake.webhook_url}, [WEBHOOK_SECRET]
    return {"webhookUrl": fake.webhook_url}, [WEBHOOK_TOKEN]


FAKES: dict[str, Callable[[], FakeProvider]] = {
    "TELEGRAM": TelegramFake,
    "SLACK": SlackFake,
    "DISCORD": DiscordFake,
}


async def _run(app: FastAPI, kind: str, config: dict[str, Any], count: int) -> None:
    state = app.state.nabat
    async with state.sessions() as session:
        view = await ChannelService(session, state.box, state.clock).create(
            1, name=kind, type_name=kind, configuration=config
        )
        now = state.clock.now()
        notification = Notification(
            status="DOWN", severity="ERROR", message="m", channel_id=view.row.id
        )
        items = await notification_events(session, 1, [notification] * count, now)
        # One attempt each: every failure is recorded once, whatever its class.
        limits = Limits(max_attempts=1, dedup_window_seconds=3600)
        await Ingest(session, project_id=1, now=now, limits=limits).run(items)
        await session.commit()
    await state.new_worker().run_until_idle()


async def _records(app: FastAPI) -> str:
    async with app.state.nabat.sessions() as session:
        attempts = (await session.execute(select(DeliveryAttempt))).scalars().all()
        deliveries = (await session.execute(select(Delivery))).scalars().all()
        raw = (await session.execute(text("SELECT * FROM delivery_attempts"))).all()
    parts = [a.reason for a in attempts] + [d.last_error or "" for d in deliveries]
    return "\n".join(parts) + repr(raw)


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_failed_attempts_and_logs_hold_no_provider_secret(
    app: FastAPI, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FAKES[kind]() as fake:
        fake.respond(*FAILURES[kind])
        config, secrets = _config(kind, fake)
        await _run(app, kind, config, len(FAILURES[kind]))
    records = await _records(app)
    async with app.state.nabat.sessions() as session:
        attempts = len((await session.execute(select(DeliveryAttempt))).scalars().all())
    assert attempts == len(FAILURES[kind])
    for secret in secrets:
        assert secret not in records
        assert secret not in caplog.text


async def test_webhook_header_secrets_stay_out_of_the_record(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Bearer very-private-token-0042"
    async for receiver in running_receiver():
        receiver.script = [Scripted(status) for status in (401, 403, 404, 429, 500, 302)]
        config = {"url": receiver.url, "headers": {"Authorization": secret}}
        await _run(app, "WEBHOOK", config, 6)
    records = await _records(app)
    assert "HTTP 401" in records
    assert secret not in records
    assert "very-private-token" not in caplog.text
