"""Who wants what: each person's switches per notification type and channel kind, the
project's defaults for them, and each person's quiet hours."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base


class PreferenceDefault(Base):
    """A project's default for one notification type over one channel kind."""

    __tablename__ = "preference_defaults"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    type_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel_kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class UserPreference(Base):
    """One person's switch for one notification type over one channel kind."""

    __tablename__ = "user_preferences"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    type_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel_kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class QuietHours(Base):
    """A person's quiet hours in their time zone (``starts``/``ends`` as ``HH:MM``; an
    interval that crosses midnight, 22:00–07:00, is allowed)."""

    __tablename__ = "quiet_hours"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64))
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
