"""Keeping credentials out of failure reasons.

The outbound client already names a destination by its host only; this is the second
line of defence for text that comes from elsewhere (a provider or proxy that echoes the
request URL back in its error body).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from nabat.channels.contract import DeliveryError

REDACTED = "<redacted>"

# Shorter values are too likely to occur by chance in innocent text (and are no
# credential anyone would use), so they are left alone.
_MIN_SECRET = 6


def redact(text: str, *secrets: str) -> str:
    """``text`` with every occurrence of each secret replaced by ``<redacted>``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    return text


def scrubbed(error: DeliveryError, *secrets: str) -> DeliveryError:
    """``error`` itself when its reason holds no secret, else a copy with them redacted."""
    reason = redact(error.reason, *secrets)
    if reason == error.reason:
        return error
    return DeliveryError(
        error.failure_class,
        reason,
        status=error.status,
        retry_after=error.retry_after,
        config_update=error.config_update,
    )


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a credential-bearing URL (Slack, Discord webhooks) never to show: the
    URL itself, its path, and its last path segment (the token)."""
    path = urlsplit(url).path
    return (url, path, path.rstrip("/").rsplit("/", 1)[-1])
