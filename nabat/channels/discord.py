"""DISCORD: execute-webhook (CONTRACTS.md section 3)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, HttpUrl, SecretHttpUrl, SingleLine


class DiscordConfig(ChannelConfig):
    """A webhook URL (its path carries the token) and optional display overrides."""

    type_name: ClassVar[str] = "DISCORD"

    webhook_url: SecretHttpUrl
    # Discord's own limit on a webhook username is 1-80 characters.
    username: SingleLine | None = Field(default=None, min_length=1, max_length=80)
    avatar_url: HttpUrl | None = None
