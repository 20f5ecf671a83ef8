"""Grafana's HMAC signature, checked as grafana/alerting's http/hmac.go makes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nabat.errors import Unauthorized
from nabat.integrations.signature import SignatureCheck, sign, verify

SECRET = "grafana-hmac-secret"
BODY = b'{"status":"firing"}'
STAMP = "1700000000"
AT_STAMP = datetime.fromtimestamp(int(STAMP), UTC)
HEADER = "X-Grafana-Alerting-Signature"
PLAIN = SignatureCheck(secret=SECRET, signature_header=HEADER)
STAMPED = SignatureCheck(SECRET, HEADER, timestamp_header="X-Grafana-Alerting-Timestamp")


def test_the_signature_is_bare_lowercase_hex_over_the_body_or_the_stamped_body() -> None:
    # Computed once with Python's hmac/hashlib: hex HMAC-SHA256, secret as UTF-8 bytes.
    assert sign(SECRET, BODY) == "1c0a294cfc62a3a54be979f6eeebaab8a9fa9256064ea2a71a9e1a06f7c28f8d"
    assert (
        sign(SECRET, BODY, STAMP)
        == "d8d33a8c004f4208e55b4f06afd580d05fb212a55b4b554822a4ee92b30f10cb"
    )


def test_a_right_signature_passes_whatever_the_case_of_header_and_hex() -> None:
    verify(PLAIN, {HEADER.lower(): sign(SECRET, BODY)}, BODY, AT_STAMP)
    verify(PLAIN, {HEADER.upper(): sign(SECRET, BODY).upper()}, BODY, AT_STAMP)


def test_a_missing_signature_is_refused_without_revealing_the_secret() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify(PLAIN, {}, BODY, AT_STAMP)
    assert HEADER in caught.value.message
    assert SECRET not in caught.value.message
    assert sign(SECRET, BODY) not in caught.value.message


def test_grafanas_fallback_header_is_pointed_out_when_it_came_instead() -> None:
    headers = {"X-Grafana-Alert-Signature": sign(SECRET, BODY)}
    with pytest.raises(Unauthorized, match="left empty, Grafana uses X-Grafana-Alert-Signature"):
        verify(PLAIN, headers, BODY, AT_STAMP)


@pytest.mark.parametrize(
    "signature",
    [
        sign("another-secret", BODY),
        sign(SECRET, BODY + b" "),
        "sha256=" + sign(SECRET, BODY),
        "not hex at all ✓",
    ],
)
def test_a_wrong_signature_is_refused(signature: str) -> None:
    with pytest.raises(Unauthorized, match="does not match") as caught:
        verify(PLAIN, {HEADER: signature}, BODY, AT_STAMP)
    assert sign(SECRET, BODY) not in caught.value.message


def test_with_a_timestamp_header_the_time_is_signed_too() -> None:
    headers = {HEADER: sign(SECRET, BODY, STAMP), "X-Grafana-Alerting-Timestamp": STAMP}
    verify(STAMPED, headers, BODY, AT_STAMP)
    body_alone = {HEADER: sign(SECRET, BODY), "X-Grafana-Alerting-Timestamp": STAMP}
    with pytest.raises(Unauthorized, match="does not match"):
        verify(STAMPED, body_alone, BODY, AT_STAMP)
    moved = {HEADER: sign(SECRET, BODY, STAMP), "X-Grafana-Alerting-Timestamp": "1700000001"}
    with pytest.raises(Unauthorized, match="does not match"):
        verify(STAMPED, moved, BODY, AT_STAMP)


@pytest.mark.parametrize("stamp", [None, "", "soon", "-1700000000", "1" * 13, "١٧٠٠"])
def test_a_missing_or_malformed_timestamp_is_refused(stamp: str | None) -> None:
    headers = {HEADER: sign(SECRET, BODY, STAMP)}
    if stamp is not None:
        headers["X-Grafana-Alerting-Timestamp"] = stamp
    with pytest.raises(Unauthorized, match="X-Grafana-Alerting-Timestamp header must hold"):
        verify(STAMPED, headers, BODY, AT_STAMP)


@pytest.mark.parametrize(
    ("offset", "accepted"), [(300, True), (-300, True), (301, False), (-301, False)]
)
def test_a_timestamp_more_than_five_minutes_off_is_refused(offset: int, accepted: bool) -> None:
    headers = {HEADER: sign(SECRET, BODY, STAMP), "X-Grafana-Alerting-Timestamp": STAMP}
    now = AT_STAMP + timedelta(seconds=offset)
    if accepted:
        verify(STAMPED, headers, BODY, now)
        return
    with pytest.raises(Unauthorized, match="301 seconds away"):
        verify(STAMPED, headers, BODY, now)
