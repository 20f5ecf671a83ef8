"""SMS: Twilio, SMS.ru, SMSC.ru or any HTTP gateway (CONTRACTS.md section 7).

One flat configuration for every provider, so the console's generated form stays one
form: ``provider`` says which provider's keys apply, and the model refuses the keys of
another provider and names the ones the chosen provider still needs.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nabat.channels.base import (
    MASK,
    ChannelConfig,
    Float,
    HttpUrl,
    Int,
    RawSecret,
    SingleLine,
    config_error,
    mask_error,
)
from nabat.channels.descriptor import ChannelType, Phrase, SenderParts
from nabat.channels.sms_numbers import DEFAULT_REGION, check_region, to_e164
from nabat.channels.sms_placeholders import (
    BODY_ESCAPES,
    PLACEHOLDERS,
    SAMPLE,
    BodyFormat,
    fill,
    unknown,
    used,
)
from nabat.channels.sms_sender import SmsSender
from nabat.channels.webhook import PUBLIC_HEADERS
from nabat.errors import ErrorCode

Provider = Literal["TWILIO", "SMSRU", "SMSC", "GATEWAY"]

MAX_SEGMENTS = 8
"""The most parts a message may be cut to: SMS.ru refuses longer texts (its code 205)."""

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# An alphanumeric sender id: up to 11 characters of the GSM alphabet's plain letters.
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 .&'!_\-]{1,11}$")
_SHORT_CODE = re.compile(r"^\d{3,15}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_JSON_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
# Set by the HTTP client; a user value would break the framing.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

PROVIDER_KEYS: dict[Provider, tuple[str, ...]] = {
    "TWILIO": ("accountSid", "authToken", "messagingServiceSid"),
    "SMSRU": ("apiId",),
    "SMSC": ("smscLogin", "smscPassword"),
    "GATEWAY": (
        "gatewayUrl",
        "gatewayMethod",
        "gatewayHeaders",
        "gatewayBody",
        "gatewayBodyFormat",
        "gatewaySecret",
        "gatewaySuccessStatuses",
        "gatewaySuccessPath",
        "gatewaySuccessValue",
        "gatewaySuccessContains",
        "gatewayMessageIdPath",
    ),
}
"""The keys that belong to one provider."""

REQUIRED_KEYS: dict[Provider, tuple[str, ...]] = {
    "TWILIO": ("accountSid", "authToken"),
    "SMSRU": ("apiId",),
    "SMSC": ("smscLogin", "smscPassword"),
    "GATEWAY": ("gatewayUrl",),
}


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]
    return value


def _sender_id(value: str, region: str) -> str:
    if value.startswith("+"):
        return to_e164(value, region)
    if _SHORT_CODE.match(value) or _ALPHANUMERIC.match(value):
        return value
    raise ValueError(
        "must be a phone number in international form (+79255070602), a short code "
        "(3-15 digits) or an alphanumeric sender id of at most 11 Latin letters, digits "
        "and spaces, as registered with the provider"
    )


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
                raise config_error(f"defaultRecipients.{index}", str(exc)) from None
        return list(dict.fromkeys(numbers))

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return _sender_id(value, info.data.get("default_region", DEFAULT_REGION))

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT_SID.match(value):
            raise ValueError(
                "must be the Account SID from the Twilio Console: AC and 32 hexadecimal digits"
            )
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str | None) -> str | None:
        if value is not None and not _SERVICE_SID.match(value):
            raise ValueError(
                "must be a Messaging Service SID from the Twilio Console: MG and 32 "
                "hexadecimal digits"
            )
        return value

    @field_validator("gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _known_placeholders("gatewayUrl", value)
        if "{" in urlsplit(value).netloc:
            raise ValueError(
                "placeholders may be in the path and query only: the host must be fixed, "
                "so that it can be checked before anything is sent"
            )
        return value

    @field_validator("gateway_headers")
    @classmethod
    def _gateway_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            where = f"gatewayHeaders.{name}"
            if not _HEADER_NAME.match(name):
                raise config_error(where, f"header name {name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise config_error(where, f"header {name!r} is set by Nabat and cannot be set")
            if any(ch in header_value for ch in "\r\n\0"):
                raise config_error(where, f"header {name!r} must be a single line")
            if header_value == MASK and name.lower() not in PUBLIC_HEADERS:
                raise mask_error(where)
            _known_placeholders(where, header_value)
        return value

    @field_validator("gateway_body")
    @classmethod
    def _gateway_body(cls, value: str | None) -> str | None:
        if value is not None:
            _known_placeholders("gatewayBody", value)
        return value

    @field_validator("gateway_success_statuses")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        for index, status in enumerate(value):
            if not 100 <= status <= 599:
                raise config_error(
                    f"gatewaySuccessStatuses.{index}", f"{status} is not an HTTP status"
                )
        return value

    @field_validator("gateway_success_path", "gateway_message_id_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not _JSON_PATH.match(value):
            raise ValueError(
                "must be keys separated by dots, list positions as numbers (result.0.id)"
            )
        return value

    @model_validator(mode="after")
    def _provider_keys(self) -> SmsConfig:
        given = {
            key
            for key, value in self.model_dump(by_alias=True, exclude_none=True).items()
            if value not in ({}, [])
        }
        for provider, keys in PROVIDER_KEYS.items():
            for key in keys:
                if provider != self.provider and key in given:
                    raise config_error(
                        key,
                        f"{key} is a setting of the {provider} provider, not of "
                        f"{self.provider}; remove it (send null)",
                        "invalid_combination",
                    )
        for key in REQUIRED_KEYS[self.provider]:
            if key not in given:
                raise config_error(key, f"required for the {self.provider} provider", "missing")
        if self.provider == "TWILIO":
            self._check_twilio()
        if self.provider == "GATEWAY":
            self._check_gateway()
        return self

    def _check_twilio(self) -> None:
        if (self.sender is None) == (self.messaging_service_sid is None):
            raise config_error(
                "sender",
                "Twilio needs exactly one of sender (its From number or sender id) and "
                "messagingServiceSid",
                "invalid_combination",
            )

    def _check_gateway(self) -> None:
        if self.api_base_url is not None:
            raise config_error(
                "apiBaseUrl",
                "the GATEWAY provider takes its whole address from gatewayUrl; remove apiBaseUrl",
                "invalid_combination",
            )
        if self.gateway_success_value is not None and self.gateway_success_path is None:
            raise config_error(
                "gatewaySuccessValue",
                "gatewaySuccessValue is compared with the value at gatewaySuccessPath; set both",
                "invalid_combination",
            )
        body = self.gateway_body or ""
        if body and self.method == "GET":
            raise config_error(
                "gatewayBody", "a GET request has no body; use POST or PUT", "invalid_combination"
            )
        everywhere = (self.gateway_url or "") + body + "".join(self.gateway_headers.values())
        names = used(everywhere)
        if "text" not in names:
            raise config_error(
                "gatewayBody" if body else "gatewayUrl",
                "the message text goes nowhere: write {text} in gatewayUrl or gatewayBody",
                "missing",
            )
        if not names & {"to", "toDigits"}:
            raise config_error(
                "gatewayBody" if body else "gatewayUrl",
                "the recipient goes nowhere: write {to} (E.164) or {toDigits} (without +) in "
                "gatewayUrl or gatewayBody",
                "missing",
            )
        if ("secret" in names) != (self.gateway_secret is not None):
            raise config_error(
                "gatewaySecret",
                "gatewaySecret is used where {secret} is written in gatewayUrl, "
                "gatewayHeaders or gatewayBody: set both or neither",
                "invalid_combination",
            )
        if body and self.body_format == "JSON":
            try:
                json.loads(fill(body, SAMPLE, BODY_ESCAPES["JSON"]))
            except ValueError as exc:
                raise config_error(
                    "gatewayBody",
                    f"is not JSON once filled in ({exc}); write placeholders inside quotes, "
                    'as in {"text": "{text}"}, or set gatewayBodyFormat to TEXT',
                ) from None

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


def _known_placeholders(key: str, template: str) -> None:
    strangers = unknown(template)
    if strangers:
        raise config_error(
            key,
            f"unknown placeholder {{{strangers[0]}}}; the placeholders are "
            + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
        )


def _addressed(config: SmsConfig) -> bool:
    return bool(config.default_recipients)


def _sender(parts: SenderParts) -> SmsSender:
    return SmsSender(parts.outbound)


SMS = ChannelType(
    config=SmsConfig,
    sender=_sender,
    error_code=ErrorCode.SMS_ERROR,
    test_sent=Phrase("Тестовое SMS успешно отправлено", "Test SMS sent successfully"),
    test_failed=Phrase("Тестовое SMS не отправлено: {reason}", "Test SMS not sent: {reason}"),
    template_kind="sms",
    # One message per person, to their phone contact point.
    address_kind="PHONE",
    addressed=_addressed,
)
