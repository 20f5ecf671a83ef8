"""Default provider rate limits, keyed by the destination they protect."""

from __future__ import annotations

import hashlib

from nabat.channels.base import ChannelConfig
from nabat.channels.discord import DiscordConfig
from nabat.channels.slack import SlackConfig
from nabat.channels.telegram import TelegramConfig
from nabat.delivery.ratelimit import Rate

# Telegram Bot FAQ: about 1 message/s per chat, 20/min per group, 30/s per bot.
TELEGRAM_PER_CHAT = Rate(per_second=1.0, burst=3.0)
# No burst for groups: with one, a sliding minute could see the burst plus a minute's
# refill, and Telegram counts 20 per minute.
TELEGRAM_PER_GROUP = Rate(per_second=19 / 60, burst=1.0)
TELEGRAM_PER_BOT = Rate(per_second=30.0, burst=30.0)
# Slack: about one message per second per webhook, short bursts allowed.
SLACK_PER_WEBHOOK = Rate(per_second=1.0, burst=3.0)
# Discord webhooks: 5 requests per 2 s per webhook bucket in practice.
DISCORD_PER_WEBHOOK = Rate(per_second=2.5, burst=5.0)


def _fingerprint(secret: str) -> str:
    # Bucket keys must not hold the token itself: they can end up in logs and metrics.
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def limits_for(config: ChannelConfig, recipient: str | None) -> list[tuple[str, Rate]]:
    """The buckets a message must take a token from, destination bucket first."""
    if isinstance(config, TelegramConfig):
        bot = _fingerprint(config.bot_token.get_secret_value())
        chat = recipient or config.chat_id
        limits = [(f"tg-chat:{bot}:{chat}", TELEGRAM_PER_CHAT)]
        if chat.startswith("-"):
            limits.append((f"tg-group:{bot}:{chat}", TELEGRAM_PER_GROUP))
        limits.append((f"tg-bot:{bot}", TELEGRAM_PER_BOT))
        return limits
    if isinstance(config, SlackConfig):
        return [(f"slack:{_fingerprint(config.webhook_url.get_secret_value())}", SLACK_PER_WEBHOOK)]
    if isinstance(config, DiscordConfig):
        hook = _fingerprint(config.webhook_url.get_secret_value())
        return [(f"discord:{hook}", DISCORD_PER_WEBHOOK)]
    return []
