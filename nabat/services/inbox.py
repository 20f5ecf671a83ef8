"""A person's own inbox: list, count, mark read or unread, archive, delete, mark seen.

Every change appends an :class:`~nabat.models.inbox.InboxChange` in the same transaction
(its id is the live stream's event id) and is announced on the signal seam once the
caller's commit has succeeded. A change that changes nothing (reading what is read)
appends nothing. Another person's item is reported missing, exactly like one that does
not exist. Items are the person's across their projects: the bell is one per person.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.catalogue import SEVERITIES
from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import ErrorCode, NotFound, ValidationFailed
from nabat.models.inbox import InboxChange, InboxItem
from nabat.sentences import Sentence
from nabat.signals.inbox import InboxNews

# The most items one page holds.
PAGE_MAX = 100

Mark = Literal["read", "unread", "archived", "unarchived"]
"""A change to one item's state, named as its change record names it."""


@dataclass(frozen=True)
class InboxQuery:
    """Which items, newest first: those older than item ``before`` (the previous page's
    ``next_before``), ``limit`` of them; ``unread`` True only unread, False only read;
    ``archived`` True only archived ones, False (the inbox) only the others; ``types``
    and ``severities``: any of them (empty: all)."""

    before: int | None = None
    limit: int = 50
    unread: bool | None = None
    archived: bool = False
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboxPage:
    """One page of items, and the ``before`` of the next page (None: this is the last)."""

    items: list[InboxItem]
    next_before: int | None


@dataclass(frozen=True)
class InboxCounts:
    """What the bell shows: items not read, and items not yet seen (archived ones apart)."""

    unread: int
    unseen: int


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def check_severities(values: Collection[str]) -> tuple[str, ...]:
    """``values`` upper-cased when each is a severity; a 422 naming ``severity`` otherwise."""
    wanted = tuple(value.strip().upper() for value in values if value.strip())
    for value in wanted:
        if value not in SEVERITIES:
            raise _invalid(
                "severity",
                Sentence(
                    "{value!r} is not a severity; use {severities}",
                    value=value,
                    severities=", ".join(SEVERITIES),
                ),
            )
    return wanted


class InboxService:
    """The inbox use-cases of one person (``user_id``); the caller commits.

    ``published`` announces the changes after the commit (``AppState.publish_inbox``).
    """

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        user_id: int,
        published: Callable[[list[InboxNews]], None] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._user_id = user_id
        self._published = published

    async def page(self, query: InboxQuery) -> InboxPage:
        """The items ``query`` asks for, newest first, and where the next page starts."""
        if not 1 <= query.limit <= PAGE_MAX:
            raise _invalid("limit", Sentence("give 1 to {most} items a page", most=PAGE_MAX))
        pick = select(InboxItem).where(InboxItem.user_id == self._user_id)
        if query.before is not None:
            pick = pick.where(InboxItem.id < query.before)
        if query.unread is not None:
            pick = pick.where(
                InboxItem.read_at.is_(None) if query.unread else InboxItem.read_at.is_not(None)
            )
        pick = pick.where(
            InboxItem.archived_at.is_not(None)
            if query.archived
            else InboxItem.archived_at.is_(None)
        )
        if query.types:
            pick = pick.where(InboxItem.type_key.in_(query.types))
        if query.severities:
            pick = pick.where(InboxItem.severity.in_(check_severities(query.severities)))
        # One more than asked: whether there is a next page, without counting them all.
        rows = list(
            await self._session.scalars(pick.order_by(InboxItem.id.desc()).limit(query.limit + 1))
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return InboxPage(rows, rows[-1].id if more and rows else None)

    async def counts(self) -> InboxCounts:
        """How many items of the inbox (not archived) are unread, and how many unseen."""
        mine = (InboxItem.user_id == self._user_id, InboxItem.archived_at.is_(None))
        unread = await self._session.scalar(
            select(func.count()).select_from(InboxItem).where(*mine, InboxItem.read_at.is_(None))
        )
        unseen = await self._session.scalar(
            select(func.count()).select_from(InboxItem).where(*mine, InboxItem.seen_at.is_(None))
        )
        return InboxCounts(unread=int(unread or 0), unseen=int(unseen or 0))

    async def get(self, item_id: int) -> InboxItem:
        """One of the person's items; anyone else's is :class:`NotFound`, as a missing one."""
        row = await self._session.get(InboxItem, item_id) if as_id(item_id) else None
        if row is None or row.user_id != self._user_id:
            raise NotFound(
                Sentence(
                    "inbox item {id} not found; list your inbox with GET /api/v1/inbox",
                    id=item_id,
                ),
                code=ErrorCode.INBOX_ITEM_NOT_FOUND,
            )
        return row

    async def mark(self, item_id: int, kind: Mark) -> InboxItem:
        """Mark one item read (and so seen), unread, archived or back in the inbox."""
        row = await self.get(item_id)
        now = self._clock.now()
        before = (row.seen_at, row.read_at, row.archived_at)
        if kind == "read":
            row.read_at = row.read_at or now
            row.seen_at = row.seen_at or now
        elif kind == "unread":
            row.read_at = None
        elif kind == "archived":
            row.archived_at = row.archived_at or now
        else:
            row.archived_at = None
        if (row.seen_at, row.read_at, row.archived_at) != before:
            await self._changed(kind, row.id, row.project_id, now)
        return row

    async def delete(self, item_id: int) -> None:
        """Delete one item for good."""
        row = await self.get(item_id)
        await self._session.delete(row)
        await self._changed("deleted", row.id, row.project_id, self._clock.now())

    async def read_all(self) -> int:
        """Mark every unread item read (archived ones too); how many were."""
        return await self._all("read_all", InboxItem.read_at, None)

    async def seen_up_to(self, item_id: int) -> int:
        """Mark every item up to ``item_id`` (the newest the bell showed) seen; how many
        were not. Items that came after it stay unseen."""
        return await self._all("seen", InboxItem.seen_at, item_id)

    async def _all(self, kind: str, column: Any, up_to: int | None) -> int:
        now = self._clock.now()
        pick = [InboxItem.user_id == self._user_id, column.is_(None)]
        if up_to is not None:
            pick.append(InboxItem.id <= up_to)
        newest = await self._session.scalar(select(func.max(InboxItem.id)).where(*pick))
        if newest is None:
            return 0
        values: dict[str, Any] = {column.key: now}
        if kind == "read_all":
            # Read is seen too; an item seen before keeps when it was.
            values["seen_at"] = func.coalesce(InboxItem.seen_at, now)
        result = await self._session.execute(
            update(InboxItem)
            .where(*pick, InboxItem.id <= newest)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await self._changed(kind, newest, None, now)
        return int(getattr(result, "rowcount", 0) or 0)

    async def _changed(
        self, kind: str, item_id: int, project_id: int | None, now: datetime
    ) -> None:
        change = InboxChange(
            user_id=self._user_id, project_id=project_id, kind=kind, item_id=item_id, at=now
        )
        self._session.add(change)
        await self._session.flush()
        if self._published is not None:
            after_commit(
                self._session,
                partial(self._published, [InboxNews(self._user_id, change.id)]),
            )
