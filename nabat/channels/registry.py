"""The one list of channel types Nabat knows. Adding a type: its module, and a line here."""

from __future__ import annotations

from typing import Any

from nabat.channels.apprise import APPRISE
from nabat.channels.base import ChannelConfig
from nabat.channels.descriptor import ChannelType
from nabat.channels.discord import DISCORD
from nabat.channels.email import EMAIL
from nabat.channels.ews import EWS
from nabat.channels.graph_mail import GRAPH_MAIL
from nabat.channels.inapp import INAPP
from nabat.channels.python_bot import PYTHON_BOT
from nabat.channels.slack import SLACK
from nabat.channels.sms import SMS
from nabat.channels.teams import TEAMS
from nabat.channels.telegram import TELEGRAM
from nabat.channels.webhook import WEBHOOK

CHANNEL_TYPES: dict[str, ChannelType[Any]] = {
    kind.name: kind
    for kind in (
        PYTHON_BOT,
        TELEGRAM,
        EMAIL,
        SLACK,
        WEBHOOK,
        DISCORD,
        SMS,
        EWS,
        GRAPH_MAIL,
        TEAMS,
        APPRISE,
        INAPP,
    )
}

CONFIG_MODELS: dict[str, type[ChannelConfig]] = {
    name: kind.config for name, kind in CHANNEL_TYPES.items()
}


def channel_types() -> list[str]:
    """The registered type names, as clients write them."""
    return list(CHANNEL_TYPES)


def channel_type(type_name: str) -> ChannelType[Any] | None:
    """The descriptor of a type, or ``None`` for an unknown type."""
    return CHANNEL_TYPES.get(type_name)


def config_model(type_name: str) -> type[ChannelConfig] | None:
    """The configuration model of a type, or ``None`` for an unknown type."""
    kind = CHANNEL_TYPES.get(type_name)
    return kind.config if kind else None
