"""A fake Slack incoming webhook: ``POST /services/T…/B…/<secret>``.

Success is HTTP 200 with the plain body ``ok``; errors are Slack's bare strings
(``invalid_payload``, ``no_text``, ``invalid_blocks``, ``no_service``…). Block limits are
enforced: at most 50 blocks, section text at most 3000 characters, header at most 150.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("SLACK",)

WEBHOOK_PATH = "/services/T0NABAT01/B0NABAT02/SlackSecret0123456789abcd"
WEBHOOK_SECRET = "SlackSecret0123456789abcd"
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150


def slack_error(status: int, code: str, headers: dict[str, str] | None = None) -> Reply:
    """An error exactly as the webhook writes it: a bare string, ``text/html``."""
    return Reply(status, code, headers or {}, "text/html")


def slack_rate_limited(retry_after: int) -> Reply:
    """Slack's 429: a JSON body and a ``Retry-After`` header."""
    return Reply.json(
        429, {"ok": False, "error": "rate_limited"}, {"Retry-After": str(retry_after)}
    )


def _blocks_error(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("text"), dict):
            return "invalid_blocks"
        text = block["text"].get("text")
        kind = block["text"].get("type")
        if not isinstance(text, str) or not text:
            return "invalid_blocks"
        if block.get("type") == "header":
            if kind != "plain_text" or len(text) > HEADER_LIMIT:
                return "invalid_blocks"
        elif block.get("type") == "section":
            if kind not in ("mrkdwn", "plain_text") or len(text) > SECTION_LIMIT:
                return "invalid_blocks"
        else:
            return "invalid_blocks"
    return None


class SlackFake(FakeProvider):
    """One incoming webhook; ``posted`` holds the bodies it accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        """What to configure as ``webhookUrl``."""
        return self.base_url + WEBHOOK_PATH

    async def answer(self, request: Recorded) -> Reply:
        """Slack's answer to ``request``."""
        if request.path != WEBHOOK_PATH:
            return slack_error(404, "no_service")
        if request.method != "POST":
            return slack_error(405, "invalid_method")
        body = request.json()
        if not isinstance(body, dict):
            return slack_error(400, "invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return slack_error(400, "no_text")
        if "blocks" in body:
            error = _blocks_error(body["blocks"])
            if error is not None:
                return slack_error(400, error)
        self.posted.append(body)
        return slack_error(200, "ok")
