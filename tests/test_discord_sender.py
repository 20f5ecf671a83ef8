"""DiscordSender against a fake webhook: wait=true, content limit, mentions, errors, secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.discord import DiscordConfig
from nabat.channels.discord_sender import DiscordSender, webhook_url
from tests.fakes.discord import (
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    DiscordFake,
    discord_error,
    discord_rate_limited,
)
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("DISCORD",)


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[DiscordSender]:
    async with loopback_outbound() as outbound:
        yield DiscordSender(outbound, timeout_s=5.0)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config(fake: DiscordFake, url: str | None = None, **overrides: Any) -> DiscordConfig:
    return DiscordConfig.model_validate({"webhookUrl": url or fake.webhook_url, **overrides})


def secrets(fake: DiscordFake) -> tuple[str, ...]:
    return (fake.webhook_url, WEBHOOK_TOKEN)


def message(subject: str = "Disk full", text: str = "db-1: / is at 97%") -> OutgoingMessage:
    return OutgoingMessage(delivery_id="d-1", subject=subject, text=text)


async def test_request_waits_for_the_message_and_stores_its_id(
    fake: DiscordFake, sender: DiscordSender
) -> None:
    receipt = await sender.send(config(fake), message())

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
    assert request.query == {"wait": "true"}
    assert request.json() == {
        "content": "**Disk full**\ndb-1: / is at 97%",
        "allowed_mentions": {"parse": []},
    }
    assert receipt.status == 200
    assert receipt.provider_id == "1300000000000000001"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("https://discord.com/api/webhooks/1/t", "https://discord.com/api/webhooks/1/t?wait=true"),
        (
            "https://discord.com/api/webhooks/1/t?thread_id=5",
            "https://discord.com/api/webhooks/1/t?thread_id=5&wait=true",
        ),
        (
            "https://discord.com/api/webhooks/1/t?wait=false&thread_id=5",
            "https://discord.com/api/webhooks/1/t?thread_id=5&wait=true",
        ),
    ],
)
def test_wait_true_is_appended_to_any_existing_query(configured: str, expected: str) -> None:
    assert webhook_url(configured) == expected


async def test_a_thread_id_in_the_configured_url_is_kept(
    fake: DiscordFake, sender: DiscordSender
) -> None:
    await sender.send(config(fake, url=fake.webhook_url + "?thread_id=42"), message())

    assert fake.requests[0].query == {"thread_id": "42", "wait": "true"}


async def test_username_and_avatar_are_sent_only_when_configured(
    fake: DiscordFake, sender: DiscordSender
) -> None:
    await sender.send(
        config(fake, username="Nabat", avatarUrl="https://example.org/a.png"), message()
    )

    body = fake.requests[0].json()
    assert body["username"] == "Nabat"
    assert body["avatar_url"] == "https://example.org/a.png"


async def test_everyone_in_alert_text_cannot_ping(fake: DiscordFake, sender: DiscordSender) -> None:
    await sender.send(config(fake), message("@everyone down", "@here <@&123> <@456>"))

    body = fake.posted[0]
    assert body["allowed_mentions"] == {"parse": []}
    assert "users" not in body["allowed_mentions"]
    assert "roles" not in body["allowed_mentions"]


async def test_markdown_in_the_subject_does_not_break_its_bold(
    fake: DiscordFake, sender: DiscordSender
) -> None:
    await sender.send(config(fake), message("a**b_c", "body"))

    assert fake.posted[0]["content"] == "**a\\*\\*b\\_c**\nbody"


@pytest.mark.parametrize("length", [1990, 2000, 2001, 5000])
async def test_content_over_2000_characters_is_truncated(
    fake: DiscordFake, sender: DiscordSender, length: int
) -> None:
    body = ("alert 🔥 é " * 1000)[:length]

    receipt = await sender.send(config(fake), message("Long", body))

    content = fake.posted[0]["content"]
    assert receipt.status == 200
    assert len(content.encode("utf-16-le")) // 2 <= 2000
    assert content.startswith("**Long**\n")
    if length > 1990:
        assert content.endswith("…")


async def test_an_empty_message_still_has_content(fake: DiscordFake, sender: DiscordSender) -> None:
    await sender.send(config(fake), message(" ", ""))

    assert fake.posted[0]["content"] == "Notification from Nabat"


@dataclass(frozen=True)
class Row:
    """One row of CONTRACTS.md section 3 (plus status-only fallbacks)."""

    name: str
    reply: Reply
    failure_class: FailureClass
    transient: bool
    says: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.name


ROWS = [
    Row(
        "rate_limited_header_larger",
        discord_rate_limited(1.5, header="2"),
        FailureClass.THROTTLED,
        True,
        "this webhook",
        retry_after=2.0,
    ),
    Row(
        "rate_limited_body_larger",
        discord_rate_limited(2.5, header="2"),
        FailureClass.THROTTLED,
        True,
        "2.5 s",
        retry_after=2.5,
    ),
    Row(
        "rate_limited_globally",
        discord_rate_limited(0.8, header="1", is_global=True),
        FailureClass.THROTTLED,
        True,
        "global",
        retry_after=1.0,
    ),
    Row(
        "unknown_webhook",
        discord_error(404, "Unknown Webhook", 10015),
        FailureClass.GONE,
        False,
        "deleted",
    ),
    Row(
        "invalid_token",
        discord_error(401, "Invalid Webhook Token", 50027),
        FailureClass.AUTH,
        False,
        "Invalid Webhook Token",
    ),
    Row(
        "missing_permissions",
        discord_error(403, "Missing Permissions", 50013),
        FailureClass.AUTH,
        False,
        "HTTP 403",
    ),
    Row(
        "invalid_form_body",
        discord_error(400, "Invalid Form Body", 50035),
        FailureClass.REJECTED,
        False,
        "Invalid Form Body",
    ),
    Row(
        "server_error",
        discord_error(500, "500: Internal Server Error", 0),
        FailureClass.UPSTREAM,
        True,
        "HTTP 500",
    ),
    Row(
        "bad_gateway_html",
        Reply(502, "<html>502 Bad Gateway</html>", content_type="text/html"),
        FailureClass.UPSTREAM,
        True,
        "HTTP 502",
    ),
    Row(
        "unavailable_with_retry_after",
        Reply(503, "", headers={"Retry-After": "9"}),
        FailureClass.UPSTREAM,
        True,
        "HTTP 503",
        retry_after=9.0,
    ),
    Row("request_timeout", Reply(408, ""), FailureClass.TIMEOUT, True, "HTTP 408"),
    Row("redirect", Reply(301, "", headers={"Location": "/"}), FailureClass.REJECTED, False, "301"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_error_row_has_its_class_and_leaks_no_webhook_token(
    fake: DiscordFake, sender: DiscordSender, row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(row.reply)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    error = caught.value
    assert error.failure_class is row.failure_class
    assert error.transient is row.transient
    assert row.says in error.reason
    assert error.retry_after == row.retry_after
    assert error.status == row.reply.status
    assert len(fake.requests) == 1
    assert_no_secret(secrets(fake), error, caplog)


async def test_a_deleted_webhook_is_gone_after_exactly_one_request(
    fake: DiscordFake, sender: DiscordSender, caplog: pytest.LogCaptureFixture
) -> None:
    deleted = f"{fake.base_url}/api/webhooks/999/{WEBHOOK_TOKEN}"

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, url=deleted), message())

    assert caught.value.failure_class is FailureClass.GONE
    assert not caught.value.transient
    assert len(fake.requests) == 1
    assert_no_secret((deleted, WEBHOOK_TOKEN), caught.value, caplog)


async def test_a_wrong_token_is_an_auth_failure(
    fake: DiscordFake, sender: DiscordSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = f"{fake.base_url}/api/webhooks/{WEBHOOK_ID}/WrongToken-0123456789"

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, url=wrong), message())

    assert caught.value.failure_class is FailureClass.AUTH
    assert_no_secret((wrong, "WrongToken-0123456789"), caught.value, caplog)


async def test_an_error_body_echoing_the_url_does_not_leak_it(
    fake: DiscordFake, sender: DiscordSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(Reply(500, f"failed POST {fake.webhook_url}?wait=true"))

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_an_unreachable_webhook_is_a_transient_network_failure(
    fake: DiscordFake, sender: DiscordSender, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake)
    leaked = secrets(fake)
    await fake.stop()

    with pytest.raises(DeliveryError) as caught:
        await sender.send(cfg, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert_no_secret(leaked, caught.value, caplog)
