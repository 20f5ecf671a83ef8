"""The MIME message an EMAIL delivery sends (CONTRACTS.md section 5, "RFC 5322 headers").

Every header is set through :class:`email.message.EmailMessage` and
:class:`email.headerregistry.Address`; no header line is ever put together by hand, which
is how header injection usually gets in. The stdlib alone is not enough, though:
CPython accepts a trailing line break in some values and *decodes* RFC 2047 encoded words
found in raw input (``=?UTF-8?Q?=0A?=`` turns into a real line feed on output,
python/cpython#121650). So every value that came from a user is cleaned first: line
breaks and other control characters become spaces, and ``=?`` is broken up so it can
never start an encoded word.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from nabat.channels.text_limits import ELLIPSIS

SUBJECT_LIMIT = 255
"""Characters kept of a subject (CONTRACTS.md section 5 caps it; mail clients cut sooner)."""
NAME_LIMIT = 255
"""Characters kept of a display name."""
DEFAULT_SUBJECT = "Notification from Nabat"
"""The subject of a message whose subject and text are both empty."""

# Bodies are kept 7-bit (quoted-printable or base64 when not ASCII): a server without
# 8BITMIME (RFC 6152) must not be sent raw 8-bit data, and this way it never is.
_POLICY = policy.SMTP.clone(cte_type="7bit")
_POLICY_UTF8 = policy.SMTPUTF8.clone(cte_type="7bit")

# A zero-width space between "=" and "?" keeps the text looking the same to a reader while
# no parser can take it for the start of an encoded word any more.
_NEUTRAL_MARKER = "=\N{ZERO WIDTH SPACE}?"
_SPACES = re.compile(r"\s+")
_ID_LEFT = re.compile(r"[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*")
# Every character str.splitlines() breaks on is a control (Cc) or a line/paragraph
# separator (Zl, Zp); those are what could end a header line early.
_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def clean_header_text(value: str, *, limit: int | None = None) -> str:
    """``value`` made safe for a header: one line, no control characters, no ``=?``.

    Line breaks (CR, LF, ``\\v``, ``\\f``, U+0085, U+2028, U+2029), NUL and every other
    control character become spaces; runs of whitespace collapse to one space; ``=?`` gets
    a zero-width space between its characters, so an encoded word in the input stays
    text. With ``limit``, the result is cut to that many characters (ending in "…").
    """
    text = "".join(
        " " if unicodedata.category(char) in _BREAKING_CATEGORIES else char
        for char in _encodable(value)
    )
    text = _SPACES.sub(" ", text).strip()
    # Replace until stable: "==??" would otherwise leave a fresh "=?" behind.
    while "=?" in text:
        text = text.replace("=?", _NEUTRAL_MARKER)
    if limit is not None and len(text) > limit:
        text = text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return text


def mailbox(addr_spec: str, display_name: str | None = None) -> Address:
    """An :class:`Address` for ``addr_spec``, with a cleaned display name.

    Surrounding whitespace is dropped. Raises :class:`ValueError` naming the address when
    it is not one plain ``local@domain`` (inner spaces, control characters, ``=?``,
    several addresses, a display name).
    """
    spec = addr_spec.strip()
    if (
        not spec
        or any(char.isspace() or unicodedata.category(char) == "Cc" for char in spec)
        or "=?" in spec
    ):
        raise ValueError(f"{addr_spec!r} is not a valid e-mail address")
    name = clean_header_text(display_name or "", limit=NAME_LIMIT)
    try:
        address = Address(display_name=name, addr_spec=spec)
    except (ValueError, IndexError, MessageError) as exc:
        raise ValueError(f"{addr_spec!r} is not a valid e-mail address") from exc
    if not address.username or not address.domain or address.addr_spec != spec:
        raise ValueError(f"{addr_spec!r} is not a valid e-mail address")
    return address


def message_id(delivery_id: str, from_email: str) -> str:
    """The ``Message-ID`` of a delivery: ``<{delivery_id}@{domain of fromEmail}>``.

    Stable across retries, so a receiver (or a person) can tell a duplicate from a second
    alert. A delivery id that is not a valid ``id-left`` is replaced by its SHA-256 hex
    digest; a domain that cannot be written in ASCII becomes ``nabat.invalid``.
    """
    left = delivery_id if _ID_LEFT.fullmatch(delivery_id) else _digest(delivery_id)
    return f"<{left}@{_ascii_domain(from_email)}>"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _ascii_domain(addr_spec: str) -> str:
    domain = addr_spec.rpartition("@")[2].strip().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "nabat.invalid"
    if not ascii_domain or not _ID_LEFT.fullmatch(ascii_domain):
        return "nabat.invalid"
    return ascii_domain.lower()


def html_from_text(text: str) -> str:
    """A minimal HTML document showing ``text`` as written: escaped, line breaks kept."""
    body = escape(text).replace("\r\n", "\n").replace("\n", "<br>\n")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body><div style="font-family: sans-serif">{body}</div></body></html>\n'
    )


def subject_line(subject: str, text: str) -> str:
    """The subject to send: the cleaned subject, else the first line of the text, else
    :data:`DEFAULT_SUBJECT`; never longer than :data:`SUBJECT_LIMIT`."""
    cleaned = clean_header_text(subject, limit=SUBJECT_LIMIT)
    if cleaned:
        return cleaned
    for line in text.splitlines():
        cleaned = clean_header_text(line, limit=SUBJECT_LIMIT)
        if cleaned:
            return cleaned
    return DEFAULT_SUBJECT


def build_email(
    *,
    delivery_id: str,
    from_email: str,
    from_name: str | None,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    reply_to: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The message to send: headers From, To, Subject, Date, Message-ID, Auto-Submitted and
    Reply-To (when given), and a ``multipart/alternative`` body of text and HTML.

    ``html`` of ``None`` means "make it from the text" (escaped). Raises
    :class:`ValueError` when an address is not valid (see :func:`mailbox`).
    """
    sender = mailbox(from_email, from_name)
    recipients = [mailbox(address) for address in to]
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = recipients
    if reply_to:
        message["Reply-To"] = mailbox(reply_to)
    message["Subject"] = subject_line(subject, text)
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id(delivery_id, sender.addr_spec)
    # RFC 3834: an automatic message; vacation responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    body = _encodable(text)
    message.set_content(body)
    message.add_alternative(
        _encodable(html) if html is not None else html_from_text(body), subtype="html"
    )
    for part in message.iter_parts():
        # add_alternative() stamps the part it creates with its own MIME-Version; only the
        # top level should carry one (RFC 2045 section 4).
        del part["MIME-Version"]
    return message


def wire_bytes(message: EmailMessage, *, utf8: bool = False) -> bytes:
    """``message`` as sent in DATA: CRLF line ends, 7-bit bodies, and headers in raw UTF-8
    only with ``utf8`` (for a non-ASCII address over SMTPUTF8, RFC 6531)."""
    return message.as_bytes(policy=_POLICY_UTF8 if utf8 else _POLICY)


def _encodable(text: str) -> str:
    # A lone surrogate (from JSON "\ud800") cannot be encoded and would fail the send.
    return text.encode("utf-8", "replace").decode("utf-8")
