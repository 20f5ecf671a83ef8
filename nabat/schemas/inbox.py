"""Inbox shapes: an item, a page of them, the bell's counts."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel
from nabat.schemas.inputs import RowId


class InboxItemOut(ApiModel):
    """One notification in your inbox."""

    id: int
    project_id: int
    type: str = Field(description="The notification type (service.down).")
    severity: str
    title: str
    body: str
    link: str | None = Field(description="An http(s) address the item points to, if any.")
    event_id: int | None = Field(description="The event it is about (none for a test).")
    delivery_id: int | None
    created_at: datetime
    seen: bool = Field(description="Shown in the bell's list (POST /api/v1/inbox/seen).")
    read: bool
    archived: bool
    seen_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None


class InboxPageOut(ApiModel):
    """Items newest first; ``nextBefore`` is the ``before`` of the next page (null: none)."""

    items: list[InboxItemOut]
    next_before: int | None


class InboxCountsOut(ApiModel):
    """What the bell shows: unread and unseen items of the inbox (archived ones apart)."""

    unread: int
    unseen: int


class InboxChangedOut(InboxCountsOut):
    """How many items a change to many of them changed, and the counts after it."""

    changed: int


class SeenIn(StrictApiModel):
    """``POST /api/v1/inbox/seen``: the newest item the bell showed."""

    up_to: RowId = Field(description="Items with this id and older are marked seen.")
