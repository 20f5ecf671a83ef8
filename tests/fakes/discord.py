"""A fake Discord execute-webhook endpoint: ``POST /api/webhooks/{id}/{token}``.

With ``?wait=true`` a saved message answers 200 with the message; without it, 204. Errors
are Discord's JSON (``{"message": …, "code": …}``): 404 code 10015 for an unknown webhook,
401 code 50027 for a wrong token, 400 for an empty or over-long ``content``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("DISCORD",)

WEBHOOK_ID = "1234567890123456789"
WEBHOOK_TOKEN = "DiscordHookToken-abcdefghijklmnopqrstuvwxyz0123456789"
CONTENT_LIMIT = 2000

_PATH = re.compile(r"^/api/webhooks/(?P<id>\d+)/(?P<token>[^/]+)$")


def discord_error(status: int, message: str, code: int, **extra: Any) -> Reply:
    """An error exactly as Discord writes it."""
    return Reply.json(status, {"message": message, "code": code, **extra})


def discord_rate_limited(retry_after: float, *, header: str, is_global: bool = False) -> Reply:
    """Discord's 429: body ``retry_after`` in (fractional) seconds, and the headers."""
    headers = {
        "Retry-After": header,
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after}
    return Reply.json(429, {**body, "global": is_global}, headers)


class DiscordFake(FakeProvider):
    """One webhook; ``posted`` holds the bodies it saved."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[dict[str, Any]] = []
        self._ids = itertools.count(1300000000000000001)

    @property
    def webhook_url(self) -> str:
        """What to configure as ``webhookUrl``."""
        return f"{self.base_url}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    async def answer(self, request: Recorded) -> Reply:
        """Discord's answer to ``request``."""
        route = _PATH.match(request.path)
        if route is None or route["id"] != WEBHOOK_ID:
            return discord_error(404, "Unknown Webhook", 10015)
        if route["token"] != WEBHOOK_TOKEN:
            return discord_error(401, "Invalid Webhook Token", 50027)
        body = request.json()
        if not isinstance(body, dict):
            return discord_error(400, "400: Bad Request", 0)
        content = body.get("content")
        if not content and not body.get("embeds"):
            return discord_error(400, "Cannot send an empty message", 50006)
        if isinstance(content, str) and len(content) > CONTENT_LIMIT:
            return discord_error(
                400,
                "Invalid Form Body",
                50035,
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": f"Must be {CONTENT_LIMIT} or fewer in length.",
                            }
                        ]
                    }
                },
            )
        self.posted.append(body)
        if request.query.get("wait") != "true":
            return Reply(204)
        message_id = str(next(self._ids))
        return Reply.json(
            200,
            {
                "id": message_id,
                "type": 0,
                "content": content,
                "channel_id": "1100000000000000001",
                "author": {
                    "id": WEBHOOK_ID,
                    "username": body.get("username") or "Captain Hook",
                    "bot": True,
                },
                "webhook_id": WEBHOOK_ID,
                "mentions": [],
                "mention_everyone": False,
            },
            {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4"},
        )
