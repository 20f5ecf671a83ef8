"""SLACK: incoming webhooks (CONTRACTS.md section 2)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, SecretHttpUrl, SingleLine


class SlackConfig(ChannelConfig):
    """An incoming-webhook URL (a credential) and optional display overrides."""

    type_name: ClassVar[str] = "SLACK"

    webhook_url: SecretHttpUrl
    channel: SingleLine | None = Field(default=None, max_length=80)
    username: SingleLine | None = Field(default=None, max_length=80)
