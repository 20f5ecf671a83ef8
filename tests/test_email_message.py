"""The e-mail a delivery sends: its headers, its parts, and header injection (CONTRACTS.md
section 5, "RFC 5322 headers" and "Header injection")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from nabat.channels.email_message import (
    DEFAULT_SUBJECT,
    SUBJECT_LIMIT,
    build_email,
    clean_header_text,
    mailbox,
    message_id,
    wire_bytes,
)
from nabat.channels.email_sender import EmailSender
from nabat.channels.smtp_pool import SmtpPools
from tests.fakes.smtp import FakeSmtpServer, alert, email_config

pytest_plugins = ("tests.fakes.smtp_fixtures",)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "auto-submitted",
    "mime-version",
    "content-type",
}

# Each one tried to add a header line (Bcc) or end the header block early.
INJECTIONS = [
    "Alert\r\nBcc: evil@attacker.example",
    "Alert\nBcc: evil@attacker.example",
    "Alert\rBcc: evil@attacker.example",
    "Alert\n",
    "Alert\r\n\r\nbody takeover",
    "=?UTF-8?Q?=0A?=Bcc: evil@attacker.example",
    "=?utf-8?b?Cg==?=Bcc: evil@attacker.example",
    "Alert =?UTF-8?Q?=0D=0A?=Bcc: evil@attacker.example",
    "==??UTF-8?Q?=0A?=Bcc: evil@attacker.example",
    "Alert\u2028Bcc: evil@attacker.example",
    "Alert\u2029Bcc: evil@attacker.example",
    "Alert\x85Bcc: evil@attacker.example",
    "Alert\x00Bcc: evil@attacker.example",
    "Alert\x0bBcc: evil@attacker.example",
    "Alert\x0cBcc: evil@attacker.example",
    "Alert\x1cBcc: evil@attacker.example",
]


def build(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "delivery_id": "dlv_0123456789abcdef",
        "from_email": "nabat@example.org",
        "from_name": "Nabat alerts",
        "to": ["ops@example.org"],
        "subject": "Disk full on db-1",
        "text": "db-1: / is at 97%\nfree: 1.2 GB",
        "html": None,
        "now": NOW,
    }
    arguments.update(overrides)
    return build_email(**arguments)


def parsed(message: EmailMessage, *, utf8: bool = False) -> EmailMessage:
    """What a receiver reads: the message as sent, parsed back."""
    return BytesParser(policy=policy.default).parsebytes(wire_bytes(message, utf8=utf8))


def header_names(raw: bytes) -> list[str]:
    """The names of the header lines before the first empty line (continuations skipped)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [
        line.split(b":", 1)[0].decode().lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    ]


def test_message_has_exactly_one_date_from_and_message_id() -> None:
    sent = parsed(build())
    for name in ("Date", "From", "Message-ID", "To", "Subject"):
        assert len(sent.get_all(name) or []) == 1, name
    assert sent["Message-ID"] == "<dlv_0123456789abcdef@example.org>"
    assert sent["Date"].datetime == NOW
    assert sent["Date"].endswith("+0000")
    assert sent["From"].addresses[0].display_name == "Nabat alerts"
    assert sent["From"].addresses[0].addr_spec == "nabat@example.org"
    assert sent["Auto-Submitted"] == "auto-generated"
    assert "Reply-To" not in sent


def test_date_is_written_in_utc_whatever_the_clock_zone() -> None:
    moscow = NOW.astimezone(timezone(timedelta(hours=3)))
    assert parsed(build(now=moscow))["Date"] == "Sun, 01 Mar 2026 12:30:00 +0000"


def test_reply_to_is_set_only_when_configured() -> None:
    sent = parsed(build(reply_to="support@example.org"))
    assert len(sent.get_all("Reply-To") or []) == 1
    assert sent["Reply-To"].addresses[0].addr_spec == "support@example.org"


def test_sender_without_a_name_is_the_bare_address() -> None:
    sent = parsed(build(from_name=None))
    assert sent["From"] == "nabat@example.org"


