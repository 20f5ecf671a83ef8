"""A person's inbox stream: their inbox changes as Server-Sent Events, resumable.

Every change to a person's inbox is a row (``InboxChange``) whose id is the event's
``id:``. A stream sends the changes after the last one it sent, each with the item as it
is now, then a ``count`` event with the bell's counts; rung by the hub, it reads again.
A browser that reconnects sends the last id it got (``Last-Event-ID``), and the stream
starts after it: what was missed comes once, in order, nothing twice.

Events (the data is JSON, camelCase): ``item`` (a new item), ``seen``, ``read``,
``unread``, ``archived``, ``unarchived``, ``deleted``, ``read_all`` with
``{"kind", "itemId", "at", "item"}`` (``item`` is null once the item is gone; for
``seen`` and ``read_all`` every item up to ``itemId`` changed), and ``count`` with
``{"unread", "unseen"}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.live.hub import LiveHub
from nabat.live.sse import event, paced
from nabat.models.inbox import InboxChange, InboxItem
from nabat.schemas.inbox import InboxCountsOut, InboxItemOut
from nabat.services.inbox import InboxService

# Changes read at once; a longer backlog (a reconnect after a while) takes several reads.
BATCH = 200
# The event named after each kind of change (the others are named as their kind).
EVENT_NAMES = {"new": "item"}


def item_out(item: InboxItem) -> InboxItemOut:
    """An inbox item as the inbox API shows it."""
    return InboxItemOut(
        id=item.id,
        project_id=item.project_id,
        type=item.type_key,
        severity=item.severity,
        title=item.title,
        body=item.body,
        link=item.link,
        event_id=item.event_id,
        delivery_id=item.delivery_id,
        created_at=item.created_at,
        seen=item.seen_at is not None,
        read=item.read_at is not None,
        archived=item.archived_at is not None,
        seen_at=item.seen_at,
        read_at=item.read_at,
        archived_at=item.archived_at,
    )


async def latest_change(session: AsyncSession, user_id: int) -> int:
    """The id of the person's latest change (0 before the first)."""
    found = await session.scalar(
        select(func.max(InboxChange.id)).where(InboxChange.user_id == user_id)
    )
    return int(found or 0)


async def changes_after(
    session: AsyncSession, user_id: int, after: int, limit: int
) -> list[tuple[InboxChange, InboxItem | None]]:
    """The person's changes after ``after``, oldest first, each with its item if it
    still exists (one query)."""
    rows = await session.execute(
        select(InboxChange, InboxItem)
        .outerjoin(
            InboxItem, and_(InboxItem.id == InboxChange.item_id, InboxItem.user_id == user_id)
        )
        .where(InboxChange.user_id == user_id, InboxChange.id > after)
        .order_by(InboxChange.id)
        .limit(limit)
    )
    return [(change, item) for change, item in rows]


def change_event(change: InboxChange, item: InboxItem | None) -> str:
    """The event of one change."""
    data: dict[str, Any] = {
        "kind": change.kind,
        "itemId": change.item_id,
        "at": change.at.isoformat(),
        "item": None if item is None else item_out(item).model_dump(mode="json", by_alias=True),
    }
    return event(EVENT_NAMES.get(change.kind, change.kind), json.dumps(data), change.id)


def count_event(counts: InboxCountsOut, cursor: int) -> str:
    """The bell's counts as of change ``cursor``."""
    return event("count", counts.model_dump_json(by_alias=True), cursor)


async def inbox_stream(
    hub: LiveHub,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    user_id: int,
    *,
    resume_after: int | None,
    lifetime_seconds: float | None,
) -> AsyncIterator[str]:
    """The frames of one inbox stream of ``user_id``: from now (the counts first), or
    after change ``resume_after`` (what was missed, then the counts), then live."""
    with hub.inbox(user_id) as listener:
        first = True

        async def news() -> AsyncIterator[str]:
            nonlocal first
            while True:
                async with sessions() as session:
                    if first:
                        latest = await latest_change(session, user_id)
                        # An id this person never had (a stale tab of another database)
                        # would skip their next changes: start from their latest.
                        start = latest if resume_after is None else min(resume_after, latest)
                        listener.cursor = start
                    rows = await changes_after(session, user_id, listener.cursor, BATCH)
                    counts = None
                    if rows or first:
                        found = await InboxService(session, clock, user_id).counts()
                        counts = InboxCountsOut(unread=found.unread, unseen=found.unseen)
                first = False
                frames = [change_event(change, item) for change, item in rows]
                if rows:
                    listener.cursor = rows[-1][0].id
                if counts is not None:
                    frames.append(count_event(counts, listener.cursor))
                if frames:
                    yield "".join(frames)
                if len(rows) < BATCH:
                    return

        async for frame in paced(
            listener,
            news,
            keepalive_seconds=hub.keepalive_seconds,
            lifetime_seconds=lifetime_seconds,
        ):
            yield frame
