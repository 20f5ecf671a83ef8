"""An event as producers post it, checked: the one input every way in is turned into."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nabat.catalogue import SEVERITIES
from nabat.errors import ErrorCode, NotFound, ValidationFailed
from nabat.routing.plan import ChannelRef

MAX_LABELS = 64


@dataclass(slots=True)
class EventInput:
    """One event to route. ``payload`` is seed 002's webhook payload when the send API
    made the event (receivers then get it exactly as before); ``lenient`` lets recipients
    that cannot be addressed fall back to the channel's own destination (send API);
    ``require_route`` refuses the event when nothing can take it (send API) instead of
    keeping it with a ``NO_ROUTE`` note."""

    type: str
    severity: str = "INFO"
    message: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)
    subject: Mapping[str, Any] = field(default_factory=dict)
    # Text once checked; as posted (text or true/false) before.
    labels: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    dedup_key: str | None = None
    recipients: tuple[str, ...] | None = None
    channel_ids: tuple[int, ...] | None = None
    origin: str = "api"
    payload: Mapping[str, Any] | None = None
    lenient: bool = False
    require_route: bool = False


def _word(value: Any) -> str:
    """Text for a label: true/false as JSON writes them, anything else as ``str`` does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value.__class__ is str else str(value)


def _field(value: Any) -> Any:
    """A subject field: true/false as text, anything else as given."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def _fail(where: str, message: str, code: ErrorCode | None = None) -> ValidationFailed:
    return ValidationFailed(
        f"{where}: {message}", code=code, details=[{"field": where, "message": message}]
    )


def checked(item: EventInput, where: str, known_types: Mapping[str, Any]) -> EventInput:
    """``item`` with its severity upper-cased; raises ValidationFailed naming the field.

    ``known_types`` is the project's notification types (built-in and its own).
    """
    severity = item.severity.strip().upper()
    if severity not in SEVERITIES:
        raise _fail(
            f"{where}severity",
            f"{item.severity!r} is not a severity; use one of {', '.join(SEVERITIES)}",
            ErrorCode.INVALID_SEVERITY,
        )
    type_key = item.type.strip()
    if type_key not in known_types:
        raise _fail(
            f"{where}type",
            f"{type_key!r} is not a notification type of this project; see GET "
            "/api/v1/notification-types, or add it with POST /api/v1/notification-types",
        )
    if len(item.labels) > MAX_LABELS:
        raise _fail(f"{where}labels", f"at most {MAX_LABELS} labels")
    subject = item.subject
    return EventInput(
        type=type_key,
        severity=severity,
        message=item.message,
        source={"name": item.source.get("name"), "url": item.source.get("url")},
        subject={
            "objectType": _field(subject.get("objectType")),
            "objectId": _field(subject.get("objectId")),
            "title": _field(subject.get("title")),
            "status": _field(subject.get("status")),
            "previousStatus": _field(subject.get("previousStatus")),
        },
        labels={str(k): _word(v) for k, v in item.labels.items()},
        data=dict(item.data),
        occurred_at=item.occurred_at,
        dedup_key=item.dedup_key.strip() if item.dedup_key and item.dedup_key.strip() else None,
        recipients=tuple(r.strip() for r in item.recipients if r.strip())
        if item.recipients
        else None,
        channel_ids=item.channel_ids or None,
        origin=item.origin,
        payload=item.payload,
        lenient=item.lenient,
        require_route=item.require_route,
    )


def dedup_digest(item: EventInput) -> str:
    """The dedup key of an event: its ``dedupKey`` within its type and severity.

    A changed type (raised → cleared) or severity (warning → critical) is news, not a repeat.
    """
    assert item.dedup_key is not None
    raw = "\x00".join((item.dedup_key, item.type, item.severity))
    return "dedup:" + hashlib.sha256(raw.encode()).hexdigest()


def forced_channels(
    item: EventInput, channels: Mapping[int, ChannelRef], where: str
) -> list[ChannelRef] | None:
    """The channels an event names in ``channelIds`` (None: routing decides); raises
    NotFound naming one that is not the project's."""
    if item.channel_ids is None:
        return None
    forced = []
    for channel_id in item.channel_ids:
        channel = channels.get(channel_id)
        if channel is None:
            raise NotFound(
                f"{where}channelIds: channel {channel_id} not found in this project",
                code=ErrorCode.CHANNEL_NOT_FOUND,
            )
        forced.append(channel)
    return forced
