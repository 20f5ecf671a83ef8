"""Send API, test sends, delivery record and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel
from nabat.schemas.inputs import RowId


class SendRequest(ApiModel):
    """PingTower's ``POST /api/v1/notifications/send`` body."""

    username: str | None = Field(default=None, max_length=320)
    service_name: str | None = Field(default=None, max_length=500)
    service_url: str | None = Field(default=None, max_length=2000)
    status: str = Field(max_length=32)
    severity: str = Field(default="INFO", max_length=32)
    message: str = Field(max_length=20_000)
    channel_id: RowId | None = None
    channel_type: str | None = Field(default=None, max_length=32)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SendBatchRequest(StrictApiModel):
    """``POST /api/v1/notifications/send/batch``: up to 1,000 notifications, all or none."""

    notifications: list[SendRequest] = Field(min_length=1, max_length=1000)


class SendResponse(ApiModel):
    """The notification is stored and routed: ``deliveryId`` is its first delivery (None
    when routing made none; ``notes`` say why), ``deliveries`` all of them."""

    success: bool = True
    message: str
    # The provider's own answer ("accepted for 1 of 1 recipients: 250 OK").
    detail: str = ""
    delivery_id: int | None
    idempotency_id: str | None
    event_id: int
    deliveries: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    timestamp: datetime


class SendBatchResponse(ApiModel):
    """Every notification of the batch is stored and queued."""

    success: bool = True
    message: str
    delivery_ids: list[int | None]
    event_ids: list[int]
    timestamp: datetime


class TestSendRequest(StrictApiModel):
    """Optional body of ``POST …/channels/{id}/test`` (seed 001's test form)."""

    message: str | None = Field(default=None, max_length=4000)
    username: str | None = Field(default=None, max_length=320)
    recipient: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=255)


class TestSendResponse(ApiModel):
    """The provider accepted the test message."""

    success: bool = True
    message: str
    # The provider's own answer ("accepted for 1 of 1 recipients: 250 OK").
    detail: str = ""
    delivery_id: int
    duration_ms: float


class AttemptOut(ApiModel):
    """One recorded attempt."""

    number: int
    started_at: datetime
    duration_ms: float
    outcome: str
    status_code: int | None
    failure_class: str | None
    reason: str
    channel_id: int | None = Field(description="The channel this attempt went out over.")


class DeliveryOut(ApiModel):
    """A delivery as listed."""

    id: int
    idempotency_id: str
    channel_id: int | None
    channel_type: str
    kind: str
    recipient: str | None
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_failure_class: str | None
    last_status_code: int | None
    provider_id: str | None
    subject: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    hops: list[dict[str, Any]] = Field(
        description="A fallback chain's channels left behind, in order, each with the "
        "reason it was left (channelId, channelType, recipient, failureClass, reason, at)."
    )
    fallback: list[dict[str, Any]] = Field(
        description="The chain's channels still to try, in order (channelId, channelType, "
        "recipient)."
    )


class DeliveryDetail(DeliveryOut):
    """A delivery with its content and every attempt."""

    content: dict[str, Any]
    attempt_log: list[AttemptOut]


class DeliveryPage(ApiModel):
    """One page of deliveries."""

    items: list[DeliveryOut]
    total: int
    page: int
    size: int
