"""The record of events: the filtered list, and what one event became (its deliveries,
suppressed ones with their reasons, and the notes routing left)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nabat.api.deps import SessionDep
from nabat.catalogue import SEVERITIES
from nabat.services import events as record
from nabat.services.access import Scope
from nabat.services.notification_types import list_types
from nabat.web.pages.deliveries import Row, channel_names, parse_moment, render_row, shown_time
from nabat.web.render import page
from nabat.web.session import SignedIn

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/events")
async def events_page(request: Request, visitor: SignedIn, session: SessionDep) -> Response:
    """The project's events, newest first, by type, severity and time received."""
    principal = visitor.require(Scope.EVENTS_READ)
    query = request.query_params
    values = {name: query.get(name, "").strip() for name in ("type", "severity", "since", "until")}
    errors: dict[str, str] = {}
    moments: dict[str, datetime | None] = {"since": None, "until": None}
    for name in moments:
        if values[name]:
            try:
                moments[name] = parse_moment(values[name])
            except ValueError:
                errors[name] = visitor.t("deliveries.bad_time")
    severity = values["severity"].upper()
    if severity and severity not in SEVERITIES:
        errors["severity"] = visitor.t("events.bad_severity")
        severity = ""
    filters = record.EventFilter(
        type=values["type"][:100] or None,
        severity=severity or None,
        since=moments["since"],
        until=moments["until"],
    )
    number = query.get("page", "1")
    current = int(number) if number.isdigit() and 0 < int(number) < 100_000 else 1
    events, total = await record.list_events(
        session, principal.project_id, filters, page=current, size=PAGE_SIZE
    )
    kept = {key: value for key, value in values.items() if value}
    context: dict[str, Any] = {
        "events": events,
        "total": total,
        "current": current,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "values": values,
        "errors": errors,
        "severities": SEVERITIES,
        "types": await list_types(session, principal.project_id),
        "shown_time": shown_time,
        "previous_query": urlencode({**kept, "page": current - 1}),
        "next_query": urlencode({**kept, "page": current + 1}),
    }
    return page(visitor, "events/list.html", section="events", **context)


@router.get("/events/{event_id:int}")
async def event_page(event_id: int, visitor: SignedIn, session: SessionDep) -> Response:
    """One event: what it said, its notes, and every delivery it made (and why not)."""
    principal = visitor.require(Scope.EVENTS_READ)
    event, deliveries = await record.get_event(session, principal.project_id, event_id)
    names = await channel_names(session, principal.project_id)
    return page(
        visitor,
        "events/detail.html",
        section="events",
        event=event,
        deliveries=deliveries,
        rows=[render_row(visitor, Row.of(delivery, names)) for delivery in deliveries],
        shown_time=shown_time,
    )
