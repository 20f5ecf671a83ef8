"""The delivery record: the filtered list, one delivery with its attempts, and retry.

The list is updated live by ``delivery_stream.py``; both render a row with
``deliveries/_row.html`` from the same :class:`Row`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.api.deps import SessionDep, StateDep
from nabat.db.ids import as_id
from nabat.delivery.content import DeliveryContent
from nabat.errors import Conflict, NotFound
from nabat.models.channel import Channel
from nabat.models.delivery import Delivery, DeliveryStatus
from nabat.services import deliveries as record
from nabat.services.access import Scope
from nabat.services.notification_types import list_types
from nabat.web.render import environment, page
from nabat.web.session import FormDep, Refused, SignedIn, Visitor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
RETRYABLE = (DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value)


def shown_time(moment: datetime | None) -> str:
    """A moment as the console shows it: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@dataclass(frozen=True)
class Row:
    """One delivery as a line of the list."""

    id: int
    created: str
    status: str
    channel: str
    recipient: str
    summary: str
    attempts: int
    max_attempts: int
    last_error: str
    event_id: int | None

    @classmethod
    def of(cls, delivery: Delivery, channels: dict[int, str]) -> Row:
        """The row of ``delivery``; ``channels`` names the project's channels by id."""
        channel = channels.get(delivery.channel_id or 0, "")
        return cls(
            id=delivery.id,
            created=shown_time(delivery.created_at),
            status=delivery.status,
            channel=f"{channel} ({delivery.channel_type})" if channel else delivery.channel_type,
            recipient=delivery.recipient or "",
            summary=DeliveryContent.from_json(delivery.content).summary,
            attempts=delivery.attempts,
            max_attempts=delivery.max_attempts,
            last_error=delivery.last_error or "",
            event_id=delivery.event_id,
        )


def render_row(visitor: Visitor, row: Row) -> str:
    """The ``<tr>`` of ``row`` in the visitor's language (the list's and the stream's)."""
    return environment().get_template("deliveries/_row.html").render(t=visitor.t, d=row)


async def channel_names(session: AsyncSession, project_id: int) -> dict[int, str]:
    """The project's channels' names by id (names only: no configuration is decrypted)."""
    rows = await session.execute(
        select(Channel.id, Channel.name)
        .where(Channel.project_id == project_id)
        .order_by(Channel.id)
    )
    return {row_id: name for row_id, name in rows}


