"""The send API's use-case: validate notifications, pick channels, queue deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.delivery.content import build_content, seed_payload
from nabat.delivery.queue import Claimed, Lease, NewDelivery, enqueue
from nabat.errors import ErrorCode, NabatError, NotFound, ValidationFailed
from nabat.models.account import Membership, User
from nabat.models.channel import Channel

SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
STATUSES = ("UP", "DOWN", "DEGRADED", "MAINTENANCE", "UNKNOWN")


class ChannelDisabled(NabatError):
    """The named channel exists but is switched off."""

    status_code = 409
    code = ErrorCode.CHANNEL_DISABLED


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


def _checked(notification: Notification, where: str) -> Notification:
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
    return Notification(
        status=status,
        severity=severity,
        message=notification.message,
        username=notification.username,
        service_name=notification.service_name,
        service_url=notification.service_url,
        channel_id=notification.channel_id,
        channel_type=notification.channel_type.upper() if notification.channel_type else None,
        metadata=notification.metadata,
    )


class _Channels:
    """Channel lookups for one request, each done once however many items ask."""

    def __init__(self, session: AsyncSession, project_id: int) -> None:
        self._session = session
        self._project_id = project_id
        self._all: list[Channel] | None = None

    async def _load(self) -> list[Channel]:
        if self._all is None:
            rows = await self._session.scalars(
                select(Channel).where(Channel.project_id == self._project_id).order_by(Channel.id)
            )
            self._all = list(rows)
        return self._all

    async def pick(self, notification: Notification) -> Channel:
        channels = await self._load()
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
            typed = [c for c in channels if c.type == notification.channel_type and c.enabled]
            typed.sort(key=lambda c: (not c.is_default, c.id))
            if typed:
                return typed[0]
            raise NotFound(
                f"no enabled {notification.channel_type} channel in this project",
                code=ErrorCode.CHANNEL_NOT_FOUND,
            )
        for channel in channels:
            if channel.is_default:
                if not channel.enabled:
                    raise ChannelDisabled(
                        f"the default channel {channel.id} ({channel.name}) is disabled"
                    )
                return channel
        raise NotFound(
            "no channel given and this project has no default channel; pass channelId or "
            "channelType, or set a default channel",
            code=ErrorCode.CHANNEL_NOT_FOUND,
        )


async def _email_of(session: AsyncSession, project_id: int, username: str | None) -> str | None:
    if not username:
        return None
    return await session.scalar(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, User.username == username)
    )


async def submit(
    session: AsyncSession,
    *,
    project_id: int,
    notifications: list[Notification],
    now: datetime,
    max_attempts: int,
    lease: Lease | None = None,
) -> list[Claimed]:
    """Queue one delivery per notification and commit; all or nothing.

    Returns the deliveries, in order. Nothing is queued unless every notification is
    valid. With ``lease`` they are stored already leased to that worker, which the
    caller then hands them to.
    """
    channels = _Channels(session, project_id)
    emails: dict[str | None, str | None] = {}
    items: list[NewDelivery] = []
    many = len(notifications) > 1
    for index, raw in enumerate(notifications):
        where = f"notifications[{index}]." if many else ""
        notification = _checked(raw, where)
        channel = await channels.pick(notification)
        recipient = None
        if channel.type == "EMAIL":
            if notification.username not in emails:
                emails[notification.username] = await _email_of(
                    session, project_id, notification.username
                )
            recipient = emails[notification.username]
        payload = seed_payload(
            username=notification.username,
            service_name=notification.service_name,
            service_url=notification.service_url,
            status=notification.status,
            severity=notification.severity,
            message=notification.message,
            timestamp=now,
            metadata=notification.metadata,
        )
        items.append(
            NewDelivery(
                project_id=project_id,
                channel_id=channel.id,
                channel_type=channel.type,
                content=build_content(payload),
                recipient=recipient,
            )
        )
    queued = await enqueue(session, items, now=now, max_attempts=max_attempts, lease=lease)
    await session.commit()
    return queued
