"""The delivery record: list, inspect, retry, and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.ids import as_id
from nabat.errors import Conflict, ErrorCode, NotFound
from nabat.models.channel import Channel
from nabat.models.delivery import (
    ChannelHealth,
    CircuitState,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from nabat.models.event import Event
from nabat.sentences import Sentence

_RETRYABLE = (DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value)


@dataclass(frozen=True)
class DeliveryFilter:
    """Filters of the delivery list."""

    status: DeliveryStatus | None = None
    channel_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    # The notification type of the event a delivery was made for.
    type: str | None = None


def _conditions(project_id: int, filters: DeliveryFilter) -> list[Any]:
    conditions: list[Any] = [Delivery.project_id == project_id]
    if filters.status is not None:
        conditions.append(Delivery.status == filters.status.value)
    if filters.channel_id is not None:
        conditions.append(Delivery.channel_id == filters.channel_id)
    if filters.since is not None:
        conditions.append(Delivery.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(Delivery.created_at < filters.until)
    if filters.type is not None:
        conditions.append(
            Delivery.event_id.in_(
                select(Event.id).where(Event.project_id == project_id, Event.type == filters.type)
            )
        )
    return conditions


async def list_deliveries(
    session: AsyncSession, project_id: int, filters: DeliveryFilter, *, page: int, size: int
) -> tuple[list[Delivery], int]:
    """One page of the project's deliveries, newest first, and the total that match."""
    conditions = _conditions(project_id, filters)
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*conditions))
    rows = await session.scalars(
        select(Delivery)
        .where(*conditions)
        .order_by(Delivery.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(rows), int(total or 0)


async def changed_deliveries(
    session: AsyncSession,
    project_id: int,
    filters: DeliveryFilter,
    *,
    since: datetime,
    limit: int,
) -> list[Delivery]:
    """The project's deliveries matching ``filters`` that were made or changed at or after
    ``since`` (every queue step stamps ``updated_at``), oldest change first, at most
    ``limit``."""
    rows = await session.scalars(
        select(Delivery)
        .where(*_conditions(project_id, filters), Delivery.updated_at >= since)
        .order_by(Delivery.updated_at, Delivery.id)
        .limit(limit)
    )
    return list(rows)


async def get_delivery(
    session: AsyncSession, project_id: int, delivery_id: int
) -> tuple[Delivery, list[DeliveryAttempt]]:
    """A delivery of the project with its attempts, oldest first."""
    delivery = await session.get(Delivery, delivery_id) if as_id(delivery_id) else None
    if delivery is None or delivery.project_id != project_id:
        raise NotFound(
            Sentence("delivery {id} not found in this project", id=delivery_id),
            code=ErrorCode.DELIVERY_NOT_FOUND,
        )
    attempts = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.id)
    )
    return delivery, list(attempts)


