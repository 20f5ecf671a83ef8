"""WEBHOOK: an HTTP request to the user's endpoint, optionally signed (Standard Webhooks)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from nabat.channels.base import MASK, ChannelConfig, Float, HttpUrl, config_error, mask_error
from nabat.channels.descriptor import TEST_FAILED, TEST_SENT, ChannelType, SenderParts
from nabat.channels.webhook_sender import WebhookSender, signing_key
from nabat.errors import ErrorCode
from nabat.sentences import Sentence

# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

# Header values shown in clear; every other header may carry a credential and is masked.
PUBLIC_HEADERS = frozenset({"content-type", "accept", "user-agent", "accept-language"})

# Set by Nabat on every request; a user value would break signing or framing.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection"}
    | {"webhook-id", "webhook-timestamp", "webhook-signature"}
)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class WebhookConfig(ChannelConfig):
    """Target URL, method, extra headers, timeout and an optional signing secret."""

    type_name: ClassVar[str] = "WEBHOOK"
    destination_keys: ClassVar[tuple[str, ...]] = ("url",)

    url: HttpUrl
    method: Annotated[Literal["POST", "PUT"], BeforeValidator(_upper)] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    timeout: Float = Field(default=10.0, gt=0, le=120)
    secret: SecretStr | None = None

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            where = f"headers.{name}"
            if not _HEADER_NAME.match(name):
                raise config_error(
                    where,
                    Sentence("header name {name!r} is not a valid HTTP header name", name=name),
                )
            if name.lower() in RESERVED_HEADERS:
                raise config_error(
                    where,
                    Sentence("header {name!r} is set by Nabat and cannot be overridden", name=name),
                )
            if any(ch in header_value for ch in "\r\n\0"):
                raise config_error(
                    where, Sentence("header {name!r} must be a single line", name=name)
                )
            if header_value == MASK and name.lower() not in PUBLIC_HEADERS:
                raise mask_error(where)
        return value

    @field_validator("secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == MASK:
            return value  # the mask is refused by ChannelConfig with its own message
        signing_key(value.get_secret_value())
        return value

    def to_public(self) -> dict[str, Any]:
        """Mask the secret and every header value that is not known to be harmless."""
        public = super().to_public()
        if self.headers:
            public["headers"] = {
                name: (value if name.lower() in PUBLIC_HEADERS else MASK)
                for name, value in self.headers.items()
            }
        return public

    def secret_texts(self) -> tuple[str, ...]:
        """The secrets, URL credentials and every header value that is masked."""
        masked_headers = tuple(
            value for name, value in self.headers.items() if name.lower() not in PUBLIC_HEADERS
        )
        return super().secret_texts() + masked_headers


def _sender(parts: SenderParts) -> WebhookSender:
    return WebhookSender(parts.outbound, parts.clock)


WEBHOOK = ChannelType(
    config=WebhookConfig,
    sender=_sender,
    error_code=ErrorCode.WEBHOOK_ERROR,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
    # The payload and the event as they are, not worded text.
    worded=False,
)
