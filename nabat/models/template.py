"""Message templates a project keeps, and its settings for messages and mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class Template(Base):
    """A project's wording for one notification type on one channel kind.

    ``type_key`` and ``channel_kind`` are what it replaces the default for; a rule action
    may also name a template by id. ``language`` None means any language.
    """

    __tablename__ = "templates"
    __table_args__ = (Index("ix_templates_project_type", "project_id", "type_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    type_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel_kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProjectSettings(Base):
    """A project's message language, seed 003's mail settings and its mail connection."""

    __tablename__ = "project_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), default="ru")
    from_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    from_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reply_to: Mapped[str | None] = mapped_column(String(320), nullable=True)
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
    allow_unregistered_recipients: Mapped[bool] = mapped_column(Boolean, default=False)
    # The project's outgoing-mail connection (seed 003: SMTP or EWS); deleting the channel
    # leaves the project without one.
    mail_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
