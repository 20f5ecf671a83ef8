"""The fast wire builder says exactly what the full builder says, per delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from nabat.channels.email_message import build_email, wire_bytes
from nabat.channels.email_wire import build_wire

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
CONTENT: dict[str, Any] = {
    "from_email": "alerts@example.org",
    "from_name": "Nabat — Мониторинг",
    "subject": "[CRITICAL] База данных: DOWN",
    "text": "Сервис недоступен\nService is down",
    "html": None,
    "reply_to": "ops@example.org",
}


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def test_the_wire_matches_the_full_builder_header_for_header() -> None:
    recipients = ("oncall@example.org", ["Вася ", "vasya@example.org>"][1].rstrip(">"))
    full = build_email(delivery_id="dlv_1", to=list(recipients), now=NOW, **CONTENT)
    wire = build_wire(delivery_id="dlv_1", to=recipients, now=NOW, utf8=False, **CONTENT)
    expected, got = parse(wire_bytes(full)), parse(wire.raw)
    assert sorted(got.keys()) == sorted(expected.keys())
    for name in expected:
        if name == "Content-Type":
            # Same type; the multipart boundary is random per build.
            assert got.get_content_type() == expected.get_content_type()
            continue
        assert str(got[name]) == str(expected[name]), name
    assert wire.message_id == str(expected["Message-ID"])
    assert [p.get_content() for p in got.iter_parts()] == [
        p.get_content() for p in expected.iter_parts()
    ]


def test_shared_content_never_shares_the_per_delivery_headers() -> None:
    first = build_wire(delivery_id="dlv_a", to=("a@example.org",), now=NOW, utf8=False, **CONTENT)
    later = NOW.replace(minute=31)
    second = build_wire(
        delivery_id="dlv_b", to=("b@example.org",), now=later, utf8=False, **CONTENT
    )
    one, two = parse(first.raw), parse(second.raw)
    assert one["To"] == "a@example.org"
    assert two["To"] == "b@example.org"
    assert one["Message-ID"] != two["Message-ID"]
    assert one["Date"] != two["Date"]
    assert one.get_all("To") == ["a@example.org"]
    assert len(two.get_all("Message-ID") or []) == 1


@pytest.mark.parametrize(
    "evil",
    ["x\r\nBcc: spy@example.org", "x\nBcc: spy@example.org", "=?UTF-8?Q?=0A?=Bcc: spy@x.org"],
)
def test_injection_through_the_subject_stays_impossible(evil: str) -> None:
    content: dict[str, Any] = {**CONTENT, "subject": evil}
    wire = build_wire(delivery_id="dlv_c", to=("a@example.org",), now=NOW, utf8=False, **content)
    message = parse(wire.raw)
    assert message.get_all("Bcc") is None
    head = wire.raw.partition(b"\r\n\r\n")[0]
    assert not any(line.lower().startswith(b"bcc:") for line in head.split(b"\r\n"))


def test_a_bad_recipient_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        build_wire(
            delivery_id="dlv_d", to=("a@example.org\r\nBcc: x@y",), now=NOW, utf8=False, **CONTENT
        )
    with pytest.raises(ValueError, match="recipient"):
        build_wire(delivery_id="dlv_e", to=(), now=NOW, utf8=False, **CONTENT)
