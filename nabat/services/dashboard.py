"""What the console's dashboard shows beyond the delivery totals: deliveries per hour by
status, and the channels that are failing now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth, Delivery


@dataclass(frozen=True)
class Hour:
    """One hour of the timeline: when it starts and its deliveries by status."""

    start: datetime
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        """All deliveries made in the hour."""
        return sum(self.by_status.values())


@dataclass(frozen=True)
class FailingChannel:
    """A channel whose recent sends fail."""

    id: int
    name: str
    type: str
    failures: int
    since: datetime | None
    last_error: str | None


async def timeline(
    session: AsyncSession, project_id: int, *, now: datetime, hours: int = 24
) -> list[Hour]:
    """The last ``hours`` whole hours up to ``now`` (oldest first), each with the
    deliveries created in it by their status now."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    # Counted by the database, an hour and a status per row: a busy day is many
    # thousands of deliveries, which need not travel to be counted here.
    seconds = cast(extract("epoch", Delivery.created_at), BigInteger) - int(start.timestamp())
    hour = seconds // 3600
    rows = await session.execute(
        select(hour, Delivery.status, func.count())
        .where(Delivery.project_id == project_id, Delivery.created_at >= start)
        .group_by(hour, Delivery.status)
    )
    buckets = [Hour(start + timedelta(hours=n), {}) for n in range(hours)]
    for index, status, count in rows:
        if index is not None and 0 <= int(index) < hours:
            buckets[int(index)].by_status[status] = int(count)
    return buckets


async def failing_channels(session: AsyncSession, project_id: int) -> list[FailingChannel]:
    """The project's channels marked failing, the longest failing first."""
    rows = await session.execute(
        select(Channel, ChannelHealth)
        .join(ChannelHealth, ChannelHealth.channel_id == Channel.id)
        .where(Channel.project_id == project_id, ChannelHealth.consecutive_failures > 0)
        .order_by(func.coalesce(ChannelHealth.failing_since, ChannelHealth.last_failure_at))
    )
    return [
        FailingChannel(
            id=channel.id,
            name=channel.name,
            type=channel.type,
            failures=health.consecutive_failures,
            since=health.failing_since or health.last_failure_at,
            last_error=health.last_error,
        )
        for channel, health in rows
    ]
