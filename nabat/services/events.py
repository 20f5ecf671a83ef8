"""The record of events: list them, and show what one became."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.ids import as_id
from nabat.errors import NotFound
from nabat.models.delivery import Delivery
from nabat.models.event import Event
from nabat.sentences import Sentence

# What each ``routing`` value of the record means, as a condition.
_ROUTING: dict[str, Any] = {
    "PENDING": Event.routed_at.is_(None),
    "ROUTED": and_(Event.routed_at.is_not(None), Event.duplicate_of.is_(None)),
    "DUPLICATE": Event.duplicate_of.is_not(None),
}


@dataclass(frozen=True)
class EventFilter:
    """What to list: every field given must match."""

    type: str | None = None
    severity: str | None = None
    source: str | None = None
    dedup_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    routing: str | None = None


async def list_events(
    session: AsyncSession, project_id: int, filters: EventFilter, *, page: int, size: int
) -> tuple[list[Event], int]:
    """One page of the project's events, newest first, and the total that match."""
    conditions: list[Any] = [Event.project_id == project_id]
    if filters.type is not None:
        conditions.append(Event.type == filters.type)
    if filters.severity is not None:
        conditions.append(Event.severity == filters.severity.upper())
    if filters.dedup_key is not None:
        conditions.append(Event.dedup_key == filters.dedup_key)
    if filters.since is not None:
        conditions.append(Event.received_at >= filters.since)
    if filters.until is not None:
        conditions.append(Event.received_at < filters.until)
    if filters.source is not None:
        conditions.append(Event.source["name"].as_string() == filters.source)
    if filters.routing is not None:
        conditions.append(_ROUTING[filters.routing.upper()])
    total = await session.scalar(select(func.count()).select_from(Event).where(*conditions))
    rows = await session.scalars(
        select(Event)
        .where(*conditions)
        .order_by(Event.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(rows), int(total or 0)


async def get_event(
    session: AsyncSession, project_id: int, event_id: int
) -> tuple[Event, list[Delivery]]:
    """An event of the project with its deliveries (suppressed ones too), oldest first."""
    event = await session.get(Event, event_id) if as_id(event_id) else None
    if event is None or event.project_id != project_id:
        raise NotFound(Sentence("event {id} not found in this project", id=event_id))
    deliveries = await session.scalars(
        select(Delivery).where(Delivery.event_id == event.id).order_by(Delivery.id)
    )
    return event, list(deliveries)
