"""``GET /deliveries/stream``: the delivery list's live feed (Server-Sent Events).

Settling a delivery signals nothing on the signal seam, and deliveries adopted by the
in-process worker are not even signalled when queued; so the stream polls the database
once a second for rows stamped (``updated_at``) since the last one it pushed, and a
``deliveries`` signal only makes it look sooner. Each event carries the rendered row;
its ``id:`` is the moment to resume from, which the browser sends back as
``Last-Event-ID`` when it reconnects.

A stream ends when its client goes away (checked every poll) and after
:data:`STREAM_SECONDS` in any case: uvicorn waits for open responses before it shuts
down and tells the application nothing, so a bounded stream is what keeps a shutdown
from waiting on an idle browser tab; the browser reconnects at once from its last id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from nabat.api.deps import StateDep
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.signals import DELIVERIES
from nabat.state import AppState
from nabat.web.pages.deliveries import Row, channel_names, read_filters, render_row
from nabat.web.session import SignedIn, Visitor

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 1.0
KEEP_ALIVE_SECONDS = 15.0
STREAM_SECONDS = 30.0
RECONNECT_MS = 2000
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
    return f"id: {cursor.isoformat()}\nevent: delivery\ndata: {data}\n\n"


async def _changes(
    request: Request, state: AppState, visitor: Visitor, start: datetime
) -> AsyncIterator[str]:
    assert visitor.principal is not None
    project_id = visitor.principal.project_id
    filters = read_filters(visitor, dict(request.query_params)).chosen
    woken = asyncio.Event()
    subscription = state.signals.subscribe(DELIVERIES, lambda _payload: woken.set())
    cursor = start
    # What was pushed, by id: the stamp and status, so the overlap repeats nothing.
    pushed: dict[int, tuple[datetime, str, int]] = {}
    began = last_write = time.monotonic()
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        while time.monotonic() - began < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            async with state.sessions() as session:
                rows = await record.changed_deliveries(
                    session, project_id, filters, since=cursor - OVERLAP, limit=BATCH
                )
                names = await channel_names(session, project_id) if rows else {}
            for delivery in rows:
                mark = (delivery.updated_at, delivery.status, delivery.attempts)
                if pushed.get(delivery.id) == mark:
                    continue
                pushed[delivery.id] = mark
                cursor = max(cursor, delivery.updated_at)
                row = Row.of(delivery, names)
                yield _event(cursor, row, render_row(visitor, row))
                last_write = time.monotonic()
            horizon = cursor - OVERLAP
            pushed = {key: mark for key, mark in pushed.items() if mark[0] >= horizon}
            if time.monotonic() - last_write >= KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
            woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), POLL_SECONDS)
    finally:
        subscription.close()


@router.get("/deliveries/stream")
async def delivery_stream(
    request: Request, visitor: SignedIn, state: StateDep
) -> StreamingResponse:
    """New and changed deliveries of the list's filters, as Server-Sent Events."""
    visitor.require(Scope.DELIVERIES_READ)
    start = _resume_from(request, state.clock.now())
    return StreamingResponse(
        _changes(request, state, visitor, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
