"""SlackSender against a fake incoming webhook: payload shape, block limits, errors, secrecy."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.slack import SlackConfig
from nabat.channels.slack_sender import SlackSender, slack_body
from tests.fakes.provider import Reply
from tests.fakes.slack import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    SlackFake,
    slack_error,
    slack_rate_limited,
)
from tests.fakes.support import assert_no_secret, loopback_outbound

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("SLACK",)


@pytest.fixture
async def fake() -> AsyncIterator[SlackFake]:
    async with SlackFake() as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[SlackSender]:
    async with loopback_outbound() as outbound:
        yield SlackSender(outbound, timeout_s=5.0)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config(fake: SlackFake, **overrides: Any) -> SlackConfig:
    return SlackConfig.model_validate({"webhookUrl": fake.webhook_url, **overrides})


def secrets(fake: SlackFake) -> tuple[str, ...]:
    return (fake.webhook_url, WEBHOOK_PATH, WEBHOOK_SECRET)


def message(subject: str = "Disk full", text: str = "db-1: / is at 97%") -> OutgoingMessage:
    return OutgoingMessage(delivery_id="d-1", subject=subject, text=text)


async def test_payload_has_fallback_text_and_blocks_and_no_overrides(
    fake: SlackFake, sender: SlackSender
) -> None:
    receipt = await sender.send(config(fake), message())

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == WEBHOOK_PATH
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "text": "Disk full",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Disk full"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "db-1: / is at 97%"}},
        ],
    }
    assert receipt.status == 200
    assert receipt.provider_id is None


async def test_channel_and_username_are_sent_only_when_configured(
    fake: SlackFake, sender: SlackSender
) -> None:
    await sender.send(config(fake, channel="#ops", username="Nabat"), message())

    body = fake.requests[0].json()
    assert body["channel"] == "#ops"
    assert body["username"] == "Nabat"
    assert not any(key.startswith("icon_") for key in body)


async def test_an_empty_message_still_has_non_empty_text(
    fake: SlackFake, sender: SlackSender
) -> None:
    await sender.send(config(fake), message(subject=" ", text=""))

    body = fake.posted[0]
    assert body["text"] == "Notification from Nabat"
    assert body["blocks"][0]["text"]["text"] == "Notification from Nabat"


async def test_text_without_subject_is_its_own_fallback(
    fake: SlackFake, sender: SlackSender
) -> None:
    await sender.send(config(fake), message(subject="", text="only text"))

    body = fake.posted[0]
    assert body["text"] == "only text"
    assert [block["type"] for block in body["blocks"]] == ["section"]


def test_user_text_cannot_form_mentions_or_links() -> None:
    cfg = SlackConfig.model_validate({"webhookUrl": "https://hooks.slack.com/services/T/B/x"})

    body = slack_body(cfg, message("<!channel> & <@U123>", "see <https://evil|here> & <!here>"))

    assert body["text"] == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    section = body["blocks"][1]["text"]["text"]
    assert section == "see &lt;https://evil|here&gt; &amp; &lt;!here&gt;"


@pytest.mark.parametrize("seed", range(8))
def test_builder_never_exceeds_block_and_section_limits(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab <>&\n🔥é漢"
    text = "".join(rng.choice(alphabet) for _ in range(rng.choice([10, 2999, 3001, 9000, 200000])))
    subject = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 5, 151, 1000])))
    cfg = SlackConfig.model_validate({"webhookUrl": "https://hooks.slack.com/services/T/B/x"})

    body = slack_body(cfg, message(subject, text))

    assert body["text"].strip()
    assert len(body["text"].encode("utf-16-le")) // 2 <= 3000
    assert 1 <= len(body["blocks"]) <= 50
    for block in body["blocks"]:
        limit = 150 if block["type"] == "header" else 3000
        assert 0 < len(block["text"]["text"].encode("utf-16-le")) // 2 <= limit


async def test_a_huge_alert_is_cut_to_fifty_blocks_and_still_posts(
    fake: SlackFake, sender: SlackSender
) -> None:
    line = "disk <full> & more 🔥\n"
    receipt = await sender.send(config(fake), message("Huge", line * 20000))

    blocks = fake.posted[0]["blocks"]
    assert receipt.status == 200
    assert len(blocks) == 50
    assert blocks[-1]["text"]["text"].endswith("\n…")


@dataclass(frozen=True)
class Row:
    """One row of CONTRACTS.md section 2's error table (plus status-only fallbacks)."""

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
        "invalid_payload", slack_error(400, "invalid_payload"), FailureClass.REJECTED, False, "bug"
    ),
    Row("user_not_found", slack_error(400, "user_not_found"), FailureClass.GONE, False, "user"),
    Row(
        "action_prohibited",
        slack_error(403, "action_prohibited"),
        FailureClass.REJECTED,
        False,
        "administrator",
    ),
    Row(
        "channel_not_found",
        slack_error(404, "channel_not_found"),
        FailureClass.GONE,
        False,
        "new incoming webhook",
    ),
    Row(
        "channel_is_archived",
        slack_error(410, "channel_is_archived"),
        FailureClass.GONE,
        False,
        "unarchive",
    ),
    Row("rollup_error", slack_error(500, "rollup_error"), FailureClass.UPSTREAM, True, "retry"),
    Row("no_service", slack_error(404, "no_service"), FailureClass.GONE, False, "revoked"),
    Row(
        "invalid_token_400",
        slack_error(400, "invalid_token"),
        FailureClass.AUTH,
        False,
        "reinstall",
    ),
    Row(
        "invalid_token_403",
        slack_error(403, "invalid_token"),
        FailureClass.AUTH,
        False,
        "reinstall",
    ),
    Row("no_text", slack_error(400, "no_text"), FailureClass.REJECTED, False, "no text"),
    Row(
        "invalid_blocks",
        slack_error(400, "invalid_blocks"),
        FailureClass.REJECTED,
        False,
        "blocks",
    ),
    Row(
        "body_decides_before_status",
        slack_error(500, "channel_is_archived"),
        FailureClass.GONE,
        False,
        "archived",
    ),
    Row(
        "rate_limited",
        slack_rate_limited(30),
        FailureClass.THROTTLED,
        True,
        "30 s",
        retry_after=30.0,
    ),
    Row(
        "ok_status_other_body",
        slack_error(200, "queued"),
        FailureClass.REJECTED,
        False,
        "instead of 'ok'",
    ),
    Row(
        "ok_status_empty_body",
        slack_error(200, ""),
        FailureClass.REJECTED,
        False,
        "empty body",
    ),
    Row(
        "unknown_server_error",
        Reply(503, "<html>Service Unavailable</html>", content_type="text/html"),
        FailureClass.UPSTREAM,
        True,
        "HTTP 503",
    ),
    Row(
        "unknown_bad_request",
        slack_error(400, "something_new"),
        FailureClass.REJECTED,
        False,
        "HTTP 400",
    ),
    Row("unknown_unauthorized", slack_error(401, "nope"), FailureClass.AUTH, False, "HTTP 401"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_error_row_has_its_class_and_leaks_no_webhook_url(
    fake: SlackFake, sender: SlackSender, row: Row, caplog: pytest.LogCaptureFixture
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


async def test_a_revoked_webhook_is_permanent(fake: SlackFake, sender: SlackSender) -> None:
    cfg = SlackConfig.model_validate({"webhookUrl": fake.base_url + "/services/T/B/revoked0000"})

    with pytest.raises(DeliveryError) as caught:
        await sender.send(cfg, message())

    assert caught.value.failure_class is FailureClass.GONE
    assert not caught.value.transient


async def test_an_error_body_echoing_the_url_does_not_leak_it(
    fake: SlackFake, sender: SlackSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(Reply(502, f"proxy error for {fake.webhook_url}"))

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert caught.value.failure_class is FailureClass.UPSTREAM
    assert_no_secret(secrets(fake), caught.value, caplog)


async def test_an_unreachable_webhook_is_a_transient_network_failure(
    fake: SlackFake, sender: SlackSender, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake)
    leaked = secrets(fake)
    await fake.stop()

    with pytest.raises(DeliveryError) as caught:
        await sender.send(cfg, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient
    assert_no_secret(leaked, caught.value, caplog)
