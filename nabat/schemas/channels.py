"""Channel shapes, exactly as seed 002 writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel


class ChannelCreate(StrictApiModel):
    """``POST /api/v1/notifications/channels``."""

    name: str = Field(max_length=200)
    type: str = Field(description="PYTHON_BOT, TELEGRAM, EMAIL, SLACK, WEBHOOK or DISCORD")
    configuration: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    is_default: bool = False
    check_interval_seconds: int = Field(
        default=0,
        ge=0,
        description=(
            "Seconds between scheduled checks of the channel (60 to 604800; 0: none). A type "
            "whose provider can be asked without a message (Telegram getMe, an SMTP login) is "
            "checked that way; any other gets a test message. The result raises "
            "channel.failing / channel.recovered. Read back in the channel's status."
        ),
    )


class ChannelUpdate(StrictApiModel):
    """``PUT /api/v1/notifications/channels/{id}``: any subset of the fields.

    The read-only fields of a channel are accepted and ignored, so a client may send back
    the whole object it read.
    """

    id: int | None = Field(default=None, description="Ignored.")
    created_at: datetime | None = Field(default=None, description="Ignored.")
    updated_at: datetime | None = Field(default=None, description="Ignored.")

    name: str | None = Field(default=None, max_length=200)
    type: str | None = None
    configuration: dict[str, Any] | None = None
    enabled: bool | None = None
    is_default: bool | None = None
    check_interval_seconds: int | None = Field(
        default=None, ge=0, description="Seconds between scheduled checks; 0 turns them off."
    )


class ChannelOut(ApiModel):
    """A channel as clients see it: secrets masked."""

    id: int
    name: str
    type: str
    configuration: dict[str, Any]
    enabled: bool
    is_default: bool
    created_at: datetime
    updated_at: datetime


class DeletedOut(ApiModel):
    """The answer to a delete."""

    success: bool = True
    message: str
