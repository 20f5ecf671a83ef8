"""``/api/v1/notification-types``: built-in types switched on or off, and custom ones."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.schemas.channels import DeletedOut
from nabat.schemas.notification_types import (
    NotificationTypeCreate,
    NotificationTypeOut,
    NotificationTypeUpdate,
)
from nabat.services import notification_types
from nabat.services.access import Scope
from nabat.services.notification_types import TypeChanges, TypeView
from nabat.services.project_settings import UNSET

router = APIRouter(prefix="/api/v1/notification-types", tags=["notification types"])


def _out(view: TypeView) -> NotificationTypeOut:
    return NotificationTypeOut(
        key=view.key,
        title=view.title,
        description=view.description,
        titles=view.titles,
        enabled=view.enabled,
        custom=view.custom,
        mandatory=view.mandatory,
    )


@router.get("", response_model=list[NotificationTypeOut])
async def list_types(caller: CurrentPrincipal, session: SessionDep) -> list[NotificationTypeOut]:
    """Every built-in type (on unless the project switched it off), then the project's own."""
    caller.require(Scope.ROUTING_READ)
    return [_out(view) for view in await notification_types.list_types(session, caller.project_id)]


@router.post("", status_code=201, response_model=NotificationTypeOut)
async def create_type(
    body: NotificationTypeCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> NotificationTypeOut:
    """Create a project's own type (409 when the key is built in or taken)."""
    caller.require(Scope.ROUTING_WRITE)
    view = await notification_types.create_type(
        session,
        state.clock,
        caller.project_id,
        key=body.key,
        title=body.title,
        description=body.description,
        enabled=body.enabled,
    )
    await session.commit()
    return _out(view)


@router.put("/{key}", response_model=NotificationTypeOut)
async def update_type(
    key: str,
    body: NotificationTypeUpdate,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
) -> NotificationTypeOut:
    """Switch a type on or off, or make it mandatory (people cannot switch it off for
    themselves); a custom type's title and description may change too."""
    caller.require(Scope.ROUTING_WRITE)
    changes = TypeChanges(
        enabled=body.enabled,
        mandatory=body.mandatory,
        title=body.title,
        description=body.description if "description" in body.model_fields_set else UNSET,
    )
    view = await notification_types.update_type(
        session, state.clock, caller.project_id, key, changes
    )
    await session.commit()
    return _out(view)


@router.delete("/{key}", response_model=DeletedOut)
async def delete_type(key: str, caller: CurrentPrincipal, session: SessionDep) -> DeletedOut:
    """Delete a project's own type (built-in types can only be switched off: 409)."""
    caller.require(Scope.ROUTING_WRITE)
    await notification_types.delete_type(session, caller.project_id, key)
    await session.commit()
    return DeletedOut(message=f"notification type {key} deleted")
