"""The dashboard: what was delivered lately, how well, what waits and what fails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from nabat.api.deps import SessionDep, StateDep
from nabat.services import dashboard as board
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.web.render import page
from nabat.web.session import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/")
async def dashboard(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """Totals and success rate, the queue, deliveries per hour over the last day by
    status, each channel's share, and the channels failing now."""
    principal = visitor.require(Scope.DELIVERIES_READ)
    now = state.clock.now()
    stats = await record.stats(session, principal.project_id, now=now)
    hours = await board.timeline(session, principal.project_id, now=now)
    failing = await board.failing_channels(session, principal.project_id)
    return page(
        visitor,
        "dashboard.html",
        section="dashboard",
        stats=stats,
        hours=hours,
        busiest=max([1] + [hour.total for hour in hours]),
        failing=failing,
    )
