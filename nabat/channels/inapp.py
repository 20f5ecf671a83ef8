"""INAPP: the person's inbox in Nabat itself; no provider behind it.

A delivery to a project member becomes an item in their inbox when the engine settles
it (``nabat/delivery/inbox.py``): the sender only words the item (title, body, link) and
says whether it can be delivered at all. Every project has one such channel, made by
Nabat (``nabat/services/inapp_channels.py``); it can be switched off, not deleted.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nabat.channels.base import ChannelConfig, HttpUrl
from nabat.channels.descriptor import ChannelType, Phrase, SenderParts
from nabat.channels.inapp_sender import InappSender
from nabat.errors import ErrorCode


class InappConfig(ChannelConfig):
    """Nothing is needed; a base address makes the relative links of events whole."""

    type_name: ClassVar[str] = "INAPP"

    link_base_url: HttpUrl | None = Field(
        default=None,
        max_length=500,
        description="Links that events give as a path (/requests/4521) are read against "
        "this address (https://desk.example.org); without it they are left out.",
    )


def _sender(parts: SenderParts) -> InappSender:
    return InappSender()


def _addressed(config: InappConfig) -> bool:
    # An item is always for one person: the channel itself names no one.
    return False


INAPP = ChannelType(
    config=InappConfig,
    sender=_sender,
    error_code=ErrorCode.INAPP_ERROR,
    test_sent=Phrase(
        "Тестовое уведомление добавлено в ваши входящие",
        "Test notification added to your inbox",
    ),
    test_failed=Phrase(
        "Тестовое уведомление не добавлено во входящие: {reason}",
        "Test notification not added to the inbox: {reason}",
    ),
    template_kind="inapp",
    # One item per person, in the inbox of their account.
    address_kind="USER",
    # Quiet hours do not hold an item: the inbox collects silently, and is read later.
    preference_kind="inapp",
    waits_out_quiet_hours=False,
    addressed=_addressed,
    builtin=True,
)
