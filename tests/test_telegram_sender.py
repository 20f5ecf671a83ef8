"""TelegramSender against a fake Bot API: request shape, text limits, errors, secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage
from nabat.channels.telegram import TelegramConfig
from nabat.channels.telegram_sender import TelegramSender
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound
from tests.fakes.telegram import (
    TOKEN,
    TelegramFake,
    parse_html,
    parse_markdown_v2,
    telegram_error,
    utf16_len,
)

# The channel types whose error table this module tests (see test_channel_registry.py).
ERROR_TABLE_OF = ("TELEGRAM",)

SECRETS = (TOKEN, TOKEN.split(":", 1)[1])
CHAT = "424242"


@pytest.fixture
async def fake() -> AsyncIterator[TelegramFake]:
    async with TelegramFake() as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[TelegramSender]:
    async with loopback_outbound() as outbound:
        yield TelegramSender(outbound, timeout_s=5.0)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config(fake: TelegramFake, **overrides: Any) -> TelegramConfig:
    return TelegramConfig.model_validate(
        {"botToken": TOKEN, "chatId": CHAT, "apiBaseUrl": fake.base_url, **overrides}
    )


def message(
    subject: str = "Disk full", text: str = "db-1: / is at 97%", recipient: str | None = None
) -> OutgoingMessage:
    return OutgoingMessage(delivery_id="d-1", subject=subject, text=text, recipient=recipient)


async def test_request_carries_chat_text_parse_mode_and_no_link_preview(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    receipt = await sender.send(config(fake), message())

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "chat_id": 424242,
        "text": "<b>Disk full</b>\ndb-1: / is at 97%",
        "parse_mode": "HTML",
        "disable_notification": False,
        "link_preview_options": {"is_disabled": True},
    }
    assert receipt.provider_id == "1"
    assert receipt.status == 200


async def test_message_thread_id_is_sent_only_when_configured(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    await sender.send(config(fake, messageThreadId=7, disableNotification=True), message())

    body = fake.requests[0].json()
    assert body["message_thread_id"] == 7
    assert body["disable_notification"] is True


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [("-1001234567890", -1001234567890), ("@nabat_alerts", "@nabat_alerts"), ("  77  ", 77)],
)
async def test_recipient_overrides_the_configured_chat(
    fake: TelegramFake, sender: TelegramSender, recipient: str, expected: int | str
) -> None:
    await sender.send(config(fake), message(recipient=recipient))

    assert fake.requests[0].json()["chat_id"] == expected


async def test_without_parse_mode_the_text_goes_plain(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    await sender.send(config(fake, parseMode=None), message(subject="a < b", text="x & y"))

    body = fake.requests[0].json()
    assert "parse_mode" not in body
    assert body["text"] == "a < b\nx & y"


async def test_an_empty_message_still_has_text(fake: TelegramFake, sender: TelegramSender) -> None:
    await sender.send(config(fake), message(subject="  ", text="\n"))

    assert fake.sent[0].text == "(no text)"


@pytest.mark.parametrize("parse_mode", ["HTML", "MarkdownV2", "Markdown"])
async def test_user_text_reaches_the_chat_exactly_as_written(
    fake: TelegramFake, sender: TelegramSender, parse_mode: str
) -> None:
    hostile = "if a<b && c>d: _x_ *y* [z](u) ~s~ `c` #1 +2 -3 =4 |5| {6} .7 !8 \\9"

    receipt = await sender.send(config(fake, parseMode=parse_mode), message(hostile, hostile))

    assert fake.sent[0].text == f"{hostile}\n{hostile}"
    assert fake.sent[0].parse_mode == parse_mode
    assert "plain text" not in receipt.detail


@pytest.mark.parametrize("parse_mode", ["HTML", "MarkdownV2"])
@pytest.mark.parametrize("length", [4094, 4096, 4097, 5000, 20000])
async def test_a_long_alert_is_cut_to_4096_parsed_characters_without_breaking_markup(
    fake: TelegramFake, sender: TelegramSender, parse_mode: str, length: int
) -> None:
    # Escapes (& < > . -) make the raw text longer than what Telegram counts, and
    # astral characters (🔥) count twice in UTF-16.
    pattern = "a<b>&c.d-e 🔥 "
    body = (pattern * (length // len(pattern) + 1))[:length]

    receipt = await sender.send(config(fake, parseMode=parse_mode), message("Long", body))

    [request] = fake.requests
    sent = request.json()["text"]
    parser = parse_html if parse_mode == "HTML" else parse_markdown_v2
    visible = parser(sent)  # raises on an unterminated tag or a broken escape
    assert utf16_len(visible) <= 4096
    assert fake.sent[0].text == visible
    if utf16_len(f"Long\n{body}") > 4096:
        assert visible.endswith("…")
        assert "cut to 4096" in receipt.detail


async def test_unparseable_markup_is_resent_once_as_plain_text(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    fake.respond(
        telegram_error(400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at 0')
    )

    receipt = await sender.send(config(fake), message("Disk <full>", "a & b"))

    first, second = (request.json() for request in fake.requests)
    assert first["parse_mode"] == "HTML"
    assert "parse_mode" not in second
    assert second["text"] == "Disk <full>\na & b"
    assert second["chat_id"] == first["chat_id"]
    assert receipt.provider_id == "1"
    assert receipt.detail == (
        "sent to chat 424242; as plain text: Telegram could not parse the HTML markup"
    )


async def test_markup_refused_twice_is_permanent_after_exactly_two_requests(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    refusal = telegram_error(400, "Bad Request: can't parse entities: Can't find end of tag")
    fake.respond(refusal, refusal)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert len(fake.requests) == 2
    assert caught.value.failure_class is FailureClass.REJECTED
    assert not caught.value.transient


async def test_migrate_to_chat_id_produces_a_config_update_and_the_resend_reaches_the_new_chat(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    fake.migrated[-4242] = -1001234567890123
    old = config(fake, chatId="-4242")

    with pytest.raises(DeliveryError) as caught:
        await sender.send(old, message())

    error = caught.value
    assert error.config_update == {"chatId": "-1001234567890123"}
    assert error.transient
    assert error.status == 400
    assert "-1001234567890123" in error.reason
    assert len(fake.requests) == 1

    # What the engine does next: save the update, send again at once.
    updated = config(fake, chatId=error.config_update["chatId"])
    receipt = await sender.send(updated, message())
    assert fake.requests[1].json()["chat_id"] == -1001234567890123
    assert [sent.chat_id for sent in fake.sent] == [-1001234567890123]
    assert receipt.provider_id == "1"


async def test_migration_of_a_one_off_recipient_does_not_touch_the_configuration(
    fake: TelegramFake, sender: TelegramSender
) -> None:
    fake.migrated[-4242] = -1009999999999

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message(recipient="-4242"))

    assert caught.value.config_update is None
    assert caught.value.failure_class is FailureClass.REJECTED
    assert "-1009999999999" in caught.value.reason


@dataclass(frozen=True)
class Row:
    """One row of CONTRACTS.md section 1's error table: what Telegram answers (in order,
    one reply per request) and the verdict."""

    name: str
    replies: tuple[Reply, ...]
    failure_class: FailureClass
    transient: bool
    says: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.name


def tg(status: int, description: str, **parameters: Any) -> tuple[Reply]:
    return (telegram_error(status, description, **parameters),)


GONE, REJECTED, AUTH = FailureClass.GONE, FailureClass.REJECTED, FailureClass.AUTH
THROTTLED, UPSTREAM = FailureClass.THROTTLED, FailureClass.UPSTREAM
PARSE = tg(400, "Bad Request: can't parse entities: Can't find end of Bold entity")[0]
MIGRATE = "Bad Request: group chat was upgraded to a supergroup chat"
NEW_ID = -1001234567890123
HTML_502 = Reply(502, "<html><body>502 Bad Gateway</body></html>", content_type="text/html")
ROWS = [
    Row("chat_not_found", tg(400, "Bad Request: chat not found"), GONE, False, "press Start"),
    Row("cannot_parse_entities", (PARSE, PARSE), REJECTED, False, "markup"),
    Row("too_long", tg(400, "Bad Request: message is too long"), REJECTED, False, "too long"),
    Row("migrated", tg(400, MIGRATE, migrate_to_chat_id=NEW_ID), FailureClass.CONFIG, True, "-100"),
    Row("revoked_token", tg(401, "Unauthorized"), AUTH, False, "@BotFather"),
    Row("blocked", tg(403, "Forbidden: bot was blocked by the user"), REJECTED, False, "unblock"),
    Row("group_deleted", tg(403, "Forbidden: the group chat was deleted"), GONE, False, "deleted"),
    Row("deactivated", tg(403, "Forbidden: user is deactivated"), GONE, False, "deleted"),
    *(
        Row(
            f"kicked_from_{kind}",
            tg(403, f"Forbidden: bot was kicked from the {kind} chat"),
            REJECTED,
            False,
            "add the bot",
        )
        for kind in ("group", "supergroup", "channel")
    ),
    Row(
        "cannot_initiate",
        tg(403, "Forbidden: bot can't initiate conversation with a user"),
        REJECTED,
        False,
        "press Start",
    ),
    Row(
        "flood",
        tg(429, "Too Many Requests: retry after 7", retry_after=7),
        THROTTLED,
        True,
        "7 s",
        7.0,
    ),
    Row(
        "flood_no_parameters",
        tg(429, "Too Many Requests: retry after 3"),
        THROTTLED,
        True,
        "3 s",
        3.0,
    ),
    Row("server_error", tg(500, "Internal Server Error"), UPSTREAM, True, "HTTP 500"),
    Row("bad_gateway_html", (HTML_502,), UPSTREAM, True, "HTTP 502"),
    Row("malformed_token", tg(404, "Not Found"), AUTH, False, "bot token"),
    Row("unknown_bad_request", tg(400, "Bad Request: new thing"), REJECTED, False, "HTTP 400"),
    Row("unknown_forbidden", tg(403, "Forbidden: new thing"), REJECTED, False, "does not let"),
    Row("unparseable_body", (Reply(418, "I'm a teapot"),), REJECTED, False, "HTTP 418"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_every_error_row_has_its_class_and_leaks_no_token(
    fake: TelegramFake, sender: TelegramSender, row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(*row.replies)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    error = caught.value
    assert error.failure_class is row.failure_class
    assert error.transient is row.transient
    assert row.says in error.reason
    assert error.retry_after == row.retry_after
    assert error.status == row.replies[-1].status
    assert len(fake.requests) == len(row.replies)
    assert_no_secret(SECRETS, error, caplog)


async def test_blocked_bot_is_permanent(fake: TelegramFake, sender: TelegramSender) -> None:
    fake.respond(telegram_error(403, "Forbidden: bot was blocked by the user"))

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert not caught.value.transient


async def test_an_unknown_token_is_an_auth_failure(
    fake: TelegramFake, sender: TelegramSender, caplog: pytest.LogCaptureFixture
) -> None:
    other = "987654321:BBH-another-token-abcdefghijklmnop"

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake, botToken=other), message())

    assert caught.value.failure_class is FailureClass.AUTH
    assert_no_secret((other, *SECRETS), caught.value, caplog)


async def test_a_proxy_echoing_the_url_does_not_leak_the_token(
    fake: TelegramFake, sender: TelegramSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(Reply(502, f"upstream failed for https://api.telegram.org/bot{TOKEN}/sendMessage"))

    with pytest.raises(DeliveryError) as caught:
        await sender.send(config(fake), message())

    assert caught.value.failure_class is FailureClass.UPSTREAM
    assert_no_secret(SECRETS, caught.value, caplog)


async def test_an_unreachable_api_is_a_transient_network_failure(
    fake: TelegramFake, sender: TelegramSender, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake)
    await fake.stop()

    with pytest.raises(DeliveryError) as caught:
        await sender.send(cfg, message())

    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient
    assert_no_secret(SECRETS, caught.value, caplog)


async def test_a_slow_api_is_a_transient_timeout(
    fake: TelegramFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond(Reply(200, "{}", delay=1.0))

    async with loopback_outbound() as outbound:
        with pytest.raises(DeliveryError) as caught:
            await TelegramSender(outbound, timeout_s=0.2).send(config(fake), message())

    assert caught.value.failure_class is FailureClass.TIMEOUT
    assert_no_secret(SECRETS, caught.value, caplog)
