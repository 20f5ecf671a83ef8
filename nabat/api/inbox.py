"""``/api/v1/inbox``: the signed-in person's own in-app notifications.

A login token's user only: an API key belongs to a project and acts for no person, so it
has no inbox (docs/decisions.md, "The inbox API and API keys").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import BearerDep, SessionDep, StateDep, get_current_user
from nabat.errors import Forbidden
from nabat.live.inbox import item_out
from nabat.models.account import User
from nabat.schemas.channels import DeletedOut
from nabat.schemas.inbox import (
    InboxChangedOut,
    InboxCountsOut,
    InboxItemOut,
    InboxPageOut,
    SeenIn,
)
from nabat.schemas.inputs import RowId
from nabat.security.apikeys import split_api_key
from nabat.services.inbox import PAGE_MAX, InboxQuery, InboxService, Mark
from nabat.state import AppState

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])

ItemId = Annotated[int, Path(alias="id", description="The inbox item's id.")]


async def get_inbox_owner(
    request: Request, state: StateDep, session: SessionDep, credentials: BearerDep
) -> User:
    """The person whose inbox this is: the user of a login token (never an API key)."""
    if credentials is not None and split_api_key(credentials.credentials) is not None:
        raise Forbidden(
            "an API key acts for a project, not for a person, so it has no inbox; use a "
            "login token from POST /api/auth/login"
        )
    return await get_current_user(request, state, session, credentials)


InboxOwner = Annotated[User, Depends(get_inbox_owner)]


def _service(state: AppState, session: AsyncSession, user: User) -> InboxService:
    return InboxService(session, state.clock, user.id, published=state.publish_inbox)


async def _changed(service: InboxService, changed: int) -> InboxChangedOut:
    counts = await service.counts()
    return InboxChangedOut(changed=changed, unread=counts.unread, unseen=counts.unseen)


@router.get("", response_model=InboxPageOut)
async def list_inbox(
    user: InboxOwner,
    state: StateDep,
    session: SessionDep,
    before: Annotated[
        RowId | None, Query(description="Items older than this id (the last page's nextBefore).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    unread: Annotated[
        bool | None, Query(description="true: only unread; false: only read; absent: both.")
    ] = None,
    archived: Annotated[
        bool, Query(description="true: the archive; false: the inbox without it.")
    ] = False,
    type: Annotated[
        list[str] | None, Query(max_length=20, description="Notification types (any of them).")
    ] = None,
    severity: Annotated[
        list[str] | None, Query(max_length=5, description="Severities (any of them).")
    ] = None,
) -> InboxPageOut:
    """Your inbox, newest first, a page at a time."""
    query = InboxQuery(
        before=before,
        limit=limit,
        unread=unread,
        archived=archived,
        types=tuple(type or ()),
        severities=tuple(severity or ()),
    )
    page = await _service(state, session, user).page(query)
    return InboxPageOut(items=[item_out(item) for item in page.items], next_before=page.next_before)


@router.get("/count", response_model=InboxCountsOut)
async def count_inbox(user: InboxOwner, state: StateDep, session: SessionDep) -> InboxCountsOut:
    """How many items of your inbox are unread, and how many you have not seen yet."""
    counts = await _service(state, session, user).counts()
    return InboxCountsOut(unread=counts.unread, unseen=counts.unseen)


async def _mark(
    state: AppState, session: AsyncSession, user: User, item_id: int, kind: Mark
) -> InboxItemOut:
    item = await _service(state, session, user).mark(item_id, kind)
    out = item_out(item)
    await session.commit()
    return out


@router.post("/{id:int}/read", response_model=InboxItemOut)
async def read_item(
    item_id: ItemId, user: InboxOwner, state: StateDep, session: SessionDep
) -> InboxItemOut:
    """Mark an item read (and seen)."""
    return await _mark(state, session, user, item_id, "read")


@router.post("/{id:int}/unread", response_model=InboxItemOut)
async def unread_item(
    item_id: ItemId, user: InboxOwner, state: StateDep, session: SessionDep
) -> InboxItemOut:
    """Mark an item unread again."""
    return await _mark(state, session, user, item_id, "unread")


@router.post("/{id:int}/archive", response_model=InboxItemOut)
async def archive_item(
    item_id: ItemId, user: InboxOwner, state: StateDep, session: SessionDep
) -> InboxItemOut:
    """Move an item to the archive."""
    return await _mark(state, session, user, item_id, "archived")


@router.post("/{id:int}/unarchive", response_model=InboxItemOut)
async def unarchive_item(
    item_id: ItemId, user: InboxOwner, state: StateDep, session: SessionDep
) -> InboxItemOut:
    """Bring an archived item back to the inbox."""
    return await _mark(state, session, user, item_id, "unarchived")


@router.post("/read-all", response_model=InboxChangedOut)
async def read_all(user: InboxOwner, state: StateDep, session: SessionDep) -> InboxChangedOut:
    """Mark every unread item read."""
    service = _service(state, session, user)
    answer = await _changed(service, await service.read_all())
    await session.commit()
    return answer


@router.post("/seen", response_model=InboxChangedOut)
async def mark_seen(
    body: SeenIn, user: InboxOwner, state: StateDep, session: SessionDep
) -> InboxChangedOut:
    """Mark every item up to ``upTo`` seen: the bell was opened and showed them."""
    service = _service(state, session, user)
    answer = await _changed(service, await service.seen_up_to(body.up_to))
    await session.commit()
    return answer


@router.delete("/{id:int}", response_model=DeletedOut)
async def delete_item(
    item_id: ItemId, user: InboxOwner, state: StateDep, session: SessionDep
) -> DeletedOut:
    """Delete an item for good."""
    await _service(state, session, user).delete(item_id)
    await session.commit()
    return DeletedOut(message=f"inbox item {item_id} deleted")
