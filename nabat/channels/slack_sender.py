"""SLACK delivery: one POST to an incoming webhook (CONTRACTS.md section 2).

The webhook URL is the credential, so it never goes into a reason: the outbound client
names the host only, and reasons are scrubbed of the URL and its path on the way out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed, url_secrets
from nabat.channels.text_limits import ELLIPSIS, split, truncate, utf16_len

if TYPE_CHECKING:
    from nabat.channels.slack import SlackConfig

WHAT = "the Slack webhook"
DEFAULT_TIMEOUT_S = 15.0

SECTION_LIMIT = 3000
"""Characters in one section block's text; Slack answers 400 above it."""
HEADER_LIMIT = 150
"""Characters in a header block's plain text."""
MAX_BLOCKS = 50
"""Blocks in one message."""
FALLBACK_LIMIT = 3000
"""Characters kept in the top-level ``text`` (the notification and fallback text)."""
DEFAULT_TEXT = "Notification from Nabat"
"""The fallback text of a message with neither subject nor text: ``text`` must not be empty."""

_ERROR_CODE = re.compile(r"[a-z_]+")

_GONE = FailureClass.GONE
_REJECTED = FailureClass.REJECTED
_OUR_BUG = "; this is a bug in Nabat's message builder, please report it"
_NEW_WEBHOOK = "; create a new incoming webhook and update the channel"

# Slack answers errors as bare strings, and the same string comes with different statuses
# in the wild (invalid_token: 400 or 403), so the string decides first, the status second.
# https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
ERRORS: dict[str, tuple[FailureClass, str]] = {
    "invalid_payload": (_REJECTED, "Slack could not read the message" + _OUR_BUG),
    "user_not_found": (_GONE, "the user this webhook posts to no longer exists" + _NEW_WEBHOOK),
    "action_prohibited": (
        _REJECTED,
        "a workspace administrator restricted posting to this channel; ask them to allow the app",
    ),
    "posting_to_general_channel_denied": (
        _REJECTED,
        "only administrators may post to this channel; give the webhook another channel",
    ),
    "channel_not_found": (_GONE, "the webhook's channel was deleted" + _NEW_WEBHOOK),
    "channel_is_archived": (
        _GONE,
        "the webhook's channel is archived; unarchive it, or create a webhook for another channel",
    ),
    "no_service": (
        _GONE,
        "Slack does not know this webhook: it was disabled or revoked, or the URL is wrong"
        + _NEW_WEBHOOK,
    ),
    "no_service_id": (_GONE, "the webhook URL is incomplete" + _NEW_WEBHOOK),
    "no_team": (_GONE, "the webhook's Slack workspace does not exist" + _NEW_WEBHOOK),
    "team_disabled": (_GONE, "the webhook's Slack workspace was disabled"),
    "invalid_token": (
        FailureClass.AUTH,
        "the token behind the webhook was revoked (usually the person who installed the app "
        "left the workspace); reinstall the app and update the webhook URL",
    ),
    "no_text": (_REJECTED, "Slack found no text in the message" + _OUR_BUG),
    "missing_text_or_fallback_or_attachments": (
        _REJECTED,
        "Slack found no text in the message" + _OUR_BUG,
    ),
    "invalid_blocks": (_REJECTED, "Slack refused the message's blocks" + _OUR_BUG),
    "invalid_blocks_format": (_REJECTED, "Slack refused the message's blocks" + _OUR_BUG),
    "too_many_attachments": (_REJECTED, "Slack refused the message's attachments" + _OUR_BUG),
    "rollup_error": (FailureClass.UPSTREAM, "Slack had an internal error; will retry"),
}


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack requires in ``mrkdwn`` text.

    Escaping ``<`` also keeps user text from forming ``<!channel>``-style mentions.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped_cost(char: str) -> int:
    return utf16_len(escape_mrkdwn(char))


