"""Per-project settings of the receivers for other tools (Grafana's signature check)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class IntegrationSettings(Base):
    """How one receiver (``kind``: ``grafana``, ``alertmanager``) checks what it gets.

    ``secret_sealed`` is the HMAC secret, encrypted like channel configurations; with no
    secret, no signature is required.
    """

    __tablename__ = "integration_settings"
    __table_args__ = (UniqueConstraint("project_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    signature_header: Mapped[str] = mapped_column(String(100))
    timestamp_header: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
