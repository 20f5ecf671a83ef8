"""``/api/v1/events``: events in, durable before the answer, and their record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.api.producing import accept
from nabat.models.delivery import Delivery
from nabat.models.event import Event
from nabat.routing.snapshot import iso
from nabat.schemas.events import (
    EventBatchIn,
    EventDelivery,
    EventDetail,
    EventIn,
    EventOut,
    EventPage,
)
from nabat.schemas.inputs import Page, Timestamp
from nabat.services import events as record
from nabat.services.access import Scope
from nabat.services.event_input import EventInput
from nabat.services.ingest_store import Accepted

router = APIRouter(tags=["events"])

Routing = Literal["PENDING", "ROUTED", "DUPLICATE"]


def event_input(body: EventIn, origin: str = "api") -> EventInput:
    """The service's input for an API event (normalised by ``checked`` when routed)."""
    recipients = body.get("recipients")
    channel_ids = body.get("channelIds")
    return EventInput(
        type=body["type"],
        severity=body.get("severity", "INFO"),
        message=body.get("message", ""),
        source=body.get("source") or {},
        subject=body.get("subject") or {},
        labels=body.get("labels") or {},
        data=body.get("data") or {},
        occurred_at=body.get("occurredAt"),
        dedup_key=body.get("dedupKey"),
        recipients=tuple(str(r).lower() if isinstance(r, bool) else r for r in recipients)
        if recipients is not None
        else None,
        channel_ids=tuple(channel_ids) if channel_ids is not None else None,
        origin=origin,
    )


def single(accepted: list[Accepted], now: datetime) -> dict[str, Any]:
    """The answer for one event."""
    return {"success": True, **accepted[0].to_json(), "timestamp": iso(now)}


def batch(accepted: list[Accepted], now: datetime) -> dict[str, Any]:
    """The answer for a batch: every event's outcome, in order."""
    return {
        "success": True,
        "events": [outcome.to_json() for outcome in accepted],
        "timestamp": iso(now),
    }


@router.post("/api/v1/events", status_code=202)
async def post_event(
    request: Request, body: EventIn, caller: CurrentPrincipal, state: StateDep
) -> Response:
    """Accept one event; it is routed and stored with its deliveries before this answers."""
    now = state.clock.now()
    return await accept(
        request,
        [event_input(body)],
        caller=caller,
        state=state,
        scope=Scope.EVENTS_WRITE,
        shape=lambda accepted: single(accepted, now),
        status_code=202,
    )


@router.post("/api/v1/events/batch", status_code=202)
async def post_events(
    request: Request, body: EventBatchIn, caller: CurrentPrincipal, state: StateDep
) -> Response:
    """Accept up to 1,000 events in one transaction, all of them or none; a batch of
    several is routed right after the answer."""
    now = state.clock.now()
    return await accept(
        request,
        [event_input(event) for event in body["events"]],
        caller=caller,
        state=state,
        scope=Scope.EVENTS_WRITE,
        shape=lambda accepted: batch(accepted, now),
        status_code=202,
        deferred=True,
    )


def _out(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "idempotency_id": event.public_id,
        "origin": event.origin,
        "type": event.type,
        "severity": event.severity,
        "message": event.message,
        "source": event.source,
        "subject": event.subject,
        "labels": event.labels,
        "dedup_key": event.dedup_key,
        "repeats": event.repeats,
        "last_repeat_at": event.last_repeat_at,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "routing": (
            "PENDING"
            if event.routed_at is None
            else "DUPLICATE"
            if event.duplicate_of is not None
            else "ROUTED"
        ),
        "routed_at": event.routed_at,
        "duplicate_of": event.duplicate_of,
    }


def _delivery(row: Delivery) -> EventDelivery:
    return EventDelivery(
        id=row.id,
        idempotency_id=row.public_id,
        channel_id=row.channel_id,
        channel_type=row.channel_type,
        rule_id=row.rule_id,
        recipient=row.recipient,
        status=row.status,
        suppressed_by=row.suppressed_by,
        silence_id=row.silence_id,
        reason=row.last_error,
        attempts=row.attempts,
        sent_at=row.sent_at,
    )


@router.get("/api/v1/events", response_model=EventPage)
async def list_events(
    caller: CurrentPrincipal,
    session: SessionDep,
    type: str | None = None,
    severity: str | None = None,
    source: str | None = None,
    dedup_key: Annotated[str | None, Query(alias="dedupKey")] = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    routing: Annotated[Routing | None, Query()] = None,
    page: Annotated[Page, Query()] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    """The project's events, newest first; ``routing=PENDING`` lists the batched events
    still waiting for the router."""
    caller.require(Scope.EVENTS_READ)
    filters = record.EventFilter(type, severity, source, dedup_key, since, until, routing)
    events, total = await record.list_events(
        session, caller.project_id, filters, page=page, size=size
    )
    return EventPage(items=[EventOut(**_out(e)) for e in events], total=total, page=page, size=size)


@router.get("/api/v1/events/{event_id:int}", response_model=EventDetail)
async def get_event(event_id: int, caller: CurrentPrincipal, session: SessionDep) -> EventDetail:
    """One event: what it said, its notes, and every delivery it made (and why not)."""
    caller.require(Scope.EVENTS_READ)
    event, deliveries = await record.get_event(session, caller.project_id, event_id)
    return EventDetail(
        **_out(event),
        data=event.data,
        recipients=event.recipients,
        channel_ids=event.channel_ids,
        notes=event.notes,
        deliveries=[_delivery(d) for d in deliveries],
    )
