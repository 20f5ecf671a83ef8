"""Deliveries (the queue itself), their attempts, and each channel's running health."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class DeliveryStatus(StrEnum):
    """Where a delivery stands. QUEUED and FAILED are due for an attempt; SENDING is leased."""

    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    DEAD = "DEAD"
    SUPPRESSED = "SUPPRESSED"


class CircuitState(StrEnum):
    """A channel's circuit breaker: closed (sending), open (waiting), half-open (one trial)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class DeliveryKind(StrEnum):
    """Why a delivery exists."""

    NOTIFICATION = "notification"
    TEST = "test"
    HEALTH = "health"


class Delivery(Base):
    """One message to one recipient over one channel; the table is the work queue."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_project_created", "project_id", "created_at"),
        Index("ix_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), nullable=True, index=True
    )
    channel_type: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=True
    )
    rule_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Why a SUPPRESSED delivery was held back (TYPE_DISABLED, SILENCED, THROTTLED), and
    # the silence that did it; the sentence is in last_error.
    suppressed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    silence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default=DeliveryKind.NOTIFICATION.value)
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_failure_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A fallback chain: the hops still to try, in order ({channelId, channelType,
    # recipient}), and the hops left behind ({channelId, channelType, recipient, reason,
    # at}); both null for a delivery without a chain.
    fallback: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    hops: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class DeliveryAttempt(Base):
    """One try at a delivery, kept for the record."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(64))
    # The channel this attempt went out over (a chain's hops use several).
    channel_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ChannelHealth(Base):
    """A channel's run of failures, whether a failing incident is open, its circuit
    breaker, and its last scheduled check."""

    __tablename__ = "channel_health"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    circuit: Mapped[str] = mapped_column(
        String(16), default=CircuitState.CLOSED.value, server_default=CircuitState.CLOSED.value
    )
    # How often the circuit opened since it last closed: the open interval grows with it.
    circuit_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Open: when a trial may go. Half-open: until when the trial's holder has it.
    circuit_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_check_error: Mapped[str | None] = mapped_column(Text, nullable=True)
