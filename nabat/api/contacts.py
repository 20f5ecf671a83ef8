"""Contact points: ``/api/v1/users/me/contact-points`` for oneself, and
``/api/v1/users/{userId}/contact-points`` for instance administrators (and the user).

A project's owners and admins do not reach them: a user's addresses are the user's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import CurrentUser, SessionDep, StateDep
from nabat.models.account import User
from nabat.models.contact import ContactPoint
from nabat.schemas.channels import DeletedOut
from nabat.schemas.contacts import ContactPointCreate, ContactPointOut
from nabat.services import contacts
from nabat.state import AppState

router = APIRouter(prefix="/api/v1/users", tags=["contact points"])

# The path names clients see (and errors name): ``userId`` and ``id``.
UserId = Annotated[int, Path(alias="userId", description="The user's id.")]
ContactId = Annotated[int, Path(alias="id", description="The contact point's id.")]


def _out(point: ContactPoint) -> ContactPointOut:
    return ContactPointOut(
        id=point.id,
        kind=point.kind,
        value=point.value,
        label=point.label,
        created_at=point.created_at,
    )


async def _add(
    session: AsyncSession, state: AppState, user: User, body: ContactPointCreate
) -> ContactPointOut:
    point = await contacts.add_contact(
        session, state.clock, user, kind=body.kind, value=body.value, label=body.label
    )
    await session.commit()
    return _out(point)


# The "me" routes come first: "/users/me/…" must not be read as a user id.


@router.get("/me/contact-points", response_model=list[ContactPointOut])
async def my_contact_points(user: CurrentUser, session: SessionDep) -> list[ContactPointOut]:
    """Where you are reached besides your account's e-mail address."""
    return [_out(point) for point in await contacts.list_contacts(session, user.id)]


@router.post("/me/contact-points", status_code=201, response_model=ContactPointOut)
async def add_my_contact_point(
    body: ContactPointCreate, user: CurrentUser, state: StateDep, session: SessionDep
) -> ContactPointOut:
    """Add an e-mail address, Telegram chat or phone number of yours."""
    return await _add(session, state, user, body)


@router.delete("/me/contact-points/{id:int}", response_model=DeletedOut)
async def delete_my_contact_point(
    contact_id: ContactId, user: CurrentUser, session: SessionDep
) -> DeletedOut:
    """Remove one of your contact points."""
    await contacts.remove_contact(session, user.id, contact_id)
    await session.commit()
    return DeletedOut(message=f"contact point {contact_id} deleted")


@router.get("/{userId:int}/contact-points", response_model=list[ContactPointOut])
async def member_contact_points(
    user_id: UserId, caller: CurrentUser, session: SessionDep
) -> list[ContactPointOut]:
    """A user's contact points (instance administrators, or the user)."""
    user = await contacts.contacts_owner(session, caller, user_id)
    return [_out(point) for point in await contacts.list_contacts(session, user.id)]


@router.post("/{userId:int}/contact-points", status_code=201, response_model=ContactPointOut)
async def add_member_contact_point(
    user_id: UserId,
    body: ContactPointCreate,
    caller: CurrentUser,
    state: StateDep,
    session: SessionDep,
) -> ContactPointOut:
    """Add a contact point for a user (instance administrators, or the user)."""
    user = await contacts.contacts_owner(session, caller, user_id)
    return await _add(session, state, user, body)


@router.delete("/{userId:int}/contact-points/{id:int}", response_model=DeletedOut)
async def delete_member_contact_point(
    user_id: UserId, contact_id: ContactId, caller: CurrentUser, session: SessionDep
) -> DeletedOut:
    """Remove a user's contact point (instance administrators, or the user)."""
    user = await contacts.contacts_owner(session, caller, user_id)
    await contacts.remove_contact(session, user.id, contact_id)
    await session.commit()
    return DeletedOut(message=f"contact point {contact_id} deleted")
