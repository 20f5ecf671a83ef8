"""DISCORD delivery: one execute-webhook call (CONTRACTS.md section 3).

The webhook URL carries the token in its path, so it never goes into a reason: the
outbound client names the host only, and reasons are scrubbed of the URL on the way out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed, url_secrets
from nabat.channels.text_limits import truncate, utf16_len

if TYPE_CHECKING:
    from nabat.channels.discord import DiscordConfig

WHAT = "the Discord webhook"
DEFAULT_TIMEOUT_S = 15.0

CONTENT_LIMIT = 2000
"""Characters in a message's ``content``."""
SUBJECT_LIMIT = 256
"""Characters of the subject shown (before escaping) as the bold first line."""
DEFAULT_TEXT = "Notification from Nabat"
"""Sent when a message has neither subject nor text: Discord refuses empty messages."""

UNKNOWN_WEBHOOK = 10015
"""Discord's JSON error code for a deleted or never-existing webhook."""

# Discord markdown that would restyle or break the bold subject line.
_MARKDOWN = re.compile(r"([\\*_~`|>])")


def webhook_url(configured: str) -> str:
    """The configured URL with ``wait=true`` in its query (other parameters kept).

    Without ``wait`` Discord answers 204 before saving the message, and "a message that is
    not saved does not return an error"; with it, failures are visible and the answer
    carries the message id.
    """
    parts = urlsplit(configured)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(key, value) for key, value in query if key != "wait"] + [("wait", "true")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def content(message: OutgoingMessage) -> str:
    """The message text: the subject in bold, then the body, within :data:`CONTENT_LIMIT`.

    The subject is cut before it is escaped and wrapped, and the body gets what room is
    left, so the cut never falls inside the markup.
    """
    subject = truncate(" ".join(message.subject.split()), SUBJECT_LIMIT)
    head = "**" + _MARKDOWN.sub(r"\\\1", subject) + "**" if subject else ""
    room = CONTENT_LIMIT - utf16_len(head) - (1 if head else 0)
    body = truncate(message.text.strip(), room)
    return "\n".join(part for part in (head, body) if part) or DEFAULT_TEXT


def discord_body(config: DiscordConfig, message: OutgoingMessage) -> dict[str, Any]:
    """The execute-webhook JSON body; ``username``/``avatar_url`` only when configured.

    ``allowed_mentions.parse`` is empty so that ``@everyone`` or a role mention in alert
    text never pings anyone.
    """
    body: dict[str, Any] = {"content": content(message), "allowed_mentions": {"parse": []}}
    if config.username:
        body["username"] = config.username
    if config.avatar_url:
        body["avatar_url"] = config.avatar_url
    return body


def classify_answer(answer: HttpAnswer) -> DeliveryError:
    """The :class:`DeliveryError` for a non-2xx answer."""
    status = answer.status
    data = answer.json()
    data = data if isinstance(data, dict) else {}
    said = _said(data, answer.text)
    if status == 429:
        wait = _retry_after(answer, data)
        scope = (
            "every request from this server (global limit)"
            if data.get("global") is True
            else "this webhook"
        )
        asked = f"; it asked to wait {wait:g} s" if wait is not None else ""
        return DeliveryError(
            FailureClass.THROTTLED,
            f"Discord is rate limiting {scope}{asked}",
            status=status,
            retry_after=wait,
        )
    if status == 404:
        # "If a webhook returns a 404 status you should not attempt to use it again":
        # repeated attempts earn a temporary ban for the whole process.
        unknown = data.get("code") == UNKNOWN_WEBHOOK
        return DeliveryError(
            FailureClass.GONE,
            ("the webhook was deleted" if unknown else "Discord does not know this webhook URL")
            + f"; create a new webhook in the channel's integrations and update the channel{said}",
            status=status,
        )
    if status in (401, 403):
        return DeliveryError(
            FailureClass.AUTH,
            f"Discord refused the webhook's token (HTTP {status}){said}; copy the webhook URL "
            "again from the channel's integrations",
            status=status,
        )
    if 400 <= status < 500 and status not in (408, 410):
        return DeliveryError(
            FailureClass.REJECTED,
            f"Discord rejected the message (HTTP {status}){said}",
            status=status,
        )
    generic = classify_status(
        status,
        body=answer.text,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        what="Discord webhook",
    )
    assert generic is not None  # callers pass failures only
    return generic


class DiscordSender:
    """Posts a message through a Discord webhook."""

    def __init__(self, outbound: Outbound, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._outbound = outbound
        self._timeout_s = timeout_s

    async def send(self, config: DiscordConfig, message: OutgoingMessage) -> Receipt:
        """One POST to ``{webhookUrl}?wait=true``; returns a receipt whose ``provider_id`` is
        the new message's id, raises :class:`DeliveryError` otherwise."""
        configured = config.webhook_url.get_secret_value()
        try:
            answer = await self._outbound.request(
                "POST",
                webhook_url(configured),
                what=WHAT,
                timeout_s=self._timeout_s,
                json=discord_body(config, message),
            )
            if not 200 <= answer.status < 300:
                raise classify_answer(answer)
        except DeliveryError as exc:
            raise scrubbed(exc, *url_secrets(configured)) from None
        data = answer.json()
        message_id = data.get("id") if isinstance(data, dict) else None
        return Receipt(
            status=answer.status,
            provider_id=None if message_id is None else str(message_id),
            detail="posted to Discord",
        )


def _said(data: dict[str, Any], text: str) -> str:
    message = data.get("message")
    if isinstance(message, str) and message:
        code = data.get("code")
        return f" (Discord said {snippet(message)!r}" + (f", code {code})" if code else ")")
    excerpt = snippet(text)
    return f": {excerpt}" if excerpt else ""


def _retry_after(answer: HttpAnswer, data: dict[str, Any]) -> float | None:
    # The header is whole seconds rounded up, the body is fractional; waiting for the
    # larger of the two never retries early.
    header = parse_retry_after(answer.headers.get("Retry-After"))
    value = data.get("retry_after")
    body = (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        else None
    )
    candidates = [wait for wait in (header, body) if wait is not None]
    return max(candidates) if candidates else None
