"""Notification type shapes."""

from __future__ import annotations

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel


class NotificationTypeOut(ApiModel):
    """A type: built in or the project's own, on or off."""

    key: str
    title: str = Field(description="In the project's language.")
    description: str = Field(description="In the project's language; empty when none.")
    titles: dict[str, str] = Field(description="The title in every language, by code.")
    enabled: bool
    custom: bool = Field(description="Made by this project rather than built in.")
    mandatory: bool = Field(
        description="People cannot switch this type's notifications off for themselves."
    )


class NotificationTypeCreate(StrictApiModel):
    """``POST /api/v1/notification-types``: a project's own type."""

    key: str = Field(description="Lowercase dot-separated parts, e.g. backup.failed.")
    title: str
    description: str | None = None
    enabled: bool = True


class NotificationTypeUpdate(StrictApiModel):
    """``PUT /api/v1/notification-types/{key}``: any subset; title and description only
    for the project's own types (``null`` clears a description)."""

    enabled: bool | None = None
    mandatory: bool | None = Field(
        default=None,
        description="True: people cannot switch this type's notifications off for "
        "themselves (their own switches and the project's defaults are then ignored).",
    )
    title: str | None = None
    description: str | None = None
