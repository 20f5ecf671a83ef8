"""WEBHOOK: an HTTP request to the user's endpoint, optionally signed (Standard Webhooks)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from nabat.channels.base import MASK, ChannelConfig, Float, HttpUrl, config_error, mask_error

# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

# Header values shown in clear; every other header may carry a credential and is masked.
PUBLIC_HEADERS = frozenset({"content-type", "accept", "user-agent", "accept-language"})

# Set by Nabat on every request; a user value would break signing or framing.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection"}
    | {"webhook-id", "webhook-timestamp", "webhook-signature"}
)

MIN_SECRET_BYTES = 16


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class WebhookConfig(ChannelConfig):
    """Target URL, method, extra headers, timeout and an optional signing secret."""

    type_name: ClassVar[str] = "WEBHOOK"
    worded: ClassVar[bool] = False
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
                raise config_error(where, f"header name {name!r} is not a valid HTTP header name")
            if name.lower() in RESERVED_HEADERS:
                raise config_error(
                    where, f"header {name!r} is set by Nabat and cannot be overridden"
                )
            if any(ch in header_value for ch in "\r\n\0"):
                raise config_error(where, f"header {name!r} must be a single line")
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


def signing_key(secret: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks secret.

    ``whsec_<base64>`` is decoded as the spec says; any other string of at least
    16 characters is used as raw bytes. Raises ``ValueError`` otherwise.
    """
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[len("whsec_") :], validate=True)
        except binascii.Error as exc:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from exc
    else:
        key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"must be at least {MIN_SECRET_BYTES} bytes (e.g. whsec_ followed by 24+ base64 bytes)"
        )
    return key
