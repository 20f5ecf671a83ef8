"""Send API, delivery record, statistics and metrics (PingTower's companion API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
from nabat.api.producing import accept
from nabat.delivery.content import DeliveryContent
from nabat.errors import ValidationFailed
from nabat.models.delivery import Delivery, DeliveryAttempt, DeliveryStatus
from nabat.models.event import Event
from nabat.schemas.deliveries import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    SendBatchRequest,
    SendBatchResponse,
    SendRequest,
    SendResponse,
)
from nabat.schemas.inputs import Page, RowId, Timestamp
from nabat.services import deliveries as record
from nabat.services.accept import Shape
from nabat.services.access import Principal, Scope
from nabat.services.ingest_store import Accepted
from nabat.services.sending import Notification, notification_events
from nabat.state import AppState

router = APIRouter(tags=["delivery"])


def _notification(body: SendRequest) -> Notification:
    return Notification(
        status=body.status,
        severity=body.severity,
        message=body.message,
        username=body.username,
        service_name=body.service_name,
        service_url=body.service_url,
        channel_id=body.channel_id,
        channel_type=body.channel_type,
        metadata=body.metadata,
    )


async def _send(
    request: Request,
    bodies: list[SendRequest],
    caller: Principal,
    state: AppState,
    shape: Shape,
    *,
    deferred: bool,
) -> Response:
    caller.require(Scope.NOTIFICATIONS_SEND)
    now = state.clock.now()
    # No query: the project's channels come from the routing cache.
    async with state.sessions() as session:
        items = await notification_events(
            session, caller.project_id, [_notification(body) for body in bodies], now
        )
    return await accept(
        request,
        items,
        caller=caller,
        state=state,
        scope=Scope.NOTIFICATIONS_SEND,
        shape=shape,
        status_code=200,
        deferred=deferred,
    )


def _summary(accepted: Accepted) -> str:
    deliveries = accepted.deliveries
    if not deliveries:
        return "notification stored, but routing made no delivery; see notes"
    if all(d["status"] == "SUPPRESSED" for d in deliveries):
        return "notification stored and suppressed; see the deliveries' reasons"
    return "notification queued"


def _sent(accepted: Accepted, now: datetime) -> dict[str, Any]:
    first = accepted.deliveries[0] if accepted.deliveries else None
    return SendResponse(
        message=_summary(accepted),
        delivery_id=first["id"] if first else None,
        idempotency_id=first["idempotencyId"] if first else None,
        event_id=accepted.event_id,
        deliveries=accepted.deliveries,
        notes=accepted.notes,
        timestamp=now,
    ).model_dump(mode="json", by_alias=True)


@router.post("/api/v1/notifications/send", response_model=SendResponse)
async def send(
    request: Request, body: SendRequest, caller: CurrentPrincipal, state: StateDep
) -> Response:
    """Queue one notification; it is routed and stored durably before this answers."""
    now = state.clock.now()
    return await _send(
        request, [body], caller, state, lambda accepted: _sent(accepted[0], now), deferred=False
    )


def _sent_batch(outcomes: list[Accepted], now: datetime) -> dict[str, Any]:
    # A batch is routed after its answer: its deliveries are not known yet.
    return SendBatchResponse(
        message=f"{len(outcomes)} notifications stored; they are routed right after this answer",
        delivery_ids=[None] * len(outcomes),
        event_ids=[item.event_id for item in outcomes],
        timestamp=now,
    ).model_dump(mode="json", by_alias=True)


@router.post("/api/v1/notifications/send/batch", response_model=SendBatchResponse)
async def send_batch(
    request: Request, body: SendBatchRequest, caller: CurrentPrincipal, state: StateDep
) -> Response:
    """Store up to 1,000 notifications in one transaction, all of them or none; a batch of
    several is routed right after the answer (see each event's record)."""
    now = state.clock.now()
    return await _send(
        request,
        body.notifications,
        caller,
        state,
        lambda outcomes: _sent_batch(outcomes, now),
        deferred=True,
    )


def _out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        idempotency_id=delivery.public_id,
        channel_id=delivery.channel_id,
        channel_type=delivery.channel_type,
        kind=delivery.kind,
        recipient=delivery.recipient,
        status=delivery.status,
        attempts=delivery.attempts,
        max_attempts=delivery.max_attempts,
        next_attempt_at=delivery.next_attempt_at
        if delivery.status in ("QUEUED", "FAILED")
        else None,
        last_error=delivery.last_error,
        last_failure_class=delivery.last_failure_class,
        last_status_code=delivery.last_status_code,
        provider_id=delivery.provider_id,
        subject=DeliveryContent.from_json(delivery.content).summary,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        sent_at=delivery.sent_at,
        hops=delivery.hops or [],
        fallback=delivery.fallback or [],
    )


