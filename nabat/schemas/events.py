"""Events in (``POST /api/v1/events``) and the record of what each became."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from nabat.schemas.base import ApiModel, StrictApiModel


def _text(value: object) -> object:
    """Numbers and booleans where text is wanted are taken as their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _labels(value: object) -> object:
    if isinstance(value, dict):
        return {key: _text(item) for key, item in value.items()}
    return value


Text = Annotated[str, BeforeValidator(_text)]


class SourceIn(StrictApiModel):
    """Where the event comes from: a service, a monitor, a device."""

    name: Text | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, max_length=2000)


class SubjectIn(StrictApiModel):
    """What the event is about."""

    object_type: Text | None = Field(default=None, max_length=200)
    object_id: Text | None = Field(default=None, max_length=200)
    title: Text | None = Field(default=None, max_length=1000)
    status: Text | None = Field(default=None, max_length=100)
    previous_status: Text | None = Field(default=None, max_length=100)


class EventIn(StrictApiModel):
    """One event. Only ``type`` is required."""

    type: str = Field(min_length=1, max_length=100)
    severity: str = Field(default="INFO", max_length=32)
    source: SourceIn = Field(default_factory=SourceIn)
    subject: SubjectIn = Field(default_factory=SubjectIn)
    message: str = Field(default="", max_length=20_000)
    labels: Annotated[dict[str, str], BeforeValidator(_labels)] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None
    dedup_key: str | None = Field(default=None, max_length=300)
    recipients: list[Text] | None = Field(default=None, max_length=100)
    channel_ids: list[int] | None = Field(default=None, max_length=20)


class EventBatchIn(StrictApiModel):
    """``POST /api/v1/events/batch``: up to 1,000 events, all accepted or none."""

    events: list[EventIn] = Field(min_length=1, max_length=1000)


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
