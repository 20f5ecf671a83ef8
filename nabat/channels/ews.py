"""EWS: mail through Exchange Web Services with exchangelib, for on-premises Exchange
(seed 003's outgoing-mail connection over EWS; CONTRACTS.md section 6).

The server is named (a host name or the EWS URL) or found by Autodiscover from the
mailbox's address. The login is a user name and password (NTLM or Basic), or, with
``oauth2`` on, an app registration's client credentials (application id, directory id,
client secret, as seed 003 names them); the form shows only the fields of the chosen way.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, model_validator

from nabat.channels.base import ChannelConfig, Float, RawSecret, SingleLine, config_error
from nabat.channels.descriptor import ChannelType, SenderParts
from nabat.channels.ews_sender import EwsSender
from nabat.channels.mail_sender import (
    TEST_MAIL_FAILED,
    TEST_MAIL_SENT,
    split_addresses,
    with_project,
)
from nabat.channels.ms_oauth import (
    DEFAULT_AUTHORITY,
    ClientId,
    CredentialUrl,
    TenantId,
    check_credential_url,
)
from nabat.errors import ErrorCode

EWS_PATH = "/EWS/Exchange.asmx"
"""Where EWS lives on an Exchange server named by host alone."""

_HOST = re.compile(r"^[A-Za-z0-9.\-_]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

_OAUTH2: dict[str, Any] = {"x-shown-when": {"oauth2": True}}
_LOGIN: dict[str, Any] = {"x-shown-when": {"oauth2": False}}


def _server(value: str) -> str:
    if "://" in value:
        return check_credential_url(value)
    if not _HOST.fullmatch(value):
        raise ValueError(
            "must be the Exchange server's host name (mail.example.org) or its EWS URL "
            "(https://mail.example.org/EWS/Exchange.asmx)"
        )
    return value


class EwsConfig(ChannelConfig):
    """How to reach the mailbox that sends, and the sender as e-mail has it (completed
    from the project's mail settings)."""

    type_name: ClassVar[str] = "EWS"
    # Where the password or token goes: the server, or whatever Autodiscover finds for
    # the mailbox; and where the client secret goes.
    destination_keys: ClassVar[tuple[str, ...]] = (
        "server",
        "autodiscover",
        "mailbox",
        "authorityHost",
    )

    server: Annotated[SingleLine, AfterValidator(_server)] | None = Field(
        default=None, max_length=2048
    )
    autodiscover: bool = False
    mailbox: EmailStr | None = None
    oauth2: bool = False
    client_id: ClientId | None = Field(default=None, json_schema_extra=_OAUTH2)
    tenant_id: TenantId | None = Field(default=None, json_schema_extra=_OAUTH2)
    client_secret: RawSecret | None = Field(
        default=None, max_length=1024, json_schema_extra=_OAUTH2
    )
    authority_host: CredentialUrl = Field(default=DEFAULT_AUTHORITY, json_schema_extra=_OAUTH2)
    username: SingleLine | None = Field(default=None, max_length=320, json_schema_extra=_LOGIN)
    password: RawSecret | None = Field(default=None, max_length=1024, json_schema_extra=_LOGIN)
    auth_type: Literal["ntlm", "basic"] = Field(default="ntlm", json_schema_extra=_LOGIN)
    from_email: EmailStr | None = None
    from_name: SingleLine | None = Field(default=None, max_length=200)
    reply_to: EmailStr | None = None
    to: Annotated[list[EmailStr], BeforeValidator(split_addresses)] = Field(
        default_factory=list, max_length=100
    )
    timeout: Float = Field(default=30.0, gt=0, le=120)

    @model_validator(mode="after")
    def _consistent(self) -> EwsConfig:
        # Fields of the way not chosen may stay stored (the console keeps them when the
        # switch is flipped); they are not used, so they are not checked.
        if self.server and self.autodiscover:
            raise config_error(
                "autodiscover",
                "set either server or autodiscover, not both",
                "invalid_combination",
            )
        if not self.server and not self.autodiscover:
            raise config_error(
                "server",
                "set server (the EWS URL or the server's host name), or turn autodiscover on",
                "missing",
            )
        if self.autodiscover and not self.mailbox:
            raise config_error(
                "mailbox",
                "Autodiscover looks the server up by the mailbox's address, so mailbox is "
                "required with autodiscover",
                "missing",
            )
        if self.oauth2:
            for key, value in (
                ("clientId", self.client_id),
                ("tenantId", self.tenant_id),
                ("clientSecret", self.client_secret),
            ):
                if value is None:
                    raise config_error(
                        key,
                        "OAuth2 is on, so clientId (the application id), tenantId (the "
                        "directory id) and clientSecret are required",
                        "missing",
                    )
        elif not self.username or self.password is None:
            raise config_error(
                "password" if self.username else "username",
                "without OAuth2, username and password are required",
                "missing",
            )
        return self

    @property
    def endpoint(self) -> str | None:
        """The EWS URL to use, or ``None`` when Autodiscover is to find it."""
        if not self.server:
            return None
        if "://" in self.server:
            return self.server
        return f"https://{self.server}{EWS_PATH}"


def _addressed(config: EwsConfig) -> bool:
    return bool(config.to)


def _sender(parts: SenderParts) -> EwsSender:
    return EwsSender(parts.outbound, clock=parts.clock)


EWS = ChannelType(
    config=EwsConfig,
    sender=_sender,
    error_code=ErrorCode.EWS_ERROR,
    test_sent=TEST_MAIL_SENT,
    test_failed=TEST_MAIL_FAILED,
    template_kind="email",
    address_kind="EMAIL",
    preference_kind="email",
    addressed=_addressed,
    with_project=with_project,
    probe=_sender,
)
