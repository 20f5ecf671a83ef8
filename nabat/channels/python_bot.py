"""PYTHON_BOT: PingTower's companion bot, ``POST {botUrl}/send_notification``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, Float, HttpUrl


class PythonBotConfig(ChannelConfig):
    """Where the bot listens."""

    type_name: ClassVar[str] = "PYTHON_BOT"
    worded: ClassVar[bool] = False

    bot_url: HttpUrl
    timeout: Float = Field(default=10.0, gt=0, le=120)
