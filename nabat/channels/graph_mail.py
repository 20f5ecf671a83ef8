"""GRAPH_MAIL: mail through Microsoft Graph ``sendMail``, the Exchange Online path
(CONTRACTS.md section 6), signed in with an app registration's client credentials."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BeforeValidator, EmailStr, Field

from nabat.channels.base import ChannelConfig, Float, RawSecret, SingleLine
from nabat.channels.descriptor import Buckets, ChannelType, SenderParts
from nabat.channels.graph_mail_sender import DEFAULT_GRAPH, GraphMailSender
from nabat.channels.mail_sender import (
    TEST_MAIL_FAILED,
    TEST_MAIL_SENT,
    split_addresses,
    with_project,
)
from nabat.channels.ms_oauth import DEFAULT_AUTHORITY, ClientId, CredentialUrl, TenantId
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode


class GraphMailConfig(ChannelConfig):
    """The app registration (directory id, application id, client secret), the mailbox
    that sends, and the sender as e-mail has it (completed from the project's mail
    settings)."""

    type_name: ClassVar[str] = "GRAPH_MAIL"
    # The secret goes to the sign-in service, the token to Graph: changing either host
    # must come with the secret again.
    destination_keys: ClassVar[tuple[str, ...]] = ("authorityHost", "graphBaseUrl")

    tenant_id: TenantId
    client_id: ClientId
    client_secret: RawSecret = Field(max_length=1024)
    mailbox: EmailStr | None = None
    from_email: EmailStr | None = None
    from_name: SingleLine | None = Field(default=None, max_length=200)
    reply_to: EmailStr | None = None
    to: Annotated[list[EmailStr], BeforeValidator(split_addresses)] = Field(
        default_factory=list, max_length=100
    )
    save_to_sent_items: bool = False
    authority_host: CredentialUrl = DEFAULT_AUTHORITY
    graph_base_url: CredentialUrl = DEFAULT_GRAPH
    timeout: Float = Field(default=30.0, gt=0, le=300)


# Exchange Online lets one mailbox send 30 messages a minute.
PER_MAILBOX = Rate(per_second=0.5, burst=3.0)


def _limits(config: GraphMailConfig, recipient: str | None) -> Buckets:
    sender = config.mailbox or config.from_email or config.client_id
    return [(f"graph:{config.tenant_id.lower()}:{sender.lower()}", PER_MAILBOX)]


def _addressed(config: GraphMailConfig) -> bool:
    return bool(config.to)


def _sender(parts: SenderParts) -> GraphMailSender:
    return GraphMailSender(parts.outbound, clock=parts.clock)


GRAPH_MAIL = ChannelType(
    config=GraphMailConfig,
    sender=_sender,
    error_code=ErrorCode.GRAPH_MAIL_ERROR,
    test_sent=TEST_MAIL_SENT,
    test_failed=TEST_MAIL_FAILED,
    template_kind="email",
    address_kind="EMAIL",
    preference_kind="email",
    limits=_limits,
    addressed=_addressed,
    with_project=with_project,
    probe=_sender,
)
