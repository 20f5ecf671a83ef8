"""The far side of the INAPP channel: there is no provider, its messages land in Nabat's
own inbox tables. Where other fakes record what a provider received, this reads what
reached a person's inbox, and the record of its changes the live stream sends."""

from __future__ import annotations

from sqlalchemy import select

from nabat.models.inbox import InboxChange, InboxItem
from nabat.state import AppState

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("INAPP",)


async def inbox_of(state: AppState, user_id: int) -> list[InboxItem]:
    """Every item in ``user_id``'s inbox, oldest first."""
    async with state.sessions() as session:
        rows = await session.scalars(
            select(InboxItem).where(InboxItem.user_id == user_id).order_by(InboxItem.id)
        )
        return list(rows)


async def changes_of(state: AppState, user_id: int) -> list[tuple[int, str, int | None]]:
    """``(change id, kind, item id)`` of every change to ``user_id``'s inbox, in order."""
    async with state.sessions() as session:
        rows = await session.execute(
            select(InboxChange.id, InboxChange.kind, InboxChange.item_id)
            .where(InboxChange.user_id == user_id)
            .order_by(InboxChange.id)
        )
        return [(row[0], row[1], row[2]) for row in rows]
