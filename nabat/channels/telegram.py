"""TELEGRAM: the Bot API's sendMessage (CONTRACTS.md section 1)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from nabat.channels.base import MASK, ChannelConfig, HttpUrl, Int

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
