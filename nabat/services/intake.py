"""Batched events in: checked as routing would check them, and stored unrouted for the
router (:mod:`nabat.services.event_router`), which routes them right after the answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.bulk import Prepared, insert_prepared, prepare_values
from nabat.ids import ordered_ids
from nabat.models.event import Event
from nabat.services.event_input import EventInput, checked, dedup_digest, forced_channels
from nabat.services.ingest_store import (
    EVENT_COLUMNS,
    Accepted,
    count_repeat,
    event_row,
    held_keys,
)
from nabat.services.routing_context import known


@dataclass
class Intake:
    """A checked batch, ready to be stored unrouted.

    ``rows`` holds the events to store. ``firsts`` has one entry per item: None for an
    event stored as given, or the event it repeats (``dedupKey`` within its window) — an
    event id, or ``-1 - row`` for one stored by this same batch.
    """

    rows: Prepared
    firsts: list[int | None]


async def intake(
    session: AsyncSession,
    project_id: int,
    items: Sequence[EventInput],
    *,
    now: datetime,
    prefix: str = "events",
) -> Intake:
    """Check ``items`` as routing would, find the ``dedupKey`` repeats that can be known
    now (of events already routed, and within the batch), and convert the other events'
    rows to be stored unrouted for the router (batches). Raises ValidationFailed /
    NotFound naming the bad one; nothing is written (and no write lock is needed)."""
    types, channels = await known(session, project_id)
    many = len(items) > 1
    checked_items: list[EventInput] = []
    for index, raw in enumerate(items):
        where = f"{prefix}[{index}]." if many else ""
        item = checked(raw, where, types)
        forced_channels(item, channels, where)
        checked_items.append(item)
    digests = [dedup_digest(item) if item.dedup_key else None for item in checked_items]
    wanted = {digest for digest in digests if digest is not None}
    held = await held_keys(session, project_id, wanted, now) if wanted else {}
    values: list[list[Any]] = []
    firsts: list[int | None] = []
    public_ids = ordered_ids("evt_", len(checked_items))
    for item, digest, public_id in zip(checked_items, digests, public_ids, strict=True):
        if digest is not None and digest in held:
            firsts.append(held[digest])
            continue
        if digest is not None:
            held[digest] = -1 - len(values)
        firsts.append(None)
        values.append(event_row(item, public_id, [], project_id=project_id, now=now, routed=False))
    rows = prepare_values(session, cast(Table, Event.__table__), EVENT_COLUMNS, values)
    return Intake(rows, firsts)


async def store_unrouted(session: AsyncSession, batch: Intake, now: datetime) -> list[Accepted]:
    """Store an :func:`intake` for the router, and count the repeats it found on their
    first events (the caller commits)."""
    ids = iter(await insert_prepared(session, batch.rows))
    stored = [next(ids) for first in batch.firsts if first is None]
    accepted: list[Accepted] = []
    repeats: Counter[int] = Counter()
    fresh = iter(stored)
    for first in batch.firsts:
        if first is None:
            accepted.append(Accepted(event_id=next(fresh), duplicate=False, routed=False))
            continue
        first_id = stored[-1 - first] if first < 0 else first
        repeats[first_id] += 1
        accepted.append(Accepted(event_id=first_id, duplicate=True, routed=False))
    for event_id, count in repeats.items():
        await count_repeat(session, event_id, now, answer=False, count=count)
    return accepted
