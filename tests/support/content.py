"""Delivery content for tests that queue deliveries directly, not through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nabat.catalogue import STATUS_TYPES
from nabat.delivery.content import DeliveryContent, seed_payload
from nabat.ids import ordered_id
from nabat.routing.snapshot import event_snapshot


def notification_content(
    *,
    service: str,
    status: str,
    severity: str,
    message: str,
    now: datetime,
) -> dict[str, Any]:
    """The stored content of a send-API notification (seed 002's payload kept as sent)."""
    event = event_snapshot(
        public_id=ordered_id("evt_"),
        type_key=STATUS_TYPES[status],
        type_title=STATUS_TYPES[status],
        severity=severity,
        message=message,
        source={"name": service},
        subject={"objectType": "service", "title": service, "status": status},
        labels={},
        data={},
        occurred_at=now,
        received_at=now,
    )
    payload = seed_payload(
        username=None,
        service_name=service,
        service_url=None,
        status=status,
        severity=severity,
        message=message,
        timestamp=now,
    )
    return DeliveryContent(kind="event", event=event, payload=payload).to_json()
