"""Invitation shapes: what a project sees of the invitations it sent, and what the
invited user sees of theirs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from nabat.schemas.auth import ProjectOut
from nabat.schemas.base import ApiModel


class InvitationSent(ApiModel):
    """``PUT /api/v1/members`` for someone who is not a member: the same answer whether or
    not an account answers to ``invitee``."""

    success: bool = True
    message: str
    invitation_id: int
    invitee: str = Field(description="The user as written in the request, lowercased.")
    role: str
    expires_at: datetime


class ProjectInvitationOut(ApiModel):
    """A pending invitation as its project sees it: nothing about any account."""

    id: int
    invitee: str
    role: str
    invited_by: int | None = Field(description="The inviting user's id; null for an API key.")
    created_at: datetime
    expires_at: datetime


class InvitationOut(ApiModel):
    """An invitation as the invited user sees it."""

    id: int
    project: ProjectOut
    role: str
    invited_by: str | None = Field(description="The inviting user's username, if any.")
    created_at: datetime
    expires_at: datetime
