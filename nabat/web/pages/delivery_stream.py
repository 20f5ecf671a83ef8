"""``GET /deliveries/stream``: the delivery list's live feed (Server-Sent Events).

The feed is one of the live hub's streams (``nabat.live.hub``): it reads the project's
deliveries stamped (``updated_at``) since the last one it pushed each time the hub rings
it — new deliveries queued (the ``deliveries`` signal), deliveries adopted by an
in-process worker or settled by any worker (``delivery_changes``, by project), and the
hub's slow resync in case a signal was lost. Each event carries the rendered row; its
``id:`` is the moment to resume from, which the browser sends back as ``Last-Event-ID``
when it reconnects.

The feed ends when its client goes away and when the server begins to stop (the hub ends
every stream then, so a shutdown never waits on an idle browser tab).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from nabat.api.deps import StateDep
from nabat.live.sse import event, event_stream, paced
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.state import AppState
from nabat.web.pages.deliveries import Row, channel_names, read_filters, render_row
from nabat.web.session import SignedIn, Visitor

router = APIRouter(include_in_schema=False)

# A row is stamped when its transaction starts its work and becomes visible at commit,
# possibly later (group commit, the SQLite write gate): look back this far every time,
# and skip what was already pushed unchanged.
OVERLAP = timedelta(seconds=5)
BATCH = 200


def _resume_from(request: Request, now: datetime) -> datetime:
    """Where to start: the reconnecting browser's last id, else the page's ``since``
    (when it was rendered), else now; never in the future and never more than an hour
    ago."""
    for text in (request.headers.get("last-event-id"), request.query_params.get("since")):
        if not text:
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            continue
        if moment.tzinfo is not None:
            return min(max(moment, now - timedelta(hours=1)), now)
    return now


def _event(cursor: datetime, row: Row, html: str) -> str:
    data = json.dumps({"id": row.id, "status": row.status, "html": html})
    return event("delivery", data, cursor.isoformat())


async def _changes(
    request: Request, state: AppState, visitor: Visitor, start: datetime
) -> AsyncIterator[str]:
    assert visitor.principal is not None
    project_id = visitor.principal.project_id
    filters = read_filters(visitor, dict(request.query_params)).chosen
    cursor = start
    # What was pushed, by id: the stamp and status, so the overlap repeats nothing.
    pushed: dict[int, tuple[datetime, str, int]] = {}

    async def news() -> AsyncIterator[str]:
        nonlocal cursor, pushed
        while True:
            async with state.sessions() as session:
                rows = await record.changed_deliveries(
                    session, project_id, filters, since=cursor - OVERLAP, limit=BATCH
                )
                names = await channel_names(session, project_id) if rows else {}
            frames: list[str] = []
            for delivery in rows:
                mark = (delivery.updated_at, delivery.status, delivery.attempts)
                if pushed.get(delivery.id) == mark:
                    continue
                pushed[delivery.id] = mark
                cursor = max(cursor, delivery.updated_at)
                row = Row.of(delivery, names)
                frames.append(_event(cursor, row, render_row(visitor, row)))
            horizon = cursor - OVERLAP
            pushed = {key: mark for key, mark in pushed.items() if mark[0] >= horizon}
            if frames:
                yield "".join(frames)
            # A full batch of rows pushed already would read the same batch again.
            if len(rows) < BATCH or not frames:
                return

    with state.hub.feed(project_id) as listener:
        async for frame in paced(listener, news, keepalive_seconds=state.hub.keepalive_seconds):
            yield frame


@router.get("/deliveries/stream")
async def delivery_stream(
    request: Request, visitor: SignedIn, state: StateDep
) -> StreamingResponse:
    """New and changed deliveries of the list's filters, as Server-Sent Events."""
    visitor.require(Scope.DELIVERIES_READ)
    start = _resume_from(request, state.clock.now())
    return event_stream(_changes(request, state, visitor, start))
