"""What every channel configuration model shares: camelCase keys, secrets, masking."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, model_validator
from pydantic.alias_generators import to_camel

MASK = "********"


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port number") from exc
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain spaces")
    return value


def _check_single_line(value: str) -> str:
    # Values that end up in e-mail or HTTP headers must never carry a line break,
    # or a caller could smuggle extra headers in.
    if "\r" in value or "\n" in value:
        raise ValueError("must be a single line (no line breaks)")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
"""An absolute http(s) URL, kept exactly as written."""

SingleLine = Annotated[str, AfterValidator(_check_single_line)]
"""Text without line breaks."""


def check_secret_http_url(value: SecretStr | None) -> SecretStr | None:
    """Validate a URL that is itself a secret (Slack/Discord webhook URLs)."""
    if value is None:
        return None
    return SecretStr(_check_http_url(value.get_secret_value()))


SecretHttpUrl = Annotated[SecretStr, AfterValidator(check_secret_http_url)]
"""An http(s) URL that carries a credential, so it is masked like a password."""


def is_ip_literal(host: str) -> bool:
    """Tell whether ``host`` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class ChannelConfig(BaseModel):
    """Base of every channel type's configuration.

    Keys are camelCase on the wire (seed 002); unknown keys are refused so that a typo
    never silently drops a setting; numbers written as strings are accepted.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        extra="forbid",
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
        frozen=True,
    )

    type_name: ClassVar[str] = ""

    @model_validator(mode="after")
    def _no_bare_mask(self) -> ChannelConfig:
        for name, value in self.to_storage().items():
            if value == MASK or (isinstance(value, dict) and MASK in value.values()):
                raise ValueError(
                    f"{name} holds the mask {MASK!r} but no secret is stored for it; "
                    "send the real value"
                )
        return self

    @classmethod
    def wire_keys(cls) -> list[str]:
        """The configuration keys this type accepts, as clients write them."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def required_keys(cls) -> list[str]:
        """The keys that must be present."""
        return [
            field.alias or name for name, field in cls.model_fields.items() if field.is_required()
        ]

    def to_storage(self) -> dict[str, Any]:
        """The configuration with secrets in clear, for encryption at rest."""
        revealed: dict[str, Any] = _reveal(self.model_dump(by_alias=True, exclude_none=True))
        return revealed

    def to_public(self) -> dict[str, Any]:
        """The configuration as shown to clients: every secret replaced by the mask."""
        masked: dict[str, Any] = _mask(self.model_dump(by_alias=True, exclude_none=True))
        return masked


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value


def restore_masked(patch: Any, stored: Any) -> Any:
    """Replace each mask in ``patch`` by the stored value at the same place.

    A client that reads a channel and sends it back unchanged must not overwrite its
    secrets with the mask; a mask where nothing was stored is left for validation
    to refuse.
    """
    if isinstance(patch, str) and patch == MASK and stored is not None:
        return stored
    if isinstance(patch, dict) and isinstance(stored, dict):
        return {key: restore_masked(item, stored.get(key)) for key, item in patch.items()}
    return patch
