"""What Nabat knows about a channel type, in one place: the :class:`ChannelType` descriptor.

Each ``channels/<type>.py`` defines one; ``channels/registry.py`` lists them. Everything
outside the type's own modules asks the descriptor (never ``isinstance`` or the type's
name): how to build its sender, which templates word it, what a recipient address of it
looks like, which provider rate limits apply, how its failures and test sends are named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from nabat.channels.base import ChannelConfig
from nabat.channels.contract import Checker, Sender
from nabat.channels.outbound import Outbound
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock
from nabat.delivery.ratelimit import Rate
from nabat.errors import ErrorCode

C = TypeVar("C", bound=ChannelConfig)

TemplateKind = Literal["email", "chat", "sms", "inapp"]
"""The kind of wording a type shows; templates exist per notification type and kind."""

AddressKind = Literal["EMAIL", "TELEGRAM", "PHONE", "USERNAME", "USER"]
"""What one recipient's address is on a personal channel (a contact point's kind; ``USER``:
the project member's user id, for the in-app inbox)."""

Buckets = list[tuple[str, Rate]]
"""Rate-limit buckets a message takes a token from, the destination's first."""


@dataclass(frozen=True)
class SenderParts:
    """The process's shared clients a sender may be built from."""

    outbound: Outbound
    smtp: SmtpPools
    clock: Clock


@dataclass(frozen=True)
class Phrase:
    """One sentence in Russian and English; ``{reason}`` is filled in where it appears."""

    ru: str
    en: str

    def said(self, language: str, **values: str) -> str:
        """The sentence in ``language`` (English for any language but Russian)."""
        return (self.ru if language == "ru" else self.en).format(**values)


@dataclass(frozen=True)
class ProjectSender:
    """Who a project's messages come from: its mail settings and its name."""

    from_address: str | None
    from_name: str | None
    reply_to: str | None
    project_name: str


def no_limits(config: ChannelConfig, recipient: str | None) -> Buckets:
    """For types whose providers publish no rate limit."""
    return []


def always_addressed(config: ChannelConfig) -> bool:
    """For types whose configuration always names where messages go."""
    return True


def fingerprint(secret: str) -> str:
    """A short stable digest of a credential, for bucket keys (they reach logs and
    metrics, so they must not hold the credential itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChannelType(Generic[C]):
    """One channel type.

    ``worded`` says whether the sender shows text worded by templates (subject, text,
    HTML); types that post a fixed payload (webhooks, the Python bot) need none.
    ``address_kind`` is set for personal types (one message per person, to that person's
    contact point); ``None`` means a fixed destination. ``addressed`` tells whether a
    configuration names its own recipients, so a test send needs no one else's address.
    ``with_project`` completes a configuration from the project's sender (e-mail's From,
    sender name and Reply-To), raising a ``config`` :class:`DeliveryError` if it cannot.
    ``probe`` builds a :class:`Checker` for types whose provider can be checked without
    sending a message; a scheduled check of any other type sends a test message.
    ``preference_kind`` names the switch people turn this type's messages to them on or
    off with (``email`` for every mail type alike); ``None`` for types that post to a
    fixed place, which no one's preferences reach. ``waits_out_quiet_hours``: a message
    to a person in their quiet hours waits until they end (the inbox collects instead).
    ``builtin`` types are Nabat's own (the in-app inbox): every project has exactly one
    channel of each, made by Nabat; clients may switch it off but not add, delete or
    retype one.
    """

    config: type[C]
    sender: Callable[[SenderParts], Sender[C]]
    error_code: ErrorCode
    test_sent: Phrase
    test_failed: Phrase
    template_kind: TemplateKind = "chat"
    address_kind: AddressKind | None = None
    worded: bool = True
    limits: Callable[[C, str | None], Buckets] = no_limits
    addressed: Callable[[C], bool] = always_addressed
    with_project: Callable[[C, ProjectSender], C] | None = None
    probe: Callable[[SenderParts], Checker[C]] | None = None
    builtin: bool = False
    preference_kind: str | None = None
    waits_out_quiet_hours: bool = True

    @property
    def name(self) -> str:
        """The type's name as clients write it (``EMAIL``)."""
        return self.config.type_name


TEST_SENT = Phrase("Тестовое сообщение успешно отправлено", "Test message sent successfully")
TEST_FAILED = Phrase(
    "Тестовое сообщение не отправлено: {reason}", "Test message not sent: {reason}"
)
