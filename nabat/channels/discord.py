"""DISCORD: execute-webhook (CONTRACTS.md section 3)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, HttpUrl, SecretHttpUrl, SingleLine
from nabat.channels.descriptor import (
    TEST_FAILED,
    TEST_SENT,
    Buckets,
    ChannelType,
    SenderParts,
    fingerprint,
)
from nabat.channels.discord_sender import DiscordSender
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode


class DiscordConfig(ChannelConfig):
    """A webhook URL (its path carries the token) and optional display overrides."""

    type_name: ClassVar[str] = "DISCORD"

    webhook_url: SecretHttpUrl
    # Discord's own limit on a webhook username is 1-80 characters.
    username: SingleLine | None = Field(default=None, min_length=1, max_length=80)
    avatar_url: HttpUrl | None = None


# Discord webhooks: 5 requests per 2 s per webhook bucket in practice.
PER_WEBHOOK = Rate(per_second=2.5, burst=5.0)


def _limits(config: DiscordConfig, recipient: str | None) -> Buckets:
    return [(f"discord:{fingerprint(config.webhook_url.get_secret_value())}", PER_WEBHOOK)]


def _sender(parts: SenderParts) -> DiscordSender:
    return DiscordSender(parts.outbound)


DISCORD = ChannelType(
    config=DiscordConfig,
    sender=_sender,
    error_code=ErrorCode.DISCORD_ERROR,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
    limits=_limits,
)
