"""What ingest reads and writes besides routing: events, their keys, throttle marks, and
the answer an event was given (replayed to repeats)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.bulk import insert_prepared, prepare_values, upsert_for
from nabat.delivery.queue import Claimed
from nabat.models.delivery import Delivery
from nabat.models.event import Event, EventKey
from nabat.models.routing import ThrottleMark
from nabat.services.event_input import EventInput


@dataclass
class Mark:
    """A throttle window in memory while a batch is routed."""

    sent_at: datetime
    # Deliveries held back by it during this batch.
    held: int
    # The event that opened it in this batch, or None for one read from the database.
    opened_by: str | None


@dataclass
class Accepted:
    """What became of one event: the answer a producer gets (and a repeat gets again).

    ``routed`` is false for a batched event stored for the router: what it becomes is in
    its record, not in the answer.
    """

    event_id: int
    duplicate: bool
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    routed: bool = True

    def to_json(self) -> dict[str, Any]:
        """The camelCase answer for this event."""
        if not self.routed:
            if self.duplicate:  # a repeat of the event named, not stored again
                return {"eventId": self.event_id, "status": "DUPLICATE"}
            return {"eventId": self.event_id, "status": "ACCEPTED", "routing": "PENDING"}
        return {
            "eventId": self.event_id,
            "status": "DUPLICATE" if self.duplicate else "ACCEPTED",
            "deliveries": self.deliveries,
            "notes": self.notes,
        }


async def held_keys(
    session: AsyncSession, project_id: int, digests: Collection[str], now: datetime
) -> dict[str, int]:
    """Dedup keys still held, mapped to the first event's id."""
    if not digests:
        return {}
    rows = await session.execute(
        select(EventKey.key, EventKey.event_id).where(
            EventKey.project_id == project_id,
            EventKey.key.in_(set(digests)),
            EventKey.expires_at > now,
        )
    )
    return {key: event_id for key, event_id in rows if event_id is not None}


async def count_repeat(
    session: AsyncSession, event_id: int, now: datetime, *, answer: bool = True, count: int = 1
) -> Accepted:
    """Count ``count`` repeats on the first event; with ``answer``, answer as it was
    answered."""
    await session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(repeats=Event.repeats + count, last_repeat_at=now)
    )
    if not answer:
        return Accepted(event_id=event_id, duplicate=True)
    return await answer_for(session, event_id, duplicate=True)


async def mark_routed(
    session: AsyncSession,
    ids: list[int],
    notes: list[list[dict[str, Any]]],
    accepted: list[Accepted],
    now: datetime,
) -> None:
    """Mark stored events routed, with their notes; a repeat names its first event."""
    await session.execute(
        update(Event),
        [
            {
                "id": event_id,
                "routed_at": now,
                "notes": event_notes,
                "duplicate_of": outcome.event_id if outcome.duplicate else None,
            }
            for event_id, event_notes, outcome in zip(ids, notes, accepted, strict=True)
        ],
    )


async def load_marks(
    session: AsyncSession, wanted: Collection[tuple[int, str]]
) -> dict[tuple[int, str], Mark]:
    """Throttle marks of the (rule, group) pairs asked for."""
    if not wanted:
        return {}
    rows = await session.execute(
        select(ThrottleMark.rule_id, ThrottleMark.group_key, ThrottleMark.last_sent_at).where(
            ThrottleMark.rule_id.in_({rule_id for rule_id, _ in wanted}),
            ThrottleMark.group_key.in_({key for _, key in wanted}),
        )
    )
    return {(rule_id, key): Mark(sent, 0, None) for rule_id, key, sent in rows}


# The columns ingest writes when it stores an event, in the order of its values.
EVENT_COLUMNS = [
    "public_id",
    "project_id",
    "origin",
    "type",
    "severity",
    "message",
    "source",
    "subject",
    "labels",
    "data",
    "recipients",
    "channel_ids",
    "dedup_key",
    "repeats",
    "notes",
    "occurred_at",
    "received_at",
    "routed_at",
]


