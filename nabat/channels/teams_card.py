"""The Adaptive Card a Teams workflow posts, kept within a byte budget (CONTRACTS.md §4).

Workflows take Adaptive Cards only (no MessageCard), wrapped in a ``message`` with one
attachment, which the default template's "for each attachment" step posts. A card too
large for Teams is refused after the workflow has already answered 202, so the budget is
enforced here, on the bytes actually sent.
"""

from __future__ import annotations

import json
from typing import Any

from nabat.channels.contract import OutgoingMessage
from nabat.channels.text_limits import ELLIPSIS, truncate

DEFAULT_CARD_BYTES = 20_000
"""CONTRACTS.md §4's budget: the retired connectors refused ~28 KB, Workflows publish none."""
MIN_CARD_BYTES = 5_000
"""Room for the severity, the longest subject, the fallback text and the longest link."""
MAX_CARD_BYTES = 28_000
"""The size Teams was seen to refuse (413) for connector posts."""

CARD_VERSION = "1.4"
"""Teams renders Adaptive Cards up to 1.5; 1.4 has everything this card uses."""
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

SEVERITY_LIMIT = 20
"""Characters of the severity shown (Nabat's are short words)."""
SUBJECT_LIMIT = 256
"""Characters of the subject shown, in bold, as the card's first line."""
FALLBACK_LIMIT = 200
"""Characters of the text shown where the card cannot be (notifications, old clients)."""
LINK_LIMIT = 1_000
"""A longer link is left out rather than crowding out the text."""
DEFAULT_TEXT = "Notification from Nabat"
"""The text of a message that has neither subject nor text."""

# Adaptive Card colours by Nabat's severity; any other severity shows in the default colour.
SEVERITY_COLORS = {
    "CRITICAL": "Attention",
    "ERROR": "Attention",
    "WARNING": "Warning",
    "INFO": "Accent",
}

# Card text is Markdown to Teams: an asterisk in an alert ("disk *") would start emphasis.
# A combining grapheme joiner after it breaks the marker and shows nothing (Healthchecks
# does the same, CONTRACTS.md §4).
_GRAPHEME_JOINER = "\u034f"


def plain(text: str) -> str:
    """``text`` with the Markdown emphasis marker ``*`` made inert."""
    return text.replace("*", "*" + _GRAPHEME_JOINER)


def _link(message: OutgoingMessage) -> tuple[str, str] | None:
    """The (title, URL) of the message's service link, when it has a usable one."""
    url = message.payload.get("serviceUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    if len(url) > LINK_LIMIT:
        return None
    name = message.payload.get("serviceName")
    title = name.strip() if isinstance(name, str) and name.strip() else url.split("/")[2]
    return truncate(" ".join(title.split()), 80), url


def card(message: OutgoingMessage, text: str) -> dict[str, Any]:
    """The ``message`` body posted to the workflow, showing ``text`` as the card's text.

    The severity comes first in its colour, then the subject in bold, then the text, and
    the service link as an "open" action when the message has one.
    """
    subject = truncate(" ".join(message.subject.split()), SUBJECT_LIMIT)
    if not subject and not text:
        text = DEFAULT_TEXT
    severity = truncate(" ".join(message.severity.split()).upper(), SEVERITY_LIMIT)
    body: list[dict[str, Any]] = []
    if severity:
        body.append(
            {
                "type": "TextBlock",
                "text": severity,
                "color": SEVERITY_COLORS.get(severity, "Default"),
                "weight": "Bolder",
                "size": "Small",
                "wrap": True,
            }
        )
    if subject:
        body.append(
            {
                "type": "TextBlock",
                "text": plain(subject),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "spacing": "Small",
            }
        )
    if text:
        body.append({"type": "TextBlock", "text": plain(text), "wrap": True})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": truncate(" ".join((subject or text).split()), FALLBACK_LIMIT),
        "body": body,
    }
    link = _link(message)
    if link is not None:
        title, url = link
        content["actions"] = [{"type": "Action.OpenUrl", "title": title, "url": url}]
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": content}],
    }


def encoded(document: dict[str, Any]) -> bytes:
    """The JSON bytes sent: UTF-8 as is (``\\uXXXX`` escapes would triple Cyrillic text)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def card_payload(message: OutgoingMessage, limit: int) -> bytes:
    """The request body for ``message``: the whole text when the card fits in ``limit``
    bytes, else as much of it as fits, cut between characters and marked with "…".

    The cut is found by bisection over the text's length, measuring the encoded card,
    so JSON escaping and multi-byte characters are counted exactly.
    """
    text = message.text.strip()
    whole = encoded(card(message, text))
    if len(whole) <= limit:
        return whole
    low, high = 0, len(text)  # the longest prefix known to fit, the shortest known not to
    best = encoded(card(message, ELLIPSIS))
    while high - low > 1:
        middle = (low + high) // 2
        attempt = encoded(card(message, text[:middle].rstrip() + ELLIPSIS))
        if len(attempt) <= limit:
            low, best = middle, attempt
        else:
            high = middle
    return best
