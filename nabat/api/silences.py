"""``/api/v1/silences``: matchers and a time window during which deliveries are held."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.models.routing import Silence
from nabat.schemas.rules import MatcherOut
from nabat.schemas.silences import SilenceCreate, SilenceOut, SilenceStatus, SilenceUpdate
from nabat.services.access import Scope
from nabat.services.silences import (
    SilenceChanges,
    SilenceFields,
    SilenceService,
    SilenceState,
    author_of,
    state_of,
)

router = APIRouter(prefix="/api/v1/silences", tags=["routing"])


def _out(row: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=row.id,
        matchers=[MatcherOut.model_validate(matcher) for matcher in row.matchers],
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        author=row.author,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=SilenceStatus(state=state_of(row, now).value),
    )


def _service(state: StateDep, session: SessionDep) -> SilenceService:
    return SilenceService(session, state.clock)


@router.get("", response_model=list[SilenceOut])
async def list_silences(
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
    only: Annotated[
        SilenceState | None,
        Query(alias="state", description="Only silences now active, pending or expired."),
    ] = None,
) -> list[SilenceOut]:
    """The project's silences in creation order, each with its state now."""
    caller.require(Scope.ROUTING_READ)
    now = state.clock.now()
    rows = await _service(state, session).list(caller.project_id, now, only)
    return [_out(row, now) for row in rows]


@router.post("", status_code=201, response_model=SilenceOut)
async def create_silence(
    body: SilenceCreate, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SilenceOut:
    """Silence matching deliveries from ``startsAt`` (default now) until ``endsAt``."""
    caller.require(Scope.SILENCES_WRITE)
    fields = SilenceFields(
        matchers=body.matchers,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        comment=body.comment,
        author=body.author if body.author is not None else await author_of(session, caller),
    )
    row = await _service(state, session).create(caller.project_id, fields)
    await session.commit()
    return _out(row, state.clock.now())


@router.get("/{silence_id:int}", response_model=SilenceOut)
async def get_silence(
    silence_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SilenceOut:
    """One silence."""
    caller.require(Scope.ROUTING_READ)
    return _out(
        await _service(state, session).get(caller.project_id, silence_id), state.clock.now()
    )


@router.put("/{silence_id:int}", response_model=SilenceOut)
async def update_silence(
    silence_id: int,
    body: SilenceUpdate,
    caller: CurrentPrincipal,
    state: StateDep,
    session: SessionDep,
) -> SilenceOut:
    """Change any subset of matchers, window, comment and author; 409 once expired."""
    caller.require(Scope.SILENCES_WRITE)
    changes = SilenceChanges(
        matchers=body.matchers,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        comment=body.comment,
        author=body.author,
    )
    row = await _service(state, session).update(caller.project_id, silence_id, changes)
    await session.commit()
    return _out(row, state.clock.now())


@router.delete("/{silence_id:int}", response_model=SilenceOut)
async def expire_silence(
    silence_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SilenceOut:
    """End the silence now; the record stays (state ``expired``). Repeating it is harmless."""
    caller.require(Scope.SILENCES_WRITE)
    row = await _service(state, session).expire(caller.project_id, silence_id)
    await session.commit()
    return _out(row, state.clock.now())
