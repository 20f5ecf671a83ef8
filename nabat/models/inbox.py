"""The in-app inbox: one item per in-app delivery to a person, and the log of every change
to a person's inbox, which the live stream sends and resumes from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class InboxItem(Base):
    """A notification in a person's inbox (an ``INAPP`` delivery that reached them)."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_user", "user_id", "id"),
        Index("ix_inbox_items_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The delivery it came from (one item per delivery, however often it is settled).
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type_key: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Seen: shown in the bell's list; read: opened or marked read. Separate on purpose.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InboxChange(Base):
    """One change to a person's inbox, in order: its id is the live stream's event id.

    ``kind``: new, seen, read, unread, archived, unarchived, deleted, read_all.
    """

    __tablename__ = "inbox_changes"
    __table_args__ = (
        Index("ix_inbox_changes_user", "user_id", "id"),
        Index("ix_inbox_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
