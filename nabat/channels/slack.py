"""SLACK: incoming webhooks (CONTRACTS.md section 2)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, SecretHttpUrl, SingleLine
from nabat.channels.descriptor import (
    TEST_FAILED,
    TEST_SENT,
    Buckets,
    ChannelType,
    SenderParts,
    fingerprint,
)
from nabat.channels.slack_sender import SlackSender
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode


class SlackConfig(ChannelConfig):
    """An incoming-webhook URL (a credential) and optional display overrides."""

    type_name: ClassVar[str] = "SLACK"

    webhook_url: SecretHttpUrl
    channel: SingleLine | None = Field(default=None, max_length=80)
    username: SingleLine | None = Field(default=None, max_length=80)


# Slack: about one message per second per webhook, short bursts allowed.
PER_WEBHOOK = Rate(per_second=1.0, burst=3.0)


def _limits(config: SlackConfig, recipient: str | None) -> Buckets:
    return [(f"slack:{fingerprint(config.webhook_url.get_secret_value())}", PER_WEBHOOK)]


def _sender(parts: SenderParts) -> SlackSender:
    return SlackSender(parts.outbound)


SLACK = ChannelType(
    config=SlackConfig,
    sender=_sender,
    error_code=ErrorCode.SLACK_ERROR,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
    limits=_limits,
)
