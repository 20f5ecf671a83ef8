"""One sender per channel type, sharing the process's HTTP client and SMTP pools."""

from __future__ import annotations

from typing import Any

from nabat.channels.contract import Sender
from nabat.channels.descriptor import SenderParts
from nabat.channels.outbound import Outbound
from nabat.channels.registry import CHANNEL_TYPES
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock


def build_senders(outbound: Outbound, smtp: SmtpPools, clock: Clock) -> dict[str, Sender[Any]]:
    """The senders by type name, one for every registered type, built by its descriptor."""
    parts = SenderParts(outbound=outbound, smtp=smtp, clock=clock)
    return {name: kind.sender(parts) for name, kind in CHANNEL_TYPES.items()}
