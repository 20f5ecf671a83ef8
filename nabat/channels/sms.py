"""SMS: Twilio, SMS.ru, SMSC.ru or any HTTP gateway (CONTRACTS.md section 7).

One flat configuration for every provider, so the console's generated form stays one
form: ``provider`` says which provider's keys apply, and the model refuses the keys of
another provider and names the ones the chosen provider still needs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nabat.channels import sms_checks
from nabat.channels.base import (
    MASK,
    ChannelConfig,
    Float,
    HttpUrl,
    Int,
    RawSecret,
    SingleLine,
    config_error,
)
from nabat.channels.descriptor import ChannelType, Phrase, SenderParts
from nabat.channels.sms_checks import Provider
from nabat.channels.sms_numbers import DEFAULT_REGION, check_region, to_e164
from nabat.channels.sms_placeholders import BodyFormat
from nabat.channels.sms_probe import SmsChecker
from nabat.channels.sms_sender import SmsSender
from nabat.channels.webhook import PUBLIC_HEADERS
from nabat.errors import ErrorCode

MAX_SEGMENTS = 8
"""The most parts a message may be cut to: SMS.ru refuses longer texts (its code 205)."""


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]
    return value


class SmsConfig(ChannelConfig):
    """The provider, who messages come from and go to, and the provider's own keys."""

    type_name: ClassVar[str] = "SMS"
    destination_keys: ClassVar[tuple[str, ...]] = ("apiBaseUrl", "gatewayUrl")

    provider: Annotated[Provider, BeforeValidator(_upper)] = Field(
        description="TWILIO, SMSRU (SMS.ru), SMSC (SMSC.ru) or GATEWAY (any HTTP API)."
    )
    default_region: str = Field(
        default=DEFAULT_REGION,
        description="The region of numbers written without + (89255070602 in RU).",
    )
    default_recipients: Annotated[list[str], BeforeValidator(_split_list)] = Field(
        default_factory=list,
        max_length=20,
        description="Phone numbers every message goes to when it names no recipient.",
    )
    sender: SingleLine | None = Field(
        default=None,
        max_length=20,
        description="The sender id: a number, short code or registered name (Twilio's From).",
    )
    max_segments: Int = Field(
        default=3,
        ge=1,
        le=MAX_SEGMENTS,
        description="Longer texts are shortened to this many SMS parts.",
    )
    account_sid: str | None = Field(default=None, description="Twilio: the Account SID.")
    auth_token: SecretStr | None = Field(default=None, description="Twilio: the Auth Token.")
    messaging_service_sid: str | None = Field(
        default=None, description="Twilio: a Messaging Service SID, in place of a sender."
    )
    api_id: SecretStr | None = Field(default=None, description="SMS.ru: the api_id key.")
    smsc_login: SingleLine | None = Field(
        default=None, max_length=100, description="SMSC.ru: the account's login."
    )
    smsc_password: RawSecret | None = Field(
        default=None, max_length=200, description="SMSC.ru: the account's password."
    )
    gateway_url: HttpUrl | None = Field(
        default=None,
        max_length=2000,
        description="Gateway: the URL; placeholders {to}, {toDigits}, {text}, {sender}, "
        "{secret}, {deliveryId} may be in its path and query.",
    )
    gateway_method: Annotated[Literal["GET", "POST", "PUT"], BeforeValidator(_upper)] | None = (
        Field(default=None, description="Gateway: the HTTP method (POST when not set).")
    )
    gateway_headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="Gateway: extra headers; values are secrets and may hold placeholders.",
    )
    gateway_body: str | None = Field(
        default=None, max_length=10_000, description="Gateway: the body, with placeholders."
    )
    gateway_body_format: Annotated[BodyFormat, BeforeValidator(_upper)] | None = Field(
        default=None, description="Gateway: how the body escapes values (JSON when not set)."
    )
    gateway_secret: SecretStr | None = Field(
        default=None, description="Gateway: a credential, used where {secret} is written."
    )
    gateway_success_statuses: Annotated[list[Int], BeforeValidator(_split_list)] = Field(
        default_factory=list,
        max_length=20,
        description="Gateway: the HTTP statuses that mean sent (any 2xx when empty).",
    )
    gateway_success_path: str | None = Field(
        default=None, description="Gateway: a JSON path (result.status) checked on success."
    )
    gateway_success_value: SingleLine | None = Field(
        default=None, description="Gateway: the value expected at that path (else: true)."
    )
    gateway_success_contains: SingleLine | None = Field(
        default=None, max_length=200, description="Gateway: text a successful answer holds."
    )
    gateway_message_id_path: str | None = Field(
        default=None, description="Gateway: a JSON path to the message id in the answer."
    )
    api_base_url: HttpUrl | None = Field(
        default=None, description="The provider's API address (its own host when not set)."
    )
    timeout: Float = Field(default=15.0, gt=0, le=120)

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return check_region(value)

    @field_validator("default_recipients")
    @classmethod
    def _recipients(cls, value: list[str], info: ValidationInfo) -> list[str]:
        region = info.data.get("default_region", DEFAULT_REGION)
        numbers: list[str] = []
        for index, raw in enumerate(value):
            try:
                numbers.append(to_e164(raw, region))
            except ValueError as exc:
                raise config_error(f"defaultRecipients.{index}", exc.args[0]) from None
        return list(dict.fromkeys(numbers))

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        region = info.data.get("default_region", DEFAULT_REGION)
        return None if value is None else sms_checks.sender_id(value, region)

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str | None) -> str | None:
        return None if value is None else sms_checks.account_sid(value)

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str | None) -> str | None:
        return None if value is None else sms_checks.service_sid(value)

    @field_validator("gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        return None if value is None else sms_checks.gateway_url(value)

    @field_validator("gateway_headers")
    @classmethod
    def _gateway_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return sms_checks.gateway_headers(value)

    @field_validator("gateway_body")
    @classmethod
    def _gateway_body(cls, value: str | None) -> str | None:
        return None if value is None else sms_checks.placeholders("gatewayBody", value)

    @field_validator("gateway_success_statuses")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        return sms_checks.statuses(value)

    @field_validator("gateway_success_path", "gateway_message_id_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        return None if value is None else sms_checks.json_path(value)

    @model_validator(mode="after")
    def _provider_keys(self) -> SmsConfig:
        sms_checks.provider_keys(self)
        if self.provider == "TWILIO":
            sms_checks.twilio(self)
        if self.provider == "GATEWAY":
            sms_checks.gateway(self)
        return self

    @property
    def method(self) -> str:
        """The gateway's HTTP method in force."""
        return self.gateway_method or "POST"

    @property
    def body_format(self) -> BodyFormat:
        """How the gateway's body escapes values."""
        return self.gateway_body_format or "JSON"

    def to_public(self) -> dict[str, Any]:
        """Mask the secrets and every gateway header value not known to be harmless."""
        public = super().to_public()
        if self.gateway_headers:
            public["gatewayHeaders"] = {
                name: (value if name.lower() in PUBLIC_HEADERS else MASK)
                for name, value in self.gateway_headers.items()
            }
        return public

    def secret_texts(self) -> tuple[str, ...]:
        """The secrets, URL credentials and every gateway header value that is masked."""
        masked = tuple(
            value
            for name, value in self.gateway_headers.items()
            if name.lower() not in PUBLIC_HEADERS
        )
        return super().secret_texts() + masked


def _addressed(config: SmsConfig) -> bool:
    return bool(config.default_recipients)


def _sender(parts: SenderParts) -> SmsSender:
    return SmsSender(parts.outbound)


def _checker(parts: SenderParts) -> SmsChecker:
    return SmsChecker(parts.outbound)


SMS = ChannelType(
    config=SmsConfig,
    sender=_sender,
    error_code=ErrorCode.SMS_ERROR,
    test_sent=Phrase("Тестовое SMS успешно отправлено", "Test SMS sent successfully"),
    test_failed=Phrase("Тестовое SMS не отправлено: {reason}", "Test SMS not sent: {reason}"),
    template_kind="sms",
    # One message per person, to their phone contact point.
    address_kind="PHONE",
    preference_kind="sms",
    addressed=_addressed,
    # The provider's balance, not a paid test SMS (a gateway: its host reached).
    probe=_checker,
)
