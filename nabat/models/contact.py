"""Where a user can be reached on each kind of channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class ContactKind(StrEnum):
    """The kinds of address a user may give."""

    EMAIL = "EMAIL"
    TELEGRAM = "TELEGRAM"
    PHONE = "PHONE"


class ContactPoint(Base):
    """One address of a user: an e-mail address, a Telegram chat id, a phone number."""

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("user_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
