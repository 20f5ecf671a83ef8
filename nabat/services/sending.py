"""The send API's use-case: PingTower's notifications, routed like any other event.

A notification becomes an event of the type its status names (``DOWN`` →
``service.down``, …) and goes through the project's rules; ``channelId`` or
``channelType`` still force one channel (an e-mail ``channelType``: the project's mail
connection, when it has one). Receivers get seed 002's payload unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import SEVERITIES, STATUS_TYPES
from nabat.delivery.content import seed_payload
from nabat.errors import ChannelDisabled, ErrorCode, NotFound, ValidationFailed
from nabat.routing.plan import ChannelRef
from nabat.services.event_input import EventInput
from nabat.services.mail_connection import mail_route, words_mail
from nabat.services.routing_context import known, mail_connection_id

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


def _pick(
    channels: list[ChannelRef], notification: Notification, mail_channel_id: int | None
) -> ChannelRef | None:
    """The channel a notification forces (by id or type), or None to route it.

    An e-mail type goes through the project's mail connection when it has one, whichever
    e-mail type was named: the type says "by e-mail", the project says how its mail goes
    out; ``channelId`` names any one channel.
    """
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
        connection = mail_route(channels, mail_channel_id) if words_mail(wanted) else None
        if connection is not None:
            return connection
        typed = [c for c in channels if c.type == wanted and c.enabled]
        typed.sort(key=lambda c: (not c.is_default, c.id))
        if typed:
            return typed[0]
        raise NotFound(
            f"no enabled {wanted} channel in this project", code=ErrorCode.CHANNEL_NOT_FOUND
        )
    return None


def _event(
    notification: Notification,
    status: str,
    severity: str,
    forced: ChannelRef | None,
    now: datetime,
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

    The project's channels come from the routing cache (no query on the hot path). A single
    notification that no channel can take is refused while it is routed, with seed 002's
    404 or 409, before anything is stored; a batch is routed after its answer, and such a
    notification is kept with a ``NO_ROUTE`` note.
    """
    _, known_channels = await known(session, project_id)
    mail_channel_id = await mail_connection_id(session, project_id)
    channels = sorted(known_channels.values(), key=lambda c: c.id)
    many = len(notifications) > 1
    items = []
    for index, notification in enumerate(notifications):
        where = f"notifications[{index}]." if many else ""
        status, severity = _checked(notification, where)
        forced = _pick(channels, notification, mail_channel_id)
        items.append(_event(notification, status, severity, forced, now))
    return items


def as_stored(item: EventInput, received_at: datetime) -> EventInput:
    """An event the send API stored for the router, as the send API made it: seed 002's
    payload for receivers, and recipients that fall back to the channel's destination."""
    if item.origin != "send":
        return item
    status = str(item.subject.get("status") or "")
    item.payload = seed_payload(
        username=item.recipients[0] if item.recipients else None,
        service_name=item.source.get("name"),
        service_url=item.source.get("url"),
        status=status,
        severity=item.severity,
        message=item.message,
        timestamp=received_at,
        metadata=dict(item.data),
    )
    item.lenient = True
    return item
