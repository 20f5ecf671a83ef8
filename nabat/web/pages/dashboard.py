"""The dashboard: what was delivered lately, how well, what waits and what fails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from nabat.api.deps import SessionDep, StateDep
from nabat.services import dashboard as board
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.web.render import page
from nabat.web.session import SignedIn, Visitor

router = APIRouter(include_in_schema=False)


def series_label(visitor: Visitor, row: board.ChannelSeries) -> str:
    """What a row of the by-channel chart is called in the visitor's language."""
    if row.kind is board.SeriesKind.CHANNEL:
        return f"{row.name} ({row.type})"
    if row.kind is board.SeriesKind.DELETED:
        return visitor.t("dashboard.deleted_channels")
    return visitor.t("dashboard.other_channels", count=row.folded)


@router.get("/")
async def dashboard(visitor: SignedIn, state: StateDep, session: SessionDep) -> Response:
    """Totals and success rate, the queue, deliveries per hour over the last day by
    status and by channel, the channels failing now, and each channel's deliveries and
    success rate of all time."""
    principal = visitor.require(Scope.DELIVERIES_READ)
    now = state.clock.now()
    stats = await record.stats(session, principal.project_id, now=now)
    hours = await board.timeline(session, principal.project_id, now=now)
    by_channel = await board.channel_timeline(session, principal.project_id, now=now)
    failing = await board.failing_channels(session, principal.project_id)
    return page(
        visitor,
        "dashboard.html",
        section="dashboard",
        stats=stats,
        hours=hours,
        busiest=max([1] + [hour.total for hour in hours]),
        chart=by_channel,
        labels=[series_label(visitor, row) for row in by_channel.series],
        names=await board.channel_names(session, principal.project_id),
        failing=failing,
    )
