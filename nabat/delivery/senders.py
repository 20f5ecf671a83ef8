"""One sender per channel type, sharing the process's HTTP client and SMTP pools."""

from __future__ import annotations

from typing import Any

from nabat.channels.contract import Sender
from nabat.channels.discord_sender import DiscordSender
from nabat.channels.email_sender import EmailSender
from nabat.channels.outbound import Outbound
from nabat.channels.python_bot_sender import PythonBotSender
from nabat.channels.registry import channel_types
from nabat.channels.slack_sender import SlackSender
from nabat.channels.smtp_pool import SmtpPools
from nabat.channels.telegram_sender import TelegramSender
from nabat.channels.webhook_sender import WebhookSender
from nabat.clock import Clock


def build_senders(outbound: Outbound, smtp: SmtpPools, clock: Clock) -> dict[str, Sender[Any]]:
    """The senders by type name; every registered type has one."""
    senders: dict[str, Sender[Any]] = {
        "PYTHON_BOT": PythonBotSender(outbound),
        "TELEGRAM": TelegramSender(outbound),
        "EMAIL": EmailSender(smtp, clock=clock),
        "SLACK": SlackSender(outbound),
        "WEBHOOK": WebhookSender(outbound, clock),
        "DISCORD": DiscordSender(outbound),
    }
    missing = set(channel_types()) - set(senders)
    if missing:
        raise RuntimeError(f"channel types without a sender: {sorted(missing)}")
    return senders
