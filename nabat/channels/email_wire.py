"""The bytes an EMAIL delivery sends, built cheaply.

Building a message with :mod:`email` parses and folds every header (milliseconds of CPU),
yet a burst of alerts mostly shares sender, subject and body. The shared part is built
once per content by :func:`~nabat.channels.email_message.build_email`, with every
safeguard it applies, and only the three headers that differ per delivery (To, Date,
Message-ID) are added per message: To through the same header machinery (cached per
recipient list), Date and Message-ID from values that can only be ASCII tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from nabat.channels.email_message import build_email, mailbox, message_id, wire_bytes

_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_PER_MESSAGE = ("To", "Date", "Message-ID")


@dataclass(frozen=True)
class Wire:
    """A message ready for DATA, and its Message-ID."""

    raw: bytes
    message_id: str


@lru_cache(maxsize=128)
def _shared(
    from_email: str,
    from_name: str | None,
    reply_to: str | None,
    subject: str,
    text: str,
    html: str | None,
    utf8: bool,
) -> tuple[bytes, bytes]:
    """Headers (without the per-message ones) and body of a content, as wire bytes."""
    message = build_email(
        delivery_id="shared",
        from_email=from_email,
        from_name=from_name,
        to=[from_email],
        subject=subject,
        text=text,
        html=html,
        reply_to=reply_to,
        now=_PLACEHOLDER_TIME,
    )
    for name in _PER_MESSAGE:
        del message[name]
    head, _, body = wire_bytes(message, utf8=utf8).partition(b"\r\n\r\n")
    return head, body


@lru_cache(maxsize=1024)
def _to_header(recipients: tuple[str, ...], utf8: bool) -> bytes:
    """The folded ``To:`` line(s) for ``recipients``; raises ``ValueError`` on a bad one."""
    message = EmailMessage()
    message["To"] = [mailbox(address) for address in recipients]
    return wire_bytes(message, utf8=utf8).partition(b"\r\n\r\n")[0] + b"\r\n"


def build_wire(
    *,
    delivery_id: str,
    from_email: str,
    from_name: str | None,
    to: tuple[str, ...],
    subject: str,
    text: str,
    html: str | None,
    reply_to: str | None,
    now: datetime,
    utf8: bool,
) -> Wire:
    """The message for one delivery, byte for byte what ``build_email`` would produce
    (header order aside). Raises ``ValueError`` when an address is not valid."""
    if not to:
        raise ValueError("a message needs at least one recipient")
    head, body = _shared(from_email, from_name, reply_to, subject, text, html, utf8)
    identifier = message_id(delivery_id, mailbox(from_email).addr_spec)
    raw = b"".join(
        (
            head,
            b"\r\n",
            _to_header(to, utf8),
            b"Date: ",
            format_datetime(now.astimezone(UTC)).encode("ascii"),
            b"\r\nMessage-ID: ",
            identifier.encode("ascii"),
            b"\r\n\r\n",
            body,
        )
    )
    return Wire(raw=raw, message_id=identifier)