def parse_moment(text: str) -> datetime:
    """A filter's moment: ``datetime-local`` sends no zone, and the console's times are
    UTC. Raises ``ValueError`` for text that is no date and time."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class Filters:
    """The list's filters as typed (``values``), the service's filter, and what was wrong."""

    values: dict[str, str]
    chosen: record.DeliveryFilter
    errors: dict[str, str] = field(default_factory=dict)


def read_filters(visitor: Visitor, query: dict[str, str]) -> Filters:
    """The filters in ``query`` (status, channel, type, since, until); a value that is not
    understood is left out of the filter and named in ``errors`` by its field."""
    names = ("status", "channel", "type", "since", "until")
    values = {name: query.get(name, "").strip() for name in names}
    errors: dict[str, str] = {}
    status = channel_id = None
    if values["status"]:
        try:
            status = DeliveryStatus(values["status"].upper())
        except ValueError:
            errors["status"] = visitor.t("deliveries.bad_status")
    if values["channel"]:
        channel_id = int(values["channel"]) if values["channel"].isdigit() else None
        if channel_id is None or not as_id(channel_id):
            channel_id = None
            errors["channel"] = visitor.t("deliveries.bad_channel")
    moments: dict[str, datetime | None] = {"since": None, "until": None}
    for name in moments:
        if values[name]:
            try:
                moments[name] = parse_moment(values[name])
            except ValueError:
                errors[name] = visitor.t("deliveries.bad_time")
    chosen = record.DeliveryFilter(
        status=status,
        channel_id=channel_id,
        since=moments["since"],
        until=moments["until"],
        type=values["type"][:100] or None,
    )
    return Filters(values=values, chosen=chosen, errors=errors)


def _query(values: dict[str, str], **more: object) -> str:
    return urlencode({**{k: v for k, v in values.items() if v}, **more})


@router.get("/deliveries")
async def deliveries_page(
    request: Request, visitor: SignedIn, state: StateDep, session: SessionDep
) -> Response:
    """The project's deliveries, newest first, filtered and paged; page 1 follows new ones
    live (``/deliveries/stream``)."""
    principal = visitor.require(Scope.DELIVERIES_READ)
    filters = read_filters(visitor, dict(request.query_params))
    number = request.query_params.get("page", "1")
    current = int(number) if number.isdigit() and 0 < int(number) < 100_000 else 1
    items, total = await record.list_deliveries(
        session, principal.project_id, filters.chosen, page=current, size=PAGE_SIZE
    )
    names = await channel_names(session, principal.project_id)
    rows = [Row.of(item, names) for item in items]
    context: dict[str, Any] = {
        "rows": [render_row(visitor, row) for row in rows],
        "total": total,
        "current": current,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters,
        "statuses": [status.value for status in DeliveryStatus],
        "channels": names,
        "types": await list_types(session, principal.project_id),
        "previous_query": _query(filters.values, page=current - 1),
        "next_query": _query(filters.values, page=current + 1),
        "stream_query": _query(filters.values, since=state.clock.now().isoformat()),
    }
    return page(visitor, "deliveries/list.html", section="deliveries", **context)


async def _detail(
    visitor: Visitor,
    session: AsyncSession,
    delivery_id: int,
    *,
    status: int = 200,
    notice: str = "",
    error: str | None = None,
) -> Response:
    principal = visitor.require(Scope.DELIVERIES_READ)
    delivery, attempts = await record.get_delivery(session, principal.project_id, delivery_id)
    names = await channel_names(session, principal.project_id)
    return page(
        visitor,
        "deliveries/detail.html",
        status=status,
        section="deliveries",
        d=Row.of(delivery, names),
        delivery=delivery,
        content=DeliveryContent.from_json(delivery.content),
        attempts=attempts,
        names=names,
        shown_time=shown_time,
        retryable=delivery.status in RETRYABLE,
        may_retry=visitor.can(Scope.NOTIFICATIONS_SEND),
        notice=notice,
        error=error,
    )


@router.get("/deliveries/{delivery_id:int}")
async def delivery_page(
    delivery_id: int, visitor: SignedIn, session: SessionDep, notice: str = ""
) -> Response:
    """One delivery: what it carries, where it stands, and every attempt."""
    return await _detail(visitor, session, delivery_id, notice=notice[:20])


@router.post("/deliveries/{delivery_id:int}/retry")
async def retry_page(
    delivery_id: int, visitor: SignedIn, form: FormDep, state: StateDep, session: SessionDep
) -> Response:
    """Queue a FAILED or DEAD delivery again (as ``POST …/deliveries/{id}/retry`` does)."""
    principal = visitor.require(Scope.NOTIFICATIONS_SEND)
    try:
        await record.retry_delivery(
            session,
            principal.project_id,
            delivery_id,
            now=state.clock.now(),
            max_attempts=state.settings.max_attempts,
        )
    except NotFound:
        raise Refused("error.not_found", 404) from None
    except Conflict as exc:
        # It moved on meanwhile (another retry queued it, say): show it as it is now.
        await session.rollback()
        error = visitor.t("deliveries.retry_failed", reason=visitor.say(exc.message))
        return await _detail(visitor, session, delivery_id, status=409, error=error)
    await session.commit()
    state.wake_workers()
    return RedirectResponse(f"/deliveries/{delivery_id}?notice=retried", status_code=303)
