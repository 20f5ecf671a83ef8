"""The send API's use-case: PingTower's notifications, routed like any other event.

A notification becomes an event of the type its status names (``DOWN`` →
``service.down``, …) and goes through the project's rules; ``channelId`` or
``channelType`` still force one channel. Receivers get seed 002's payload unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import SEVERITIES, STATUS_TYPES
from nabat.delivery.content import seed_payload
from nabat.errors import ChannelDisabled, ErrorCode, NotFound, ValidationFailed
from nabat.models.channel import Channel
from nabat.services.event_input import EventInput

STATUSES = tuple(STATUS_TYPES)


@dataclass(frozen=True)
class Notification:
    """One notification as PingTower's send API describes it."""

    status: str
    severity: str
    message: str
    username: str | None = None
    service_name: str | None = None
    service_url: str | None = None
    channel_id: int | None = None
    channel_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _checked(notification: Notification, where: str) -> tuple[str, str]:
    status = notification.status.strip().upper()
    severity = notification.severity.strip().upper()
    if status not in STATUSES:
        raise ValidationFailed(
            f"{where}status: {notification.status!r} is not a status; use one of "
            + ", ".join(STATUSES),
            code=ErrorCode.INVALID_STATUS,
            details=[{"field": f"{where}status", "message": "unknown status"}],
        )
    if severity not in SEVERITIES:
        raise ValidationFailed(
            f"{where}severity: {notification.severity!r} is not a severity; use one of "
            + ", ".join(SEVERITIES),
            code=ErrorCode.INVALID_SEVERITY,
            details=[{"field": f"{where}severity", "message": "unknown severity"}],
        )
    return status, severity


def _pick(channels: list[Channel], notification: Notification) -> Channel | None:
    """The channel a notification forces (by id or type), or None to route it."""
    if notification.channel_id is not None:
        for channel in channels:
            if channel.id == notification.channel_id:
                if not channel.enabled:
                    raise ChannelDisabled(
                        f"channel {channel.id} ({channel.name}) is disabled; enable it or "
                        "send to another channel"
                    )
                return channel
        raise NotFound(
            f"channel {notification.channel_id} not found in this project",
            code=ErrorCode.CHANNEL_NOT_FOUND,
        )
    if notification.channel_type is not None:
        wanted = notification.channel_type.strip().upper()
        typed = [c for c in channels if c.type == wanted and c.enabled]
        typed.sort(key=lambda c: (not c.is_default, c.id))
        if typed:
            return typed[0]
        raise NotFound(
            f"no enabled {wanted} channel in this project", code=ErrorCode.CHANNEL_NOT_FOUND
        )
    return None


def _event(
    notification: Notification, status: str, severity: str, forced: Channel | None, now: datetime
) -> EventInput:
    return EventInput(
        type=STATUS_TYPES[status],
        severity=severity,
        message=notification.message,
        source={"name": notification.service_name, "url": notification.service_url},
        subject={"objectType": "service", "title": notification.service_name, "status": status},
        data=notification.metadata,
        recipients=(notification.username,) if notification.username else None,
        channel_ids=(forced.id,) if forced is not None else None,
        origin="send",
        payload=seed_payload(
            username=notification.username,
            service_name=notification.service_name,
            service_url=notification.service_url,
            status=status,
            severity=severity,
            message=notification.message,
            timestamp=now,
            metadata=notification.metadata,
        ),
        lenient=True,
        require_route=True,
    )


async def notification_events(
    session: AsyncSession, project_id: int, notifications: list[Notification], now: datetime
) -> list[EventInput]:
    """The events the send API's notifications stand for, checked; raises for the first bad
    one (unknown status or severity, a forced channel missing or disabled).

    Storing them (:class:`nabat.services.ingest.Ingest`) refuses, with seed 002's 404 or
    409, any that no channel can take; nothing of a request is stored unless all pass.
    """
    channels = list(
        await session.scalars(
            select(Channel).where(Channel.project_id == project_id).order_by(Channel.id)
        )
    )
    many = len(notifications) > 1
    items = []
    for index, notification in enumerate(notifications):
        where = f"notifications[{index}]." if many else ""
        status, severity = _checked(notification, where)
        items.append(_event(notification, status, severity, _pick(channels, notification), now))
    return items