def _attempt(attempt: DeliveryAttempt) -> AttemptOut:
    return AttemptOut(
        number=attempt.number,
        started_at=attempt.started_at,
        duration_ms=round(attempt.duration_ms, 3),
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        failure_class=attempt.failure_class,
        reason=attempt.reason,
        channel_id=attempt.channel_id,
    )


@router.get("/api/v1/notifications/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    caller: CurrentPrincipal,
    session: SessionDep,
    status: Annotated[str | None, Query(description="QUEUED, SENDING, SENT, FAILED, DEAD")] = None,
    channel_id: Annotated[RowId | None, Query(alias="channelId")] = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    type: Annotated[
        str | None, Query(max_length=100, description="The notification type of the event")
    ] = None,
    page: Annotated[Page, Query()] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    """The project's deliveries, newest first."""
    caller.require(Scope.DELIVERIES_READ)
    wanted = None
    if status is not None:
        try:
            wanted = DeliveryStatus(status.upper())
        except ValueError:
            allowed = ", ".join(s.value for s in DeliveryStatus)
            raise ValidationFailed(
                f"status: {status!r} is not a delivery status; use one of {allowed}",
                details=[{"field": "status", "message": "unknown delivery status"}],
            ) from None
    items, total = await record.list_deliveries(
        session,
        caller.project_id,
        record.DeliveryFilter(
            status=wanted, channel_id=channel_id, since=since, until=until, type=type
        ),
        page=page,
        size=size,
    )
    return DeliveryPage(items=[_out(d) for d in items], total=total, page=page, size=size)


@router.get("/api/v1/notifications/deliveries/stats")
async def delivery_stats(
    caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> dict[str, object]:
    """Totals, success rate, average response time, last 24 h / 7 d, by channel."""
    caller.require(Scope.DELIVERIES_READ)
    return await record.stats(session, caller.project_id, now=state.clock.now())


@router.get("/api/v1/notifications/deliveries/{delivery_id:int}", response_model=DeliveryDetail)
async def get_delivery(
    delivery_id: int, caller: CurrentPrincipal, session: SessionDep
) -> DeliveryDetail:
    """One delivery with its content and every attempt."""
    caller.require(Scope.DELIVERIES_READ)
    delivery, attempts = await record.get_delivery(session, caller.project_id, delivery_id)
    return DeliveryDetail(
        **_out(delivery).model_dump(),
        content=delivery.content,
        attempt_log=[_attempt(a) for a in attempts],
    )


@router.post("/api/v1/notifications/deliveries/{delivery_id:int}/retry", response_model=DeliveryOut)
async def retry_delivery(
    delivery_id: int, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> DeliveryOut:
    """Queue a FAILED or DEAD delivery again, keeping its idempotency id."""
    caller.require(Scope.NOTIFICATIONS_SEND)
    delivery = await record.retry_delivery(
        session,
        caller.project_id,
        delivery_id,
        now=state.clock.now(),
        max_attempts=state.settings.max_attempts,
    )
    await session.commit()
    state.wake_workers()
    return _out(delivery)


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep, session: SessionDep) -> Response:
    """Prometheus metrics, queue depth read from the database at scrape time."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.status.in_(["QUEUED", "FAILED", "SENDING"]))
        .group_by(Delivery.status)
    )
    depth = {status: int(count) for status, count in rows}
    for status in ("QUEUED", "FAILED", "SENDING"):
        state.metrics.queue_depth.labels(status).set(depth.get(status, 0))
    pending = await session.scalar(
        select(func.count()).select_from(Event).where(Event.routed_at.is_(None))
    )
    state.metrics.events_pending.set(int(pending or 0))
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
