"""Send API, delivery record, statistics and metrics (PingTower's companion API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import CurrentPrincipal, SessionDep, StateDep
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
from nabat.services import deliveries as record
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


async def _queue(
    bodies: list[SendRequest], caller: Principal, state: AppState, session: AsyncSession
) -> tuple[list[Accepted], datetime]:
    caller.require(Scope.NOTIFICATIONS_SEND)
    now = state.clock.now()
    items = await notification_events(
        session, caller.project_id, [_notification(body) for body in bodies], now
    )
    # Hand the connection back to the pool before waiting for the shared commit.
    await session.rollback()
    return await state.batcher.submit(caller.project_id, items), now


def _summary(accepted: Accepted) -> str:
    deliveries = accepted.deliveries
    if not deliveries:
        return "notification stored, but routing made no delivery; see notes"
    if all(d["status"] == "SUPPRESSED" for d in deliveries):
        return "notification stored and suppressed; see the deliveries' reasons"
    return "notification queued"


@router.post("/api/v1/notifications/send", response_model=SendResponse)
async def send(
    body: SendRequest, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SendResponse:
    """Queue one notification; it is stored durably before this answers."""
    [accepted], now = await _queue([body], caller, state, session)
    first = accepted.deliveries[0] if accepted.deliveries else None
    return SendResponse(
        message=_summary(accepted),
        delivery_id=first["id"] if first else None,
        idempotency_id=first["idempotencyId"] if first else None,
        event_id=accepted.event_id,
        deliveries=accepted.deliveries,
        notes=accepted.notes,
        timestamp=now,
    )


@router.post("/api/v1/notifications/send/batch", response_model=SendBatchResponse)
async def send_batch(
    body: SendBatchRequest, caller: CurrentPrincipal, state: StateDep, session: SessionDep
) -> SendBatchResponse:
    """Queue up to 1,000 notifications in one transaction: all of them, or none."""
    outcomes, now = await _queue(body.notifications, caller, state, session)
    return SendBatchResponse(
        message=f"{len(outcomes)} notifications queued",
        delivery_ids=[item.deliveries[0]["id"] if item.deliveries else None for item in outcomes],
        event_ids=[item.event_id for item in outcomes],
        timestamp=now,
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
        subject=delivery.content.get("subject"),
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        sent_at=delivery.sent_at,
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
    )


@router.get("/api/v1/notifications/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    caller: CurrentPrincipal,
    session: SessionDep,
    status: Annotated[str | None, Query(description="QUEUED, SENDING, SENT, FAILED, DEAD")] = None,
    channel_id: Annotated[int | None, Query(alias="channelId")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
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
        record.DeliveryFilter(status=wanted, channel_id=channel_id, since=since, until=until),
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


@router.get("/api/v1/notifications/deliveries/{delivery_id}", response_model=DeliveryDetail)
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


@router.post("/api/v1/notifications/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
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
