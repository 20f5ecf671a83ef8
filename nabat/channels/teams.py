"""TEAMS: Microsoft Teams through a Workflows webhook (CONTRACTS.md section 4).

Only Workflows URLs ("When a Teams webhook request is received") are taken. Office 365
connector URLs are refused when the channel is saved: Microsoft retired those connectors,
and a URL that is refused at once is kinder than one that fails at the first alert.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from nabat.channels.base import MASK, ChannelConfig, Int, SecretHttpUrl, config_error
from nabat.channels.descriptor import (
    TEST_FAILED,
    Buckets,
    ChannelType,
    Phrase,
    SenderParts,
    fingerprint,
)
from nabat.channels.teams_card import DEFAULT_CARD_BYTES, MAX_CARD_BYTES, MIN_CARD_BYTES
from nabat.channels.teams_sender import TeamsSender
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode
from nabat.sentences import Sentence

WORKFLOW_TEMPLATE = "Post to a channel when a webhook request is received"
"""The Workflows template that makes the URL this type takes."""

MIGRATION_HINT = Sentence(
    "is an Office 365 connector (Incoming Webhook) URL, and Microsoft has retired those "
    "connectors; in Teams, open Workflows, create a flow from the template {template!r} "
    "for the channel, and use the URL its trigger shows (it carries a sig=… parameter)",
    template=WORKFLOW_TEMPLATE,
)

_CONNECTOR_DOMAIN = "webhook.office.com"
_OUTLOOK_HOSTS = frozenset({"outlook.office.com", "outlook.office365.com"})


def is_retired_connector(url: str) -> bool:
    """Tell whether ``url`` is an Office 365 connector URL: ``<tenant>.webhook.office.com/
    webhookb2/…`` or the older ``outlook.office.com/webhook/…``.

    Workflows URLs are not recognised by their host (it varies: ``*.logic.azure.com``,
    ``*.api.powerplatform.com``), so only the retired hosts are named here.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host == _CONNECTOR_DOMAIN or host.endswith("." + _CONNECTOR_DOMAIN):
        return True
    return host in _OUTLOOK_HOSTS and parts.path.lower().startswith("/webhook")


class TeamsConfig(ChannelConfig):
    """A Workflows webhook URL (its ``sig`` parameter is the credential) and the largest
    card to post."""

    type_name: ClassVar[str] = "TEAMS"

    webhook_url: SecretHttpUrl = Field(
        description=(
            "the URL of a Teams workflow made from the template "
            f"'{WORKFLOW_TEMPLATE}'; it is a secret"
        )
    )
    max_card_bytes: Int = Field(
        default=DEFAULT_CARD_BYTES,
        ge=MIN_CARD_BYTES,
        le=MAX_CARD_BYTES,
        description="the largest card posted, in bytes of JSON; longer texts are shortened",
    )

    @field_validator("webhook_url")
    @classmethod
    def _not_a_retired_connector(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() != MASK and is_retired_connector(value.get_secret_value()):
            # The message names the kind of URL, never the URL: it is a credential.
            raise config_error("webhookUrl", MIGRATION_HINT)
        return value


# No limit is published for Workflows triggers; Teams slows down a channel that gets
# several posts a second, so keep to about one a second with short bursts.
PER_WORKFLOW = Rate(per_second=1.0, burst=4.0)


def _limits(config: TeamsConfig, recipient: str | None) -> Buckets:
    return [(f"teams:{fingerprint(config.webhook_url.get_secret_value())}", PER_WORKFLOW)]


def _sender(parts: SenderParts) -> TeamsSender:
    return TeamsSender(parts.outbound)


# The workflow answers before it posts, so a test send can only say it was accepted.
TEST_ACCEPTED = Phrase(
    "Тестовое сообщение принято потоком Teams Workflows; поток публикует его в канале сам, "
    "и если сообщение не появится, смотрите журнал запусков потока",
    "Test message accepted by the Teams workflow; the workflow posts it to the channel on "
    "its own, and if it does not appear, see the flow's run history",
)

TEAMS = ChannelType(
    config=TeamsConfig,
    sender=_sender,
    error_code=ErrorCode.TEAMS_ERROR,
    test_sent=TEST_ACCEPTED,
    test_failed=TEST_FAILED,
    limits=_limits,
)