def event_row(
    item: EventInput,
    public_id: str,
    notes: list[dict[str, Any]],
    *,
    project_id: int,
    now: datetime,
    routed: bool,
) -> list[Any]:
    """The row of a checked event, in the order of ``EVENT_COLUMNS``."""
    return [
        public_id,
        project_id,
        item.origin,
        item.type,
        item.severity,
        item.message,
        item.source,
        item.subject,
        item.labels,
        item.data,
        list(item.recipients) if item.recipients else None,
        list(item.channel_ids) if item.channel_ids else None,
        item.dedup_key,
        0,
        notes,
        item.occurred_at or now,
        now,
        now if routed else None,
    ]


async def insert_events(session: AsyncSession, rows: list[list[Any]]) -> list[int]:
    """Insert events given as values in the order of ``EVENT_COLUMNS``; their ids."""
    table = cast(Table, Event.__table__)
    return await insert_prepared(session, prepare_values(session, table, EVENT_COLUMNS, rows))


async def store_keys(
    session: AsyncSession,
    project_id: int,
    fresh: dict[str, tuple[int, datetime]],
    now: datetime,
) -> None:
    """Hold dedup keys (key -> first event, expiry)."""
    if not fresh:
        return
    # An expired key of the same digest is replaced: the window starts again. A live one
    # is left alone: it was committed meanwhile by a concurrent request (another process),
    # whose event then stands beside this one; the race costs at most one duplicate
    # message, never a lost event.
    await session.execute(
        delete(EventKey).where(
            EventKey.project_id == project_id,
            EventKey.key.in_(fresh),
            EventKey.expires_at <= now,
        )
    )
    await session.execute(
        upsert_for(session)(EventKey).on_conflict_do_nothing(),
        [
            {
                "project_id": project_id,
                "key": key,
                "event_id": event_id,
                "hits": 0,
                "expires_at": expires,
            }
            for key, (event_id, expires) in fresh.items()
        ],
    )


async def store_marks(
    session: AsyncSession, project_id: int, marks: dict[tuple[int, str], Mark]
) -> None:
    """Write throttle windows opened, and count what was held back."""
    for (rule_id, key), mark in marks.items():
        if mark.opened_by is None:
            if mark.held:
                await session.execute(
                    update(ThrottleMark)
                    .where(ThrottleMark.rule_id == rule_id, ThrottleMark.group_key == key)
                    .values(held_back=ThrottleMark.held_back + mark.held)
                )
            continue
        statement = upsert_for(session)(ThrottleMark).values(
            project_id=project_id,
            rule_id=rule_id,
            group_key=key,
            last_sent_at=mark.sent_at,
            held_back=mark.held,
        )
        # One statement, so two processes opening the same window cannot collide.
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["rule_id", "group_key"],
                set_={"last_sent_at": mark.sent_at, "held_back": mark.held},
            )
        )


def delivery_json(row: Claimed) -> dict[str, Any]:
    """A delivery as an event's answer lists it."""
    return {
        "id": row.id,
        "idempotencyId": row.public_id,
        "channelId": row.channel_id,
        "channelType": row.channel_type,
        "recipient": row.recipient,
        "status": "SUPPRESSED" if row.suppressed else "QUEUED",
    }


async def answer_for(session: AsyncSession, event_id: int, *, duplicate: bool) -> Accepted:
    """The answer for a stored event, as its producer was first given it."""
    event = await session.get(Event, event_id)
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.public_id,
            Delivery.channel_id,
            Delivery.channel_type,
            Delivery.recipient,
            Delivery.suppressed_by,
        )
        .where(Delivery.event_id == event_id)
        .order_by(Delivery.id)
    )
    deliveries = [
        {
            "id": row[0],
            "idempotencyId": row[1],
            "channelId": row[2],
            "channelType": row[3],
            "recipient": row[4],
            "status": "SUPPRESSED" if row[5] else "QUEUED",
        }
        for row in rows
    ]
    notes = list(event.notes) if event is not None else []
    return Accepted(event_id=event_id, duplicate=duplicate, deliveries=deliveries, notes=notes)
