"""Grafana's HMAC signature on webhook requests, checked.

Grafana (``grafana/alerting`` ``http/hmac.go``) puts the hex HMAC-SHA256 of the raw body,
keyed with the secret's UTF-8 bytes, in a header; with a timestamp header configured it
sends the Unix seconds there and signs ``"<seconds>:<body>"``. There is no ``sha256=``
prefix.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from nabat.errors import Unauthorized

MAX_SKEW_SECONDS = 300
# Unix seconds have 10 digits until the year 2286; more is not a time Grafana sent.
TIMESTAMP_DIGITS = 12
# What Grafana sends when its "Header" field is left empty (its UI shows
# X-Grafana-Alerting-Signature only as a placeholder).
GRAFANA_FALLBACK_HEADER = "X-Grafana-Alert-Signature"


@dataclass(frozen=True)
class SignatureCheck:
    """The secret and where to find the signature (and the timestamp, if one is signed)."""

    secret: str
    signature_header: str
    timestamp_header: str | None = None


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The hex signature Grafana sends for ``body`` (signed with ``timestamp`` if given)."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    if timestamp is not None:
        mac.update(timestamp.encode("ascii") + b":")
    mac.update(body)
    return mac.hexdigest()


def verify(check: SignatureCheck, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    """Return if the request is signed with the secret (and, with a timestamp header,
    recently); raise :class:`Unauthorized` saying what is wrong otherwise.

    The messages name headers, never the secret or the expected signature. The signature
    is compared in constant time and checked before the timestamp's age, so only a
    holder of the secret learns that the clocks disagree.
    """
    present = {name.lower(): value for name, value in headers.items()}
    given = present.get(check.signature_header.lower(), "").strip()
    if not given:
        raise Unauthorized(_missing(check.signature_header, present))
    timestamp = None
    if check.timestamp_header is not None:
        timestamp = present.get(check.timestamp_header.lower(), "").strip()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS):
            raise Unauthorized(
                f"the {check.timestamp_header} header must hold the Unix time in seconds "
                "that Grafana signed; set the same timestamp header in the contact point's "
                "HMAC settings"
            )
    expected = sign(check.secret, body, timestamp)
    if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8")):
        raise Unauthorized(
            f"the {check.signature_header} signature does not match the request: the "
            "contact point's HMAC secret (or its timestamp header) differs from the one "
            "set in Nabat"
        )
    if timestamp is not None:
        skew = abs(int(now.timestamp()) - int(timestamp))
        if skew > MAX_SKEW_SECONDS:
            raise Unauthorized(
                f"the signed time in {check.timestamp_header} is {skew} seconds away from "
                f"this server's clock (at most {MAX_SKEW_SECONDS} are allowed): a replayed "
                "request, or a clock to correct"
            )


def _missing(header: str, present: Mapping[str, str]) -> str:
    message = (
        f"this project asks Grafana for an HMAC signature, and the {header} header is "
        "missing; set the secret in the contact point's HMAC Signature settings"
    )
    if header.lower() != GRAFANA_FALLBACK_HEADER.lower() and GRAFANA_FALLBACK_HEADER.lower() in (
        present
    ):
        message += (
            f" and type {header} in its Header field (left empty, Grafana uses "
            f"{GRAFANA_FALLBACK_HEADER})"
        )
    return message
