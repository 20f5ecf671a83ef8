"""The in-app sender: words the inbox item of one delivery; nothing goes over a network.

The item is stored by the engine in the transaction that settles the delivery, so a
delivery settled twice (a lease taken over) still makes one item. What can fail here is
only the delivery itself: it names nobody, or someone who is not a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from nabat.channels.contract import (
    DeliveryError,
    FailureClass,
    InboxDraft,
    OutgoingMessage,
    Receipt,
)
from nabat.channels.text_limits import truncate

if TYPE_CHECKING:
    from nabat.channels.inapp import InappConfig

# What the inbox shows at most; the columns hold more (title 500, link 2,000).
TITLE_MAX = 200
BODY_MAX = 2000
LINK_MAX = 2000


def _chars(_: str) -> int:
    # The database counts characters, not UTF-16 units.
    return 1


def _title(message: OutgoingMessage) -> str:
    event = message.event or {}
    title = message.subject or str(event.get("typeTitle") or event.get("type") or "")
    return truncate(" ".join(title.split()), TITLE_MAX, cost=_chars)


def checked_link(link: str | None, base: str | None) -> str | None:
    """``link`` as an absolute http(s) address, read against ``base`` when it is a path;
    None when there is none or it is anything else (``javascript:``, ``mailto:``, a path
    without a base, spaces, too long): the console puts it in an ``href``."""
    if not link:
        return None
    link = link.strip()
    if any(char.isspace() or ord(char) < 32 for char in link) or len(link) > LINK_MAX:
        return None
    parts = urlsplit(link)
    if not parts.scheme and not parts.netloc and link.startswith("/") and base:
        link = urljoin(base, link)
        parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(link) > LINK_MAX:
        return None
    return link


class InappSender:
    """Makes the inbox item of a delivery to one user."""

    async def send(self, config: InappConfig, message: OutgoingMessage) -> Receipt:
        """The item as a receipt's ``inbox``; raises ``rejected`` for a delivery that
        names no user (the engine cannot make an item for nobody)."""
        user = (message.recipient or "").strip()
        if not user:
            raise DeliveryError(
                FailureClass.REJECTED,
                "an in-app notification goes to project members, and this delivery names "
                "none: give the rule's action (or the event) recipients, as user ids, "
                "usernames or e-mail addresses of members",
            )
        if not (user.isascii() and user.isdecimal()):
            raise DeliveryError(
                FailureClass.REJECTED,
                f"the recipient {user!r} is not a user of Nabat: in-app notifications "
                "reach project members only",
            )
        link = checked_link(message.link, config.link_base_url)
        detail = f"added to the inbox of user {user}"
        if message.link and link is None:
            detail += f"; its link {message.link[:200]!r} was left out (not an http(s) address)"
        return Receipt(
            provider_id=message.delivery_id,
            detail=detail,
            inbox=InboxDraft(
                title=_title(message),
                body=truncate(message.text.strip(), BODY_MAX, cost=_chars),
                link=link,
            ),
        )
