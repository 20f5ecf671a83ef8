"""Events posted by producers, and the keys that make posting them idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class Event(Base):
    """Something that happened, as a producer told us, and what routing made of it.

    ``notes`` holds what routing could not do, each ``{"code", "message", ...}``
    (``USER_NOT_FOUND``, ``NO_ROUTE``, ...); the deliveries, suppressed ones included,
    are rows of their own. ``routed_at`` is empty while a batched event waits for the
    router; ``duplicate_of`` is the first event of a batched repeat.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_project_received", "project_id", "received_at"),
        Index("ix_events_project_dedup", "project_id", "dedup_key"),
        # Only the events waiting for the router: small, and new ids append at its end.
        Index(
            "ix_events_pending",
            "id",
            sqlite_where=text("routed_at IS NULL"),
            postgresql_where=text("routed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    subject: Mapped[dict[str, Any]] = mapped_column(JSON)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipients: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    channel_ids: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    dedup_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    last_repeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notes: Mapped[list[Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duplicate_of: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EventKey(Base):
    """An idempotency or deduplication key, held until ``expires_at``.

    ``key`` is ``idem:<Idempotency-Key>`` (its ``response`` is the first answer, replayed
    to repeats) or ``dedup:<digest>`` (its ``event_id`` is the first event, which counts
    the repeats).
    """

    __tablename__ = "event_keys"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(400))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=True
    )
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
