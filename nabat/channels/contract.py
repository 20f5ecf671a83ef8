"""The channel contract: what a sender gets, what it returns, and how it fails.

A sender makes exactly one attempt. It returns a :class:`Receipt` or raises a
:class:`DeliveryError` whose class says whether trying again can help. Only ``delivery/``
decides when (or whether) to try again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from nabat.channels.base import ChannelConfig


class FailureClass(StrEnum):
    """Why an attempt failed. The first four (and ``internal``) are worth retrying."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    THROTTLED = "throttled"
    UPSTREAM = "upstream"
    AUTH = "auth"
    REJECTED = "rejected"
    GONE = "gone"
    CONFIG = "config"
    INTERNAL = "internal"

    @property
    def transient(self) -> bool:
        """Whether a later attempt may succeed without anyone changing anything."""
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        FailureClass.TIMEOUT,
        FailureClass.NETWORK,
        FailureClass.THROTTLED,
        FailureClass.UPSTREAM,
        FailureClass.INTERNAL,
    }
)


class DeliveryError(Exception):
    """One failed attempt, classified.

    ``reason`` is a sentence a person can act on and never holds a secret.
    ``retry_after`` is the provider's demand in seconds (never retry earlier).
    ``config_update`` carries configuration keys the provider told us changed (Telegram's
    ``migrate_to_chat_id``); the engine saves them and tries again at once.
    """

    def __init__(
        self,
        failure_class: FailureClass,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        config_update: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.failure_class = failure_class
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.config_update = config_update

    @property
    def transient(self) -> bool:
        """Whether the engine should try again later."""
        return self.failure_class.transient or self.config_update is not None


@dataclass(frozen=True)
class InboxDraft:
    """What an in-app delivery puts in a person's inbox, as its sender made it: the
    engine stores it when it settles the delivery (senders never touch the database)."""

    title: str
    body: str
    link: str | None = None


@dataclass(frozen=True)
class Receipt:
    """The provider accepted the message."""

    status: int | None = None
    provider_id: str | None = None
    detail: str = "accepted"
    # Per-recipient refusals when the provider took the message for only some of them.
    refused: dict[str, str] = field(default_factory=dict)
    # Set by the in-app channel: the inbox item to store with the delivery's outcome.
    inbox: InboxDraft | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for one recipient over one channel, already rendered.

    ``delivery_id`` is stable across retries: receivers that can deduplicate get it
    (``webhook-id``, ``Message-ID``, ``X-Nabat-Delivery-Id``).
    ``payload`` is seed 002's webhook payload (``username``, ``serviceName``, ``serviceUrl``,
    ``status``, ``severity``, ``message``, ``timestamp``, ``metadata``); ``event`` is the full
    event when there is one. ``link`` is the address the template chose (the in-app
    kind's ``{% set link = … %}``), not yet checked: the sender decides what to keep.
    """

    delivery_id: str
    subject: str
    text: str
    html: str | None = None
    recipient: str | None = None
    severity: str = "INFO"
    payload: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    link: str | None = None


ConfigT = TypeVar("ConfigT", bound=ChannelConfig, contravariant=True)


class Sender(Protocol, Generic[ConfigT]):
    """Delivers a message over one channel type. Stateless apart from shared clients."""

    async def send(self, config: ConfigT, message: OutgoingMessage) -> Receipt:
        """Make exactly one attempt; return a receipt or raise :class:`DeliveryError`."""


class Checker(Protocol, Generic[ConfigT]):
    """Checks a channel without sending anyone a message (Telegram's ``getMe``, an SMTP
    login), for the scheduled channel checks of types whose provider offers one."""

    async def check(self, config: ConfigT) -> Receipt:
        """Return a receipt saying what answered, or raise :class:`DeliveryError`."""
