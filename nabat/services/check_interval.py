"""A channel's scheduled check interval: which values are allowed, and for which channels.

The checks themselves run in ``nabat.services.channel_checks``.
"""

from __future__ import annotations

from typing import Any

from nabat.channels.base import ChannelConfig
from nabat.channels.descriptor import ChannelType
from nabat.errors import ValidationFailed
from nabat.sentences import Sentence

MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 24 * 3600
FIELD = "checkIntervalSeconds"


def checkable(kind: ChannelType[Any], config: ChannelConfig) -> bool:
    """Whether a channel can be checked: its provider offers a check, or the channel
    names where a test message goes (a personal type without recipients of its own has
    no one to send it to)."""
    return kind.probe is not None or kind.address_kind is None or kind.addressed(config)


def check_interval(kind: ChannelType[Any], config: ChannelConfig, seconds: int) -> int | None:
    """The interval to store (None: no scheduled check) for ``seconds`` as a client gave
    it, 0 meaning off; raises ValidationFailed naming the field otherwise."""
    if seconds == 0:
        return None
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        message = Sentence(
            "give 0 (no scheduled check) or {low} to {high} seconds (7 days)",
            low=MIN_INTERVAL,
            high=MAX_INTERVAL,
        )
        raise _invalid(message)
    if not checkable(kind, config):
        raise _invalid(
            Sentence(
                "a {type} channel without recipients of its own cannot be checked: the "
                "check would send a test message to no one; add default recipients first",
                type=kind.name,
            )
        )
    return seconds


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=FIELD, message=message),
        details=[{"field": FIELD, "message": message, "type": "value_error"}],
    )
