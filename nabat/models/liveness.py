"""Which delivery processes are alive: one row per boot, beaten while it runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class WorkerBeat(Base):
    """A running process that may own delivery leases, and when it last proved it.

    ``owner`` is the per-boot id written into ``deliveries.lease_owner``; a process that
    stops beating is dead, and its leases may be taken over at once (``delivery/queue``).
    """

    __tablename__ = "worker_beats"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
