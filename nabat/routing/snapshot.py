"""The event as templates and receivers see it: one plain JSON dict, built at ingest."""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from nabat.channels.descriptor import TemplateKind
from nabat.channels.registry import channel_type as registered_type

# Templates exist per notification type and per kind, not per channel type: Slack and
# Telegram read the same short text. Each type's descriptor names its kind.
KINDS: tuple[TemplateKind, ...] = get_args(TemplateKind)


def channel_kind(channel_type: str) -> TemplateKind:
    """The template kind for a channel type: ``email``, ``sms`` or ``chat`` (unknown
    types read as chat)."""
    kind = registered_type(channel_type.upper())
    return kind.template_kind if kind else "chat"


def iso(moment: datetime) -> str:
    """An RFC 3339 UTC timestamp ending in ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")


def event_snapshot(
    *,
    public_id: str,
    type_key: str,
    type_title: str,
    severity: str,
    message: str,
    source: dict[str, Any],
    subject: dict[str, Any],
    labels: dict[str, Any],
    data: dict[str, Any],
    occurred_at: datetime,
    received_at: datetime,
) -> dict[str, Any]:
    """The event in camelCase JSON: what webhooks carry and templates call ``event``.

    ``source`` is ``{"name", "url"}``; ``subject`` is ``{"objectType", "objectId",
    "title", "status", "previousStatus"}`` (absent keys are None).
    """
    return {
        "id": public_id,
        "type": type_key,
        "typeTitle": type_title,
        "severity": severity,
        "message": message,
        "source": {"name": source.get("name"), "url": source.get("url")},
        "subject": {
            key: subject.get(key)
            for key in ("objectType", "objectId", "title", "status", "previousStatus")
        },
        "labels": labels,
        "data": data,
        "occurredAt": iso(occurred_at),
        "receivedAt": iso(received_at),
    }
