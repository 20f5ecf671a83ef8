"""TELEGRAM: the Bot API's sendMessage (CONTRACTS.md section 1)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from nabat.channels.base import MASK, ChannelConfig, HttpUrl, Int
from nabat.channels.descriptor import (
    TEST_FAILED,
    TEST_SENT,
    Buckets,
    ChannelType,
    SenderParts,
    fingerprint,
)
from nabat.channels.telegram_sender import TelegramSender
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode

_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")

DEFAULT_API_BASE = "https://api.telegram.org"


class TelegramConfig(ChannelConfig):
    """A bot token and the chat it posts to."""

    type_name: ClassVar[str] = "TELEGRAM"
    destination_keys: ClassVar[tuple[str, ...]] = ("apiBaseUrl",)

    bot_token: SecretStr
    chat_id: str
    parse_mode: Literal["HTML", "MarkdownV2", "Markdown"] | None = "HTML"
    message_thread_id: Int | None = Field(default=None, ge=1)
    disable_notification: bool = False
    api_base_url: HttpUrl = DEFAULT_API_BASE

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() == MASK:
            return value  # the mask is refused by ChannelConfig with its own message
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("must look like 123456789:ABCdef... (the token @BotFather gave you)")
        return value

    @field_validator("chat_id")
    @classmethod
    def _chat_shape(cls, value: str) -> str:
        if not _CHAT.match(value):
            raise ValueError(
                "must be a numeric chat id (e.g. -1001234567890) or a public @channelname"
            )
        return value


# Telegram Bot FAQ: about 1 message/s per chat, 20/min per group, 30/s per bot.
PER_CHAT = Rate(per_second=1.0, burst=3.0)
# No burst for groups: with one, a sliding minute could see the burst plus a minute's
# refill, and Telegram counts 20 per minute.
PER_GROUP = Rate(per_second=19 / 60, burst=1.0)
PER_BOT = Rate(per_second=30.0, burst=30.0)


def _limits(config: TelegramConfig, recipient: str | None) -> Buckets:
    bot = fingerprint(config.bot_token.get_secret_value())
    chat = recipient or config.chat_id
    buckets = [(f"tg-chat:{bot}:{chat}", PER_CHAT)]
    if chat.startswith("-"):
        buckets.append((f"tg-group:{bot}:{chat}", PER_GROUP))
    buckets.append((f"tg-bot:{bot}", PER_BOT))
    return buckets


def _sender(parts: SenderParts) -> TelegramSender:
    return TelegramSender(parts.outbound)


TELEGRAM = ChannelType(
    config=TelegramConfig,
    sender=_sender,
    error_code=ErrorCode.TELEGRAM_ERROR,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
    address_kind="TELEGRAM",
    preference_kind="telegram",
    limits=_limits,
    probe=_sender,
)
