"""Telegram message text: escaping for each parse mode, and the 4096-character limit.

Telegram checks the length *after* it has parsed the markup (``&amp;`` counts as one
character, ``<b>`` as none), in UTF-16 code units (its entity offsets are UTF-16). So the
visible text is cut first and escaped afterwards: an escape sequence or a tag can never
be cut in half, and the only tag we emit is closed by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nabat.channels.text_limits import truncate, utf16_len

TEXT_LIMIT = 4096
"""Telegram's limit on ``sendMessage`` text, after entity parsing."""

EMPTY_TEXT = "(no text)"
"""Sent when a message has neither subject nor text: Telegram refuses empty messages."""

# https://core.telegram.org/bots/api#markdownv2-style: the 18 specials, plus the backslash
# itself so that a literal backslash is never read as an escape.
_MARKDOWN_V2_SPECIALS = re.compile(r"([\\_*\[\]()~`>#+\-=|{}.!])")
# https://core.telegram.org/bots/api#markdown-style (legacy): only these four escape.
_MARKDOWN_SPECIALS = re.compile(r"([_*`\[])")


def escape_html(text: str) -> str:
    """Escape text for ``parse_mode=HTML``: only ``&``, ``<`` and ``>`` (in that order)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_markdown_v2(text: str) -> str:
    """Escape text for ``parse_mode=MarkdownV2`` outside code entities."""
    return _MARKDOWN_V2_SPECIALS.sub(r"\\\1", text)


def escape_markdown(text: str) -> str:
    """Escape text for the legacy ``parse_mode=Markdown``."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


@dataclass(frozen=True)
class TelegramText:
    """One message's text, ready to send.

    ``formatted`` goes with the configured parse mode; ``plain`` is the same visible text
    without markup, for the resend after Telegram failed to parse the markup. Both show at
    most :data:`TEXT_LIMIT` UTF-16 code units once parsed.
    """

    formatted: str
    plain: str
    truncated: bool


def compose(
    subject: str, body: str, parse_mode: str | None, *, limit: int = TEXT_LIMIT
) -> TelegramText:
    """Build the text of a message: the subject (bold where the mode allows) then the body.

    Text over ``limit`` is truncated, body first, and ends with ``…``.
    """
    subject_line = " ".join(subject.split())
    body = body.strip()
    if not subject_line and not body:
        body = EMPTY_TEXT
    shown_subject = truncate(subject_line, limit)
    room = limit - utf16_len(shown_subject) - (1 if shown_subject else 0)
    shown_body = truncate(body, room) if room > 0 else ""
    plain = "\n".join(part for part in (shown_subject, shown_body) if part)
    return TelegramText(
        formatted=_format(shown_subject, shown_body, parse_mode),
        plain=plain,
        truncated=(shown_subject, shown_body) != (subject_line, body),
    )


def _format(subject: str, body: str, parse_mode: str | None) -> str:
    if parse_mode == "HTML":
        parts = [f"<b>{escape_html(subject)}</b>" if subject else "", escape_html(body)]
    elif parse_mode == "MarkdownV2":
        parts = [f"*{escape_markdown_v2(subject)}*" if subject else "", escape_markdown_v2(body)]
    elif parse_mode == "Markdown":
        # Legacy Markdown cannot escape inside an entity, so the subject stays unstyled.
        parts = [escape_markdown(subject), escape_markdown(body)]
    else:
        parts = [subject, body]
    return "\n".join(part for part in parts if part)
