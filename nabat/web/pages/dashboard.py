"""The dashboard: what was delivered lately, how well, what waits and what fails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from nabat.api.deps import SessionDep, StateDep
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.web.render import page
from nabat.web.session import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/")
async def dashboard(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """Totals and success rate, the last 24 hours and 7 days, and each channel's share."""
    principal = visitor.require(Scope.DELIVERIES_READ)
    stats = await record.stats(session, principal.project_id, now=state.clock.now())
    return page(visitor, "dashboard.html", section="dashboard", stats=stats)
