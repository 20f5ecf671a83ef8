"""Invitations to join a project, which the invited user accepts or declines."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from nabat.db.base import Base
from nabat.db.types import UTCDateTime


class InvitationStatus(StrEnum):
    """Where an invitation stands; a pending one past ``expires_at`` has expired."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"


class Invitation(Base):
    """A project's offer of a role to whoever ``invitee`` names.

    ``invitee`` is the id, username or e-mail address as the inviter wrote it (trimmed,
    lowercased); ``user_id`` is the account it named when it was sent, or empty when it
    named none. The row is kept either way, so that the project's view of its
    invitations never tells whether an account exists.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        # One open invitation per project and invitee: inviting again renews it.
        Index(
            "uq_invitations_one_pending",
            "project_id",
            "invitee",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    invitee: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