def test_body_is_multipart_alternative_with_text_and_html_made_from_escaped_text() -> None:
    sent = parsed(build(text="CPU > 90% & <rising>\nsecond line"))
    assert sent.get_content_type() == "multipart/alternative"
    parts = list(sent.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    text = parts[0].get_content().replace("\r\n", "\n").rstrip("\n")
    assert text == "CPU > 90% & <rising>\nsecond line"
    html = parts[1].get_content()
    assert "CPU &gt; 90% &amp; &lt;rising&gt;<br>" in html
    assert "<rising>" not in html
    # Only the top level declares the MIME version.
    assert all("MIME-Version" not in part for part in parts)


def test_given_html_is_sent_as_rendered() -> None:
    sent = parsed(build(html="<p><b>Disk</b> full</p>"))
    _text_part, html_part = sent.iter_parts()
    assert html_part.get_content().strip() == "<p><b>Disk</b> full</p>"


def test_non_ascii_text_and_subject_survive_in_seven_bit_form() -> None:
    message = build(subject="Диск заполнен на db-1", text="Сервис: база данных — 97%")
    raw = wire_bytes(message)
    assert raw.isascii()
    sent = parsed(message)
    assert sent["Subject"] == "Диск заполнен на db-1"
    text_part, _html_part = sent.iter_parts()
    assert text_part.get_content().strip() == "Сервис: база данных — 97%"


def test_subject_is_capped_at_255_characters() -> None:
    subject = parsed(build(subject="x" * 1000))["Subject"]
    assert len(subject) == SUBJECT_LIMIT
    assert subject.endswith("…")


def test_empty_subject_falls_back_to_the_first_line_then_a_default() -> None:
    assert parsed(build(subject="  ", text="\n  first line\nsecond"))["Subject"] == "first line"
    assert parsed(build(subject="", text=""))["Subject"] == DEFAULT_SUBJECT


def test_message_id_is_stable_per_delivery_and_ascii() -> None:
    assert message_id("dlv_abc", "a@example.org") == message_id("dlv_abc", "b@EXAMPLE.org")
    assert message_id("dlv_abc", "a@example.org") != message_id("dlv_abd", "a@example.org")
    assert message_id("dlv_abc", "a@пример.рф") == "<dlv_abc@xn--e1afmkfd.xn--p1ai>"
    odd = message_id("id with <spaces>@and>", "a@example.org")
    assert re.fullmatch(r"<[0-9a-f]{64}@example\.org>", odd)


@pytest.mark.parametrize("subject", INJECTIONS)
def test_subject_cannot_inject_a_header(subject: str) -> None:
    message = build(subject=subject)
    raw = wire_bytes(message)
    assert sorted(header_names(raw)) == sorted(EXPECTED_HEADERS)
    sent = parsed(message)
    assert "Bcc" not in sent
    assert [a.addr_spec for a in sent["To"].addresses] == ["ops@example.org"]
    assert not any(char in str(sent["Subject"]) for char in "\r\n\x00\x0b\x0c\x85\u2028\u2029")


@pytest.mark.parametrize("name", INJECTIONS)
def test_sender_name_cannot_inject_a_header(name: str) -> None:
    message = build(from_name=name)
    raw = wire_bytes(message)
    assert sorted(header_names(raw)) == sorted(EXPECTED_HEADERS)
    sent = parsed(message)
    assert "Bcc" not in sent
    assert [a.addr_spec for a in sent["From"].addresses] == ["nabat@example.org"]
    assert [a.addr_spec for a in sent["To"].addresses] == ["ops@example.org"]


def test_encoded_word_in_raw_input_stays_text() -> None:
    subject = "=?UTF-8?Q?=0A?=Bcc: evil@attacker.example"
    cleaned = clean_header_text(subject)
    assert "=?" not in cleaned
    # A reader still sees the characters that were written (with an invisible space).
    assert parsed(build(subject=subject))["Subject"] == cleaned
    assert cleaned.replace("\N{ZERO WIDTH SPACE}", "") == subject


def test_header_text_becomes_one_line_without_controls() -> None:
    assert clean_header_text(" a\r\n\tb\x00c\u2028d  ") == "a b c d"
    assert clean_header_text("==??") == "==\N{ZERO WIDTH SPACE}??"
    assert "=?" not in clean_header_text("=?=??=?")


@pytest.mark.parametrize(
    "address",
    [
        "ops@example.org\r\nBcc: evil@attacker.example",
        "ops@example.org, evil@attacker.example",
        "Ops <ops@example.org>",
        "=?utf-8?q?ops?=@example.org",
        "ops",
        "@example.org",
        "ops@exa\u2028mple.org",
        "ops@exa\x00mple.org",
        "",
    ],
)
def test_an_address_that_is_not_one_plain_mailbox_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        mailbox(address)


def test_surrounding_whitespace_of_an_address_is_dropped() -> None:
    assert mailbox(" ops@example.org\r\n").addr_spec == "ops@example.org"
    assert mailbox("ops@example.org\u2028").addr_spec == "ops@example.org"


def test_recipient_with_a_line_break_cannot_build_a_message() -> None:
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        build(to=["ops@example.org\r\nBcc: evil@attacker.example"])


async def test_injection_attempt_reaches_only_the_configured_recipients(
    plain_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    # The configuration refuses CR and LF in fromName, but not these.
    config = email_config(plain_smtp, fromName="Nabat\u2028=?UTF-8?Q?=0A?=Bcc: evil@x.org")
    for subject in INJECTIONS:
        await sender.send(config, alert(subject=subject))
    assert len(plain_smtp.received) == len(INJECTIONS)
    for mail in plain_smtp.received:
        assert mail.rcpt_tos == ["ops@example.org"]
        assert "Bcc" not in mail.message()
        assert sorted(header_names(mail.content)) == sorted(EXPECTED_HEADERS)
