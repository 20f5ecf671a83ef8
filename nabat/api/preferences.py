"""People's notification preferences: ``/api/v1/users/me/preferences`` and
``/api/v1/users/me/quiet-hours`` for oneself (any role, viewers included), and the
project's defaults at ``/api/v1/preferences/defaults`` for its admins."""

from __future__ import annotations

from fastapi import APIRouter

from nabat.api.deps import CurrentPrincipal, SessionDep
from nabat.errors import Forbidden
from nabat.schemas.preferences import (
    PreferencesOut,
    PreferencesUpdate,
    QuietHoursOut,
    QuietHoursUpdate,
    SwitchOut,
    TypeSwitchesOut,
)
from nabat.services import preferences, quiet_hours
from nabat.services.access import Principal, Scope
from nabat.services.preferences import Grid, SwitchChange
from nabat.services.quiet_hours import QuietHoursView

router = APIRouter(prefix="/api/v1", tags=["preferences"])


def _person(caller: Principal) -> int:
    """The caller's user id: preferences are a person's, and an API key is nobody."""
    if caller.user_id is None:
        raise Forbidden(
            "an API key acts for a project, not for a person, so it has no preferences; "
            "use a login token from POST /api/auth/login"
        )
    return caller.user_id


def _out(grid: Grid) -> PreferencesOut:
    return PreferencesOut(
        kinds=grid.kinds,
        types=[
            TypeSwitchesOut(
                type=row.key,
                title=row.title,
                type_enabled=row.type_enabled,
                mandatory=row.mandatory,
                switches=[
                    SwitchOut(kind=cell.kind, enabled=cell.enabled, source=cell.source)
                    for cell in row.switches
                ],
            )
            for row in grid.types
        ],
    )


def _changes(body: PreferencesUpdate) -> list[SwitchChange]:
    return [SwitchChange(item.type, item.kind, item.enabled) for item in body.switches]


def _quiet(view: QuietHoursView) -> QuietHoursOut:
    return QuietHoursOut(
        enabled=view.enabled, time_zone=view.time_zone, starts=view.starts, ends=view.ends
    )


@router.get("/users/me/preferences", response_model=PreferencesOut)
async def my_preferences(caller: CurrentPrincipal, session: SessionDep) -> PreferencesOut:
    """Your switches in this project: every type × every channel kind, with where each
    value comes from."""
    grid = await preferences.my_grid(session, caller.project_id, _person(caller))
    return _out(grid)


@router.put("/users/me/preferences", response_model=PreferencesOut)
async def set_my_preferences(
    body: PreferencesUpdate, caller: CurrentPrincipal, session: SessionDep
) -> PreferencesOut:
    """Change some of your switches (``enabled: null`` goes back to the default); a
    mandatory type cannot be switched off (422)."""
    grid = await preferences.set_mine(session, caller.project_id, _person(caller), _changes(body))
    await session.commit()
    return _out(grid)


@router.get("/users/me/quiet-hours", response_model=QuietHoursOut)
async def my_quiet_hours(caller: CurrentPrincipal, session: SessionDep) -> QuietHoursOut:
    """Your quiet hours (all projects respect them)."""
    return _quiet(await quiet_hours.quiet_hours_of(session, _person(caller)))


@router.put("/users/me/quiet-hours", response_model=QuietHoursOut)
async def set_my_quiet_hours(
    body: QuietHoursUpdate, caller: CurrentPrincipal, session: SessionDep
) -> QuietHoursOut:
    """Set your quiet hours: external channels wait until they end unless the event is
    CRITICAL; the in-app inbox collects as always."""
    view = await quiet_hours.set_quiet_hours(
        session,
        _person(caller),
        time_zone=body.time_zone,
        starts=body.starts,
        ends=body.ends,
        enabled=body.enabled,
    )
    await session.commit()
    return _quiet(view)


@router.get("/preferences/defaults", response_model=PreferencesOut)
async def defaults(caller: CurrentPrincipal, session: SessionDep) -> PreferencesOut:
    """The project's defaults for people who have not set a switch of their own."""
    caller.require(Scope.ROUTING_READ)
    return _out(await preferences.defaults_grid(session, caller.project_id))


@router.put("/preferences/defaults", response_model=PreferencesOut)
async def set_defaults(
    body: PreferencesUpdate, caller: CurrentPrincipal, session: SessionDep
) -> PreferencesOut:
    """Change some of the project's defaults (admins and owners)."""
    caller.require(Scope.ROUTING_WRITE)
    grid = await preferences.set_defaults(session, caller.project_id, _changes(body))
    await session.commit()
    return _out(grid)