def slack_body(config: SlackConfig, message: OutgoingMessage) -> dict[str, Any]:
    """The webhook's JSON body: fallback ``text`` plus a header block and section blocks.

    Guarantees a non-empty ``text``, at most :data:`MAX_BLOCKS` blocks, section texts of at
    most :data:`SECTION_LIMIT` and a header of at most :data:`HEADER_LIMIT` characters;
    ``channel``/``username`` only when configured (app webhooks ignore or refuse them).
    """
    subject = " ".join(message.subject.split())
    text = message.text.strip()
    blocks: list[dict[str, Any]] = []
    if subject:
        header = truncate(subject, HEADER_LIMIT)
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header}})
    sections = split(text, SECTION_LIMIT, cost=_escaped_cost)
    room = MAX_BLOCKS - len(blocks)
    if len(sections) > room:
        sections = sections[:room]
        sections[-1] = _mark_cut(sections[-1])
    if not blocks and not sections:
        sections = [DEFAULT_TEXT]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(section)}}
        for section in sections
    ]
    fallback = truncate(subject or text or DEFAULT_TEXT, FALLBACK_LIMIT, cost=_escaped_cost)
    body: dict[str, Any] = {"text": escape_mrkdwn(fallback), "blocks": blocks}
    if config.channel:
        body["channel"] = config.channel
    if config.username:
        body["username"] = config.username
    return body


def _mark_cut(section: str) -> str:
    marker = "\n" + ELLIPSIS
    kept = truncate(section, SECTION_LIMIT - utf16_len(marker), cost=_escaped_cost, marker="")
    return kept + marker


def error_code(answer: HttpAnswer) -> str | None:
    """Slack's error string: the bare body (``channel_not_found``), or ``error`` of a JSON
    body (``{"ok": false, "error": "…"}``)."""
    text = answer.text.strip()
    if _ERROR_CODE.fullmatch(text):
        return text
    data = answer.json()
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return None


def classify_answer(answer: HttpAnswer) -> DeliveryError:
    """The :class:`DeliveryError` for anything but HTTP 200 ``ok``: body string first."""
    status = answer.status
    code = error_code(answer)
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    if code in ERRORS:
        failure_class, advice = ERRORS[code]
        return DeliveryError(
            failure_class,
            f"{advice} (Slack answered HTTP {status} {code})",
            status=status,
            retry_after=retry_after if failure_class.transient else None,
        )
    if status == 429:
        asked = f"; it asked to wait {retry_after:g} s" if retry_after is not None else ""
        return DeliveryError(
            FailureClass.THROTTLED,
            f"Slack is rate limiting this webhook (HTTP 429){asked}",
            status=status,
            retry_after=retry_after,
        )
    if 200 <= status < 300:
        # Not "ok": something answered that is not Slack (a proxy, a look-alike service),
        # and the message may or may not have been posted. Retrying could post it twice.
        excerpt = snippet(answer.text)
        said = repr(excerpt) if excerpt else "an empty body"
        return DeliveryError(
            _REJECTED,
            f"{WHAT} answered HTTP {status} with {said} instead of 'ok', so the message may "
            "not have been posted; check that the URL is a Slack incoming webhook",
            status=status,
        )
    generic = classify_status(
        status, body=answer.text, retry_after=retry_after, what="Slack webhook"
    )
    assert generic is not None  # 2xx was handled above
    return generic


class SlackSender:
    """Posts a message to a Slack incoming webhook."""

    def __init__(self, outbound: Outbound, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._outbound = outbound
        self._timeout_s = timeout_s

    async def send(self, config: SlackConfig, message: OutgoingMessage) -> Receipt:
        """One POST. Delivered only on HTTP 200 with body ``ok``; otherwise raises
        :class:`DeliveryError` classified on Slack's error string, then the status."""
        url = config.webhook_url.get_secret_value()
        try:
            answer = await self._outbound.request(
                "POST", url, what=WHAT, timeout_s=self._timeout_s, json=slack_body(config, message)
            )
            if answer.status == 200 and answer.text.strip() == "ok":
                return Receipt(status=200, detail="posted to Slack")
            raise classify_answer(answer)
        except DeliveryError as exc:
            raise scrubbed(exc, *url_secrets(url)) from None
