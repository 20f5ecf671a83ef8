"""PYTHON_BOT: PingTower's companion bot, ``POST {botUrl}/send_notification``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, Float, HttpUrl
from nabat.channels.descriptor import TEST_FAILED, TEST_SENT, ChannelType, SenderParts
from nabat.channels.python_bot_sender import PythonBotSender
from nabat.errors import ErrorCode


class PythonBotConfig(ChannelConfig):
    """Where the bot listens."""

    type_name: ClassVar[str] = "PYTHON_BOT"

    bot_url: HttpUrl
    timeout: Float = Field(default=10.0, gt=0, le=120)


def _sender(parts: SenderParts) -> PythonBotSender:
    return PythonBotSender(parts.outbound)


PYTHON_BOT = ChannelType(
    config=PythonBotConfig,
    sender=_sender,
    error_code=ErrorCode.BOT_UNAVAILABLE,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
    # One message per person, addressed by username; the bot posts the seed payload.
    address_kind="USERNAME",
    preference_kind="bot",
    worded=False,
)
