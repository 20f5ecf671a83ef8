"""The checks of an SMS configuration that say more than a field's type: sender ids,
Twilio SIDs, gateway templates and headers, and which provider needs which keys.

Each raises an error naming the key at fault (``config_error``) or a ``ValueError`` that
pydantic puts on the field being validated.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from nabat.channels.base import MASK, config_error, mask_error
from nabat.channels.sms_numbers import to_e164
from nabat.channels.sms_placeholders import BODY_ESCAPES, PLACEHOLDERS, SAMPLE, fill, unknown, used
from nabat.channels.webhook import PUBLIC_HEADERS
from nabat.sentences import Sentence

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

Provider = Literal["TWILIO", "SMSRU", "SMSC", "GATEWAY"]

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
"""The keys each provider cannot do without."""

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# An alphanumeric sender id: up to 11 plain Latin letters, digits and a few signs.
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 .&'!_\-]{1,11}$")
_SHORT_CODE = re.compile(r"^\d{3,15}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_JSON_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
# Set by the HTTP client; a user value would break the framing.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def sender_id(value: str, region: str) -> str:
    """A sender: a number (normalised to E.164), a short code or an alphanumeric id."""
    if value.startswith("+"):
        return to_e164(value, region)
    if _SHORT_CODE.match(value) or _ALPHANUMERIC.match(value):
        return value
    raise ValueError(
        "must be a phone number in international form (+79255070602), a short code "
        "(3-15 digits) or an alphanumeric sender id of at most 11 Latin letters, digits "
        "and spaces, as registered with the provider"
    )


def account_sid(value: str) -> str:
    """A Twilio Account SID."""
    if not _ACCOUNT_SID.match(value):
        raise ValueError(
            "must be the Account SID from the Twilio Console: AC and 32 hexadecimal digits"
        )
    return value


def service_sid(value: str) -> str:
    """A Twilio Messaging Service SID."""
    if not _SERVICE_SID.match(value):
        raise ValueError(
            "must be a Messaging Service SID from the Twilio Console: MG and 32 hexadecimal digits"
        )
    return value


def placeholders(key: str, template: str) -> str:
    """A template whose names in braces are all placeholders."""
    strangers = unknown(template)
    if strangers:
        known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise config_error(
            key,
            Sentence(
                "unknown placeholder {{{name}}}; the placeholders are {known}",
                name=strangers[0],
                known=known,
            ),
        )
    return template


def gateway_url(value: str) -> str:
    """A gateway URL template: known placeholders, in the path and query only."""
    placeholders("gatewayUrl", value)
    if "{" in urlsplit(value).netloc:
        raise ValueError(
            "placeholders may be in the path and query only: the host must be fixed, so "
            "that it can be checked before anything is sent"
        )
    return value


def gateway_headers(value: dict[str, str]) -> dict[str, str]:
    """Header names and single-line values that Nabat may send, placeholders known."""
    for name, header_value in value.items():
        where = f"gatewayHeaders.{name}"
        if not _HEADER_NAME.match(name):
            raise config_error(
                where, Sentence("header name {name!r} is not a valid HTTP header name", name=name)
            )
        if name.lower() in _RESERVED_HEADERS:
            raise config_error(
                where,
                Sentence("header {name!r} is set by Nabat and cannot be overridden", name=name),
            )
        if any(ch in header_value for ch in "\r\n\0"):
            raise config_error(where, Sentence("header {name!r} must be a single line", name=name))
        if header_value == MASK and name.lower() not in PUBLIC_HEADERS:
            raise mask_error(where)
        placeholders(where, header_value)
    return value


def statuses(value: list[int]) -> list[int]:
    """HTTP statuses."""
    for index, status in enumerate(value):
        if not 100 <= status <= 599:
            raise config_error(
                f"gatewaySuccessStatuses.{index}",
                Sentence("{status} is not an HTTP status", status=status),
            )
    return value


def json_path(value: str) -> str:
    """A dotted JSON path (``result.0.id``)."""
    if not _JSON_PATH.match(value):
        raise ValueError("must be keys separated by dots, list positions as numbers (result.0.id)")
    return value


def provider_keys(config: SmsConfig) -> None:
    """The chosen provider's keys are there and no other provider's are."""
    given = {
        key
        for key, value in config.model_dump(by_alias=True, exclude_none=True).items()
        if value not in ({}, [])
    }
    for provider, keys in PROVIDER_KEYS.items():
        for key in keys:
            if provider != config.provider and key in given:
                raise config_error(
                    key,
                    Sentence(
                        "{key} is a setting of the {provider} provider, not of {chosen}; "
                        "remove it (send null)",
                        key=key,
                        provider=provider,
                        chosen=config.provider,
                    ),
                    "invalid_combination",
                )
    for key in REQUIRED_KEYS[config.provider]:
        if key not in given:
            message = Sentence("required for the {provider} provider", provider=config.provider)
            raise config_error(key, message, "missing")


def twilio(config: SmsConfig) -> None:
    """Exactly one of a From and a Messaging Service."""
    if (config.sender is None) == (config.messaging_service_sid is None):
        raise config_error(
            "sender",
            "Twilio needs exactly one of sender (its From number or sender id) and "
            "messagingServiceSid",
            "invalid_combination",
        )


def gateway(config: SmsConfig) -> None:
    """A gateway request that can work: the text and the number go somewhere, the secret
    is used where it is set, a JSON body is JSON once filled in, GET has no body."""
    if config.api_base_url is not None:
        raise config_error(
            "apiBaseUrl",
            "the GATEWAY provider takes its whole address from gatewayUrl; remove apiBaseUrl",
            "invalid_combination",
        )
    if config.gateway_success_value is not None and config.gateway_success_path is None:
        raise config_error(
            "gatewaySuccessValue",
            "gatewaySuccessValue is compared with the value at gatewaySuccessPath; set both",
            "invalid_combination",
        )
    body = config.gateway_body or ""
    if body and config.method == "GET":
        raise config_error(
            "gatewayBody", "a GET request has no body; use POST or PUT", "invalid_combination"
        )
    names = used((config.gateway_url or "") + body + "".join(config.gateway_headers.values()))
    where = "gatewayBody" if body else "gatewayUrl"
    if "text" not in names:
        raise config_error(
            where,
            "the message text goes nowhere: write {text} in gatewayUrl or gatewayBody",
            "missing",
        )
    if not names & {"to", "toDigits"}:
        raise config_error(
            where,
            "the recipient goes nowhere: write {to} (E.164) or {toDigits} (without +) in "
            "gatewayUrl or gatewayBody",
            "missing",
        )
    if ("secret" in names) != (config.gateway_secret is not None):
        raise config_error(
            "gatewaySecret",
            "gatewaySecret is used where {secret} is written in gatewayUrl, gatewayHeaders or "
            "gatewayBody: set both or neither",
            "invalid_combination",
        )
    if body and config.body_format == "JSON":
        try:
            json.loads(fill(body, SAMPLE, BODY_ESCAPES["JSON"]))
        except ValueError as exc:
            raise config_error(
                "gatewayBody",
                Sentence(
                    "is not JSON once filled in ({reason}); write placeholders inside quotes, "
                    'as in {{"text": "{{text}}"}}, or set gatewayBodyFormat to TEXT',
                    reason=str(exc),
                ),
            ) from None
