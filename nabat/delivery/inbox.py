"""In-app deliveries become inbox items, in the transaction that settles them.

The in-app sender only words the item (``Receipt.inbox``); storing it here, beside the
delivery's outcome, makes the item exist exactly when the delivery is recorded as sent.
Each item comes with its ``new`` change, whose id the live stream sends as its event id;
the caller announces the changes on the signal seam once its commit has succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.contract import InboxDraft
from nabat.db.bulk import insert_many
from nabat.db.ids import as_id
from nabat.delivery.content import DeliveryContent
from nabat.delivery.queue import Claimed
from nabat.models.account import User
from nabat.models.inbox import InboxChange, InboxItem
from nabat.signals.inbox import InboxNews


async def store_items(
    session: AsyncSession, settled: Sequence[tuple[Claimed, InboxDraft]], *, now: datetime
) -> list[InboxNews]:
    """Insert the inbox item of each settled in-app delivery, and its ``new`` change, in
    the caller's transaction (the caller commits); the changes made, in order.

    Guarantees: at most one item per delivery, however often it is settled (a delivery
    sent again after a retry, an outcome flushed twice): a delivery that has an item
    already gets none (and the unique ``delivery_id`` backs this up). A recipient whose
    account is gone since the delivery was routed gets none either.
    """
    wanted: dict[int, tuple[Claimed, InboxDraft, int]] = {}
    for item, draft in settled:
        user_id = as_id(item.recipient or "")
        if user_id is not None:
            wanted.setdefault(item.id, (item, draft, user_id))
    if not wanted:
        return []
    had = set(
        await session.scalars(
            select(InboxItem.delivery_id).where(InboxItem.delivery_id.in_(list(wanted)))
        )
    )
    users = set(
        await session.scalars(
            select(User.id).where(User.id.in_({user for _, _, user in wanted.values()}))
        )
    )
    rows = []
    owners: list[tuple[int, int]] = []  # (user, project) of each row, in order
    for delivery_id, (item, draft, user_id) in wanted.items():
        if delivery_id in had or user_id not in users:
            continue
        event = DeliveryContent.from_json(item.content).event
        event_id = event.get("eventId")
        owners.append((user_id, item.project_id))
        rows.append(
            {
                "project_id": item.project_id,
                "user_id": user_id,
                "delivery_id": delivery_id,
                "event_id": event_id if isinstance(event_id, int) else None,
                "type_key": str(event.get("type") or "")[:100],
                "severity": str(event.get("severity") or "INFO")[:16],
                "title": draft.title,
                "body": draft.body,
                "link": draft.link,
                "created_at": now,
                "seen_at": None,
                "read_at": None,
                "archived_at": None,
            }
        )
    if not rows:
        return []
    ids = await insert_many(session, cast(Table, InboxItem.__table__), rows, key="delivery_id")
    changes = [
        {"user_id": user_id, "project_id": project_id, "kind": "new", "item_id": item_id, "at": now}
        for (user_id, project_id), item_id in zip(owners, ids, strict=True)
    ]
    change_ids = await insert_many(
        session, cast(Table, InboxChange.__table__), changes, key="item_id"
    )
    return [
        InboxNews(user_id, change_id)
        for (user_id, _), change_id in zip(owners, change_ids, strict=True)
    ]
