"""WEBHOOK delivery: seed 002's payload plus the full event, signed per Standard Webhooks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from nabat.channels.contract import OutgoingMessage, Receipt
from nabat.channels.http_status import classify_status, parse_retry_after
from nabat.channels.outbound import Outbound
from nabat.clock import Clock
from nabat.sentences import Sentence

if TYPE_CHECKING:
    from nabat.channels.webhook import WebhookConfig

MIN_SECRET_BYTES = 16


def webhook_body(message: OutgoingMessage) -> dict[str, Any]:
    """The JSON document a webhook receives."""
    body: dict[str, Any] = dict(message.payload)
    body["deliveryId"] = message.delivery_id
    if message.event is not None:
        body["event"] = message.event
    return body


def signing_key(secret: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks secret.

    ``whsec_<base64>`` is decoded as the spec says; any other string of at least
    16 characters is used as raw bytes. Raises ``ValueError`` otherwise.
    """
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[len("whsec_") :], validate=True)
        except binascii.Error as exc:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from exc
    else:
        key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            Sentence(
                "must be at least {least} bytes (e.g. whsec_ followed by 24+ base64 bytes)",
                least=MIN_SECRET_BYTES,
            )
        )
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookSender:
    """POSTs (or PUTs) the event to the configured URL."""

    def __init__(self, outbound: Outbound, clock: Clock) -> None:
        self._outbound = outbound
        self._clock = clock

    async def send(self, config: WebhookConfig, message: OutgoingMessage) -> Receipt:
        """One request; 2xx is delivered, anything else is classified by status."""
        # Sign the exact bytes sent: serialise once, never re-encode afterwards.
        raw = json.dumps(webhook_body(message), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **config.headers}
        headers["X-Nabat-Delivery-Id"] = message.delivery_id
        if config.secret is not None:
            timestamp = int(self._clock.now().timestamp())
            headers["webhook-id"] = message.delivery_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(
                config.secret.get_secret_value(), message.delivery_id, timestamp, raw
            )
        answer = await self._outbound.request(
            config.method,
            config.url,
            what="webhook endpoint",
            timeout_s=config.timeout,
            data=raw,
            headers=headers,
        )
        error = classify_status(
            answer.status,
            body=answer.text,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            what="webhook endpoint",
        )
        if error is not None:
            raise error
        return Receipt(status=answer.status, detail=f"HTTP {answer.status}")
