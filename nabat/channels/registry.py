"""The one list of channel types Nabat knows."""

from __future__ import annotations

from nabat.channels.base import ChannelConfig
from nabat.channels.discord import DiscordConfig
from nabat.channels.email import EmailConfig
from nabat.channels.python_bot import PythonBotConfig
from nabat.channels.slack import SlackConfig
from nabat.channels.telegram import TelegramConfig
from nabat.channels.webhook import WebhookConfig

CONFIG_MODELS: dict[str, type[ChannelConfig]] = {
    model.type_name: model
    for model in (
        PythonBotConfig,
        TelegramConfig,
        EmailConfig,
        SlackConfig,
        WebhookConfig,
        DiscordConfig,
    )
}


def channel_types() -> list[str]:
    """The registered type names, as clients write them."""
    return list(CONFIG_MODELS)


def config_model(type_name: str) -> type[ChannelConfig] | None:
    """The configuration model of a type, or ``None`` for an unknown type."""
    return CONFIG_MODELS.get(type_name)
