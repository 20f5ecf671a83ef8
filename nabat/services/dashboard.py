"""What the console's dashboard shows beyond the delivery totals: deliveries per hour by
status and by channel, and the channels that are failing now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from nabat.models.channel import Channel
from nabat.models.delivery import ChannelHealth, Delivery

HOUR = 3600


@dataclass(frozen=True)
class Hour:
    """One hour of the timeline: when it starts and its deliveries by status."""

    start: datetime
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        """All deliveries made in the hour."""
        return sum(self.by_status.values())


class SeriesKind(StrEnum):
    """What a row of the by-channel chart stands for."""

    CHANNEL = "channel"
    # Deliveries keep no channel once theirs is deleted, so all such channels share a row.
    DELETED = "deleted"
    OTHER = "other"


@dataclass(frozen=True)
class ChannelSeries:
    """One row of the by-channel chart: a channel's deliveries per hour, those of the
    channels since deleted, or those of the quieter channels folded together."""

    kind: SeriesKind
    per_hour: tuple[int, ...]
    channel_id: int | None = None
    name: str | None = None
    type: str | None = None
    # How many rows an OTHER row stands for.
    folded: int = 0

    @property
    def total(self) -> int:
        """The row's deliveries over the whole window."""
        return sum(self.per_hour)

    @property
    def peak(self) -> int:
        """The row's busiest hour's deliveries."""
        return max(self.per_hour)

    @property
    def peak_index(self) -> int:
        """Which hour is the row's busiest (the earliest of equals)."""
        return self.per_hour.index(self.peak)


@dataclass(frozen=True)
class ByChannel:
    """Deliveries per hour by channel over a window of whole hours, the busiest first."""

    starts: tuple[datetime, ...]
    series: tuple[ChannelSeries, ...]

    @property
    def busiest(self) -> int:
        """The most deliveries any row had in an hour (at least 1, to scale bars by)."""
        return max([1] + [row.peak for row in self.series])

    def hour_total(self, index: int) -> int:
        """All deliveries of hour ``index`` over every row."""
        return sum(row.per_hour[index] for row in self.series)


@dataclass(frozen=True)
class FailingChannel:
    """A channel whose recent sends fail."""

    id: int
    name: str
    type: str
    failures: int
    since: datetime | None
    last_error: str | None


class _EpochSeconds(FunctionElement[int]):
    """Whole seconds since the epoch of a timestamp, rounded down on every database."""

    type = BigInteger()
    inherit_cache = True


@compiles(_EpochSeconds)
def _epoch_seconds(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's strftime('%s') is already whole seconds, rounded down.
    (moment,) = element.clauses
    return compiler.process(cast(extract("epoch", moment), BigInteger), **kw)


@compiles(_EpochSeconds, "postgresql")
def _epoch_seconds_postgresql(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL's epoch has a fraction, and casting it to an integer rounds: a delivery
    # in an hour's last half second would count in the next hour, or in none.
    (moment,) = element.clauses
    return compiler.process(cast(func.floor(extract("epoch", moment)), BigInteger), **kw)


def _window(now: datetime, hours: int) -> tuple[datetime, datetime]:
    """The start and end of the last ``hours`` whole hours, the current one included."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(hours=hours), end


def _hour_of(start: datetime) -> ColumnElement[int]:
    """Which hour after ``start`` a delivery was created in (0 for the first), worked
    out by the database so that a busy day's rows need not travel to be counted."""
    seconds = _EpochSeconds(Delivery.created_at) - int(start.timestamp())
    return seconds // HOUR


async def timeline(
    session: AsyncSession, project_id: int, *, now: datetime, hours: int = 24
) -> list[Hour]:
    """The last ``hours`` whole hours up to ``now`` (oldest first), each with the
    deliveries created in it by their status now."""
    start, end = _window(now, hours)
    hour = _hour_of(start)
    rows = await session.execute(
        select(hour, Delivery.status, func.count())
        .where(
            Delivery.project_id == project_id,
            Delivery.created_at >= start,
            Delivery.created_at < end,
        )
        .group_by(hour, Delivery.status)
    )
    buckets = [Hour(start + timedelta(hours=n), {}) for n in range(hours)]
    for index, status, count in rows:
        if 0 <= int(index) < hours:
            buckets[int(index)].by_status[status] = int(count)
    return buckets


async def channel_timeline(
    session: AsyncSession, project_id: int, *, now: datetime, hours: int = 24, shown: int = 5
) -> ByChannel:
    """The same hours as :func:`timeline`, each channel's deliveries in them: the
    ``shown`` busiest channels a row each, the rest folded into one row (unless that
    would fold a single channel, which then keeps its own)."""
    start, end = _window(now, hours)
    hour = _hour_of(start)
    rows = await session.execute(
        select(hour, Delivery.channel_id, Channel.name, Channel.type, func.count())
        .outerjoin(Channel, Channel.id == Delivery.channel_id)
        .where(
            Delivery.project_id == project_id,
            Delivery.created_at >= start,
            Delivery.created_at < end,
        )
        .group_by(hour, Delivery.channel_id, Channel.name, Channel.type)
    )
    counts: dict[int | None, list[int]] = {}
    named: dict[int, tuple[str, str]] = {}
    for index, channel_id, name, type_, count in rows:
        if 0 <= int(index) < hours:
            counts.setdefault(channel_id, [0] * hours)[int(index)] += int(count)
            if channel_id is not None:
                named[channel_id] = (name, type_)
    series = [
        ChannelSeries(SeriesKind.DELETED, tuple(per_hour))
        if channel_id is None
        else ChannelSeries(SeriesKind.CHANNEL, tuple(per_hour), channel_id, *named[channel_id])
        for channel_id, per_hour in counts.items()
    ]
    # Busiest first; equals by name, so the rows keep their places from one load to the next.
    series.sort(
        key=lambda row: (
            -row.total,
            row.kind is SeriesKind.DELETED,
            (row.name or "").casefold(),
            row.channel_id or 0,
        )
    )
    if len(series) > shown + 1:
        rest = series[shown:]
        other = tuple(map(sum, zip(*(row.per_hour for row in rest), strict=True)))
        series = [*series[:shown], ChannelSeries(SeriesKind.OTHER, other, folded=len(rest))]
    return ByChannel(
        starts=tuple(start + timedelta(hours=n) for n in range(hours)), series=tuple(series)
    )


async def channel_names(session: AsyncSession, project_id: int) -> dict[int, str]:
    """The names of the project's channels, by id."""
    rows = await session.execute(
        select(Channel.id, Channel.name).where(Channel.project_id == project_id)
    )
    return {channel_id: name for channel_id, name in rows}


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
