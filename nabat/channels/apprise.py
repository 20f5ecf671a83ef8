"""APPRISE: the long tail of services, through the ``apprise`` library.

A channel holds a list of Apprise URLs (``tgram://…``, ``ntfy://…``, ``json://…``). The
whole list is one secret: it reads back as the mask, and the mask sent back keeps it.
Changing it means sending the URLs again, since none of them can be shown to tell apart.
Each URL is parsed by apprise when the channel is saved, so one it cannot use is refused
then, named by its place in the list.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from nabat.channels.apprise_sender import AppriseSender
from nabat.channels.apprise_urls import SERVICES_PAGE, UnusableUrl, load, url_secrets
from nabat.channels.base import MASK, ChannelConfig, Float, config_error, mask_error
from nabat.channels.descriptor import TEST_FAILED, TEST_SENT, ChannelType, SenderParts
from nabat.errors import ErrorCode
from nabat.sentences import Sentence

MAX_URLS = 20


def _as_list(value: object) -> object:
    # A string (or each string of a list) may hold several URLs, separated by spaces,
    # commas or lines, as apprise itself takes them; a comma inside a URL's query stays
    # with it.
    from apprise.utils.parse import parse_urls

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    urls: list[object] = []
    for item in items:
        if isinstance(item, str):
            urls.extend(url.strip() for url in parse_urls(item))  # type: ignore[no-untyped-call]
        else:
            urls.append(item)
    return urls


class AppriseConfig(ChannelConfig):
    """Apprise URLs (all secret), the format of the text handed to apprise, and how long
    one URL's notification may take."""

    type_name: ClassVar[str] = "APPRISE"

    urls: Annotated[list[SecretStr], BeforeValidator(_as_list)] = Field(
        min_length=1,
        max_length=MAX_URLS,
        # One secret input in the console: the URLs, separated by spaces or commas.
        json_schema_extra={"format": "password", "writeOnly": True},
        description=(
            f"one or more Apprise URLs ({SERVICES_PAGE}), separated by spaces or commas; "
            "they are secrets"
        ),
    )
    body_format: Literal["text", "markdown", "html"] = Field(
        default="text", description="how apprise should read the message text"
    )
    timeout: Float = Field(default=15.0, gt=0, le=120)

    @field_validator("urls")
    @classmethod
    def _usable(cls, urls: list[SecretStr]) -> list[SecretStr]:
        count = len(urls)
        for index, url in enumerate(urls):
            value = url.get_secret_value()
            if value == MASK:
                raise mask_error("urls")
            try:
                load(value)
            except UnusableUrl as exc:
                # Named by place, never by content: the URL is the credential.
                raise config_error(
                    f"urls.{index}",
                    Sentence(
                        "URL {place} of {count} {reason}",
                        place=index + 1,
                        count=count,
                        reason=exc.reason,
                    ),
                ) from None
        return urls

    def to_public(self) -> dict[str, Any]:
        """The configuration as shown: the URLs, all of them, as one mask."""
        public = super().to_public()
        public["urls"] = MASK
        return public

    def secret_texts(self) -> tuple[str, ...]:
        """Each URL and every piece of one that may be a credential."""
        pieces = [piece for url in self.urls for piece in url_secrets(url.get_secret_value())]
        return super().secret_texts() + tuple(pieces)


def _sender(parts: SenderParts) -> AppriseSender:
    return AppriseSender(parts.outbound)


APPRISE = ChannelType(
    config=AppriseConfig,
    sender=_sender,
    error_code=ErrorCode.APPRISE_ERROR,
    test_sent=TEST_SENT,
    test_failed=TEST_FAILED,
)