async def retry_delivery(
    session: AsyncSession, project_id: int, delivery_id: int, *, now: datetime, max_attempts: int
) -> Delivery:
    """Queue a FAILED or DEAD delivery again now, with a fresh allowance of attempts.

    It keeps its idempotency id, so a receiver can tell a replay from a new message. The
    caller commits.
    """
    delivery, _ = await get_delivery(session, project_id, delivery_id)
    if delivery.status not in _RETRYABLE:
        raise Conflict(
            Sentence(
                "delivery {id} is {status}; only FAILED or DEAD deliveries can be retried",
                id=delivery_id,
                status=delivery.status,
            )
        )
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(_RETRYABLE))
        .values(
            status=DeliveryStatus.QUEUED.value,
            next_attempt_at=now,
            max_attempts=Delivery.attempts + max_attempts,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(delivery)
    return delivery


async def _counts(session: AsyncSession, *conditions: Any) -> dict[str, int]:
    rows = await session.execute(
        select(Delivery.status, func.count()).where(*conditions).group_by(Delivery.status)
    )
    return {status: int(count) for status, count in rows}


async def _recent(session: AsyncSession, condition: Any, since: datetime) -> int:
    value = await session.scalar(
        select(func.count()).select_from(Delivery).where(condition, Delivery.created_at >= since)
    )
    return int(value or 0)


def _rate(counts: dict[str, int]) -> float | None:
    settled = counts.get("SENT", 0) + counts.get("DEAD", 0)
    return round(counts.get("SENT", 0) / settled, 4) if settled else None


async def _average_ms(session: AsyncSession, *conditions: Any) -> float | None:
    value = await session.scalar(
        select(func.avg(DeliveryAttempt.duration_ms))
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(DeliveryAttempt.outcome == "sent", *conditions)
    )
    return round(float(value), 2) if value is not None else None


async def stats(session: AsyncSession, project_id: int, *, now: datetime) -> dict[str, Any]:
    """Totals, success rate, average response time, recent counts, and the same by channel."""
    mine = Delivery.project_id == project_id
    totals = await _counts(session, mine)
    by_channel: dict[str, dict[str, Any]] = {}
    rows = await session.execute(
        select(Delivery.channel_id, Delivery.channel_type, Delivery.status, func.count())
        .where(mine)
        .group_by(Delivery.channel_id, Delivery.channel_type, Delivery.status)
    )
    for channel_id, channel_type, status, count in rows:
        key = str(channel_id) if channel_id is not None else "deleted"
        entry = by_channel.setdefault(
            key, {"channelId": channel_id, "channelType": channel_type, "byStatus": {}}
        )
        entry["byStatus"][status] = entry["byStatus"].get(status, 0) + int(count)
    for entry in by_channel.values():
        entry["total"] = sum(entry["byStatus"].values())
        entry["successRate"] = _rate(entry["byStatus"])
    return {
        "total": sum(totals.values()),
        "byStatus": totals,
        "successRate": _rate(totals),
        "averageResponseTimeMs": await _average_ms(session, mine),
        "last24h": sum(
            (await _counts(session, mine, Delivery.created_at >= now - timedelta(days=1))).values()
        ),
        "last7d": sum(
            (await _counts(session, mine, Delivery.created_at >= now - timedelta(days=7))).values()
        ),
        "byChannel": list(by_channel.values()),
    }


async def channel_status(
    session: AsyncSession, channel_id: int, *, now: datetime
) -> dict[str, Any]:
    """A channel's health: last use, success rate, failures, last error, recent counts."""
    of_channel = Delivery.channel_id == channel_id
    counts = await _counts(session, of_channel)
    last_used = await session.scalar(
        select(func.max(DeliveryAttempt.started_at))
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(of_channel)
    )
    failed_attempts = await session.scalar(
        select(func.count())
        .select_from(DeliveryAttempt)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(of_channel, DeliveryAttempt.outcome == "failed")
    )
    last_failure = await session.execute(
        select(DeliveryAttempt.reason, DeliveryAttempt.failure_class, DeliveryAttempt.started_at)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(of_channel, DeliveryAttempt.outcome == "failed")
        .order_by(DeliveryAttempt.id.desc())
        .limit(1)
    )
    failure = last_failure.first()
    health = await session.get(ChannelHealth, channel_id)
    return {
        "channelId": channel_id,
        "healthy": not (health.failing if health else False),
        "failing": bool(health.failing) if health else False,
        "failingSince": health.failing_since if health else None,
        "consecutiveFailures": health.consecutive_failures if health else 0,
        "lastUsedAt": last_used,
        "lastSuccessAt": health.last_success_at if health else None,
        "successRate": _rate(counts),
        "failedAttempts": int(failed_attempts or 0),
        "lastError": failure[0] if failure else None,
        "lastErrorClass": failure[1] if failure else None,
        "lastErrorAt": failure[2] if failure else None,
        "byStatus": counts,
        "last24h": await _recent(session, of_channel, now - timedelta(days=1)),
        "last7d": await _recent(session, of_channel, now - timedelta(days=7)),
        "circuit": {
            "state": (health.circuit if health else None) or CircuitState.CLOSED.value,
            "opens": health.circuit_opens if health else 0,
            "retryAt": health.circuit_retry_at if health else None,
        },
        "checkIntervalSeconds": await session.scalar(
            select(func.coalesce(Channel.check_interval_seconds, 0)).where(Channel.id == channel_id)
        ),
        "lastCheckAt": health.last_check_at if health else None,
        "lastCheckOk": health.last_check_ok if health else None,
        "lastCheckError": health.last_check_error if health else None,
    }
