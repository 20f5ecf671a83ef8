"""Events in (``POST /api/v1/events``) and the record of what each became."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from nabat.schemas.base import ApiModel
from nabat.schemas.inputs import RowId, Timestamp

# Posted events are validated as typed dictionaries, entirely inside pydantic-core: model
# instances and Python validators took most of the time of accepting a batch. Numbers
# where text is wanted are taken as their text; true/false labels and subject fields too
# (turned into "true"/"false" by nabat.api.events.event_input).
_POSTED = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def _at_most(limit: int) -> Any:
    return Field(max_length=limit)


# Length limits sit on the text itself: on a union they would be checked in Python.
Text100 = Annotated[str, Field(max_length=100)] | bool | None
Text200 = Annotated[str, Field(max_length=200)] | bool | None
Text1000 = Annotated[str, Field(max_length=1000)] | bool | None


@with_config(_POSTED)
class SourceIn(TypedDict, total=False):
    """Where the event comes from: a service, a monitor, a device."""

    name: Annotated[str, _at_most(500)] | None
    url: Annotated[str, _at_most(2000)] | None


@with_config(_POSTED)
class SubjectIn(TypedDict, total=False):
    """What the event is about."""

    objectType: Text200
    objectId: Text200
    title: Text1000
    status: Text100
    previousStatus: Text100


@with_config(_POSTED)
class EventIn(TypedDict):
    """One event. Only ``type`` is required."""

    type: Annotated[str, Field(min_length=1, max_length=100)]
    severity: NotRequired[Annotated[str, _at_most(32)]]
    source: NotRequired[SourceIn]
    subject: NotRequired[SubjectIn]
    message: NotRequired[Annotated[str, _at_most(20_000)]]
    labels: NotRequired[dict[str, str | bool]]
    data: NotRequired[dict[str, Any]]
    occurredAt: NotRequired[Timestamp | None]
    dedupKey: NotRequired[Annotated[str, _at_most(300)] | None]
    recipients: NotRequired[Annotated[list[str | bool], _at_most(100)] | None]
    channelIds: NotRequired[Annotated[list[RowId], _at_most(20)] | None]


@with_config(_POSTED)
class EventBatchIn(TypedDict):
    """``POST /api/v1/events/batch``: up to 1,000 events, all accepted or none."""

    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


class EventOut(ApiModel):
    """An event as listed."""

    id: int
    idempotency_id: str
    origin: str
    type: str
    severity: str
    message: str
    source: dict[str, Any]
    subject: dict[str, Any]
    labels: dict[str, Any]
    dedup_key: str | None
    repeats: int
    last_repeat_at: datetime | None
    occurred_at: datetime
    received_at: datetime
    # PENDING: a batched event the router has not taken yet; ROUTED; or DUPLICATE: a
    # batched repeat of the event ``duplicate_of`` (counted on it, not delivered again).
    routing: str
    routed_at: datetime | None
    duplicate_of: int | None


class EventDelivery(ApiModel):
    """A delivery an event made, with why it was held back if it was."""

    id: int
    idempotency_id: str
    channel_id: int | None
    channel_type: str
    rule_id: int | None
    recipient: str | None
    status: str
    suppressed_by: str | None
    silence_id: int | None
    reason: str | None
    attempts: int
    sent_at: datetime | None


class EventDetail(EventOut):
    """One event: what it said and everything it became."""

    data: dict[str, Any]
    recipients: list[Any] | None
    channel_ids: list[Any] | None
    notes: list[dict[str, Any]]
    deliveries: list[EventDelivery]


class EventPage(ApiModel):
    """One page of events."""

    items: list[EventOut]
    total: int
    page: int
    size: int
