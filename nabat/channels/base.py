"""What every channel configuration model shares: camelCase keys, secrets, masking."""

from __future__ import annotations

import base64
import ipaddress
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from nabat.sentences import Sentence

MASK = "********"


class Url(str):
    """An absolute http(s) URL, kept exactly as written.

    Its userinfo (``user:password@``) is a credential: shown as ``********@`` and
    restored from storage when sent back that way (see :func:`masked_url`).
    """


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """``url`` as (``scheme://``, userinfo, the rest), or ``None`` without userinfo.

    Split where :func:`urllib.parse.urlsplit` (and so the HTTP client) splits: the
    authority ends at the first ``/``, ``?`` or ``#``; the userinfo at its last ``@``.
    """
    scheme, sep, tail = url.partition("://")
    if not sep:
        return None
    end = min((at for at in map(tail.find, "/?#") if at >= 0), default=len(tail))
    userinfo, at, host = tail[:end].rpartition("@")
    if not at:
        return None
    return f"{scheme}://", userinfo, host + tail[end:]


def masked_url(url: str) -> str:
    """``url`` with its whole userinfo replaced by the mask: ``https://********@host/…``.

    The whole of it, not only the password: a token is often given as the user name
    alone (``https://<token>@host``).
    """
    split = _userinfo(url)
    if split is None:
        return url
    head, _, rest = split
    return f"{head}{MASK}@{rest}"


def url_credentials(url: str) -> tuple[str, ...]:
    """The forms a URL's credentials may take in text: the userinfo as written and
    decoded, the password (or, without one, the user name) as written and decoded, and
    the value of the ``Authorization: Basic`` header the HTTP client makes of them."""
    split = _userinfo(url)
    if split is None:
        return ()
    userinfo = split[1]
    user, has_password, password = userinfo.partition(":")
    secret = password if has_password else user
    basic = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return (userinfo, unquote(userinfo), secret, unquote(secret), basic)


def _check_http_url(value: str) -> Url:
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
    split = _userinfo(value)
    if split is not None and split[1] == MASK:
        # restore_masked puts the stored credentials back only into the URL they were
        # stored with; here they were not, or none are stored.
        message = Sentence(
            "holds the mask {mask!r} in place of its credentials, but no stored URL is "
            "the same apart from them; send the credentials in clear (they are never "
            "carried over to a changed URL)",
            mask=MASK,
        )
        raise PydanticCustomError("masked_secret", "{message}", {"message": message})
    return Url(value)


def _check_single_line(value: str) -> str:
    # Values that end up in e-mail or HTTP headers must never carry a line break,
    # or a caller could smuggle extra headers in.
    if "\r" in value or "\n" in value:
        raise ValueError("must be a single line (no line breaks)")
    return value


def _not_bool(value: object) -> object:
    # pydantic's lax mode reads true as 1; a port or timeout of "true" is a mistake.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _keep_secret_as_written(value: object) -> object:
    # Wrapping before validation keeps str_strip_whitespace away from the secret:
    # a password may legitimately begin or end with a space.
    return SecretStr(value) if isinstance(value, str) else value


def config_error(key: str, message: str, kind: str = "value_error") -> PydanticCustomError:
    """An error that names the configuration ``key`` at fault (``headers.X-Api-Key``).

    Checks that look at several keys at once run on the whole model, where pydantic
    knows no field; ``config_errors`` reads ``configKey`` to name it anyway. ``message``
    is a literal sentence, or a :class:`~nabat.sentences.Sentence` when it has values
    (the console says either in the visitor's language).
    """
    return PydanticCustomError(kind, "{message}", {"message": message, "configKey": key})


Int = Annotated[int, BeforeValidator(_not_bool)]
"""An integer, also written as a string ("587"), but never a boolean."""

Float = Annotated[float, BeforeValidator(_not_bool)]
"""A number, also written as a string ("30"), but never a boolean."""

RawSecret = Annotated[SecretStr, BeforeValidator(_keep_secret_as_written)]
"""A secret kept byte for byte as given (no whitespace stripping)."""

HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
"""An absolute http(s) URL, kept exactly as written; its userinfo is masked (:class:`Url`)."""

SingleLine = Annotated[str, AfterValidator(_check_single_line)]
"""Text without line breaks."""


def check_secret_http_url(value: SecretStr | None) -> SecretStr | None:
    """Validate a URL that is itself a secret (Slack/Discord webhook URLs)."""
    if value is None or value.get_secret_value() == MASK:
        return value  # the mask is refused by ChannelConfig with its own message
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
    # Keys naming where secrets are sent. Changing one must come with the secrets again,
    # or a user who may edit but not read a channel could redirect its stored password.
    destination_keys: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_bare_mask(self) -> ChannelConfig:
        # A secret that is the mask itself means a client sent back what it read for a
        # secret that is not stored; a plain value may be any text, asterisks included.
        for name, value in self.model_dump(by_alias=True, exclude_none=True).items():
            if isinstance(value, SecretStr) and value.get_secret_value() == MASK:
                raise mask_error(name)
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
        """The configuration as shown to clients: every secret, and the credentials in
        every URL, replaced by the mask."""
        masked: dict[str, Any] = _mask(self.model_dump(by_alias=True, exclude_none=True))
        return masked

    def secret_texts(self) -> tuple[str, ...]:
        """Every secret value and URL credential, in the forms text may show them, for
        scrubbing failure reasons (:func:`nabat.channels.redact.scrubbed`)."""
        found: list[str] = []
        _collect_secrets(self.model_dump(by_alias=True, exclude_none=True), found)
        return tuple(found)


def mask_error(key: str) -> PydanticCustomError:
    """The error for a secret whose value is the mask (nothing stored to restore)."""
    return config_error(
        key,
        Sentence(
            "holds the mask {mask!r} but no secret is stored for it; send the real value", mask=MASK
        ),
        "masked_secret",
    )


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Url):
        return str(value)
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, Url):
        return masked_url(value)
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value


def _collect_secrets(value: Any, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, Url):
        found.extend(url_credentials(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect_secrets(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_secrets(item, found)


def restore_masked(patch: Any, stored: Any) -> Any:
    """Replace each mask in ``patch`` by the stored value at the same place.

    A client that reads a channel and sends it back unchanged must not overwrite its
    secrets with the mask. A URL whose credentials read as the mask gets the stored
    ones back only when it is the stored URL as shown (the same everywhere but the
    credentials), so they never move to another destination; in a list, it may be at
    any place. A mask where nothing was stored is left for validation to refuse.
    """
    if isinstance(patch, str):
        if patch == MASK and stored is not None:
            return stored
        if MASK in patch and isinstance(stored, str) and masked_url(stored) == patch:
            return stored
        return patch
    if isinstance(patch, dict) and isinstance(stored, dict):
        return {key: restore_masked(item, stored.get(key)) for key, item in patch.items()}
    if isinstance(patch, list) and isinstance(stored, list):
        shown = {masked_url(item): item for item in stored if isinstance(item, str)}
        return [shown.get(item, item) if isinstance(item, str) else item for item in patch]
    return patch
