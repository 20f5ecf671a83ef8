"""Silence shapes: ``/api/v1/silences``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel
from nabat.schemas.inputs import AwareTimestamp
from nabat.schemas.rules import MatcherOut

_MATCHERS = (
    'All must hold for an event to be silenced: [{"name": "env", "op": "=", "value": "prod"}]; '
    "op is =, !=, =~ or !~ (Alertmanager's isRegex / isEqual are accepted instead of op). "
    "A name is a label or one of type, severity, source, objectType, objectId, status, "
    "channelId, channelType."
)


class SilenceCreate(StrictApiModel):
    """``POST /api/v1/silences``."""

    matchers: list[Any] = Field(description=_MATCHERS)
    starts_at: AwareTimestamp | None = Field(default=None, description="Default: now.")
    ends_at: AwareTimestamp
    comment: str = Field(description="Why; shown to whoever wonders why alerts went quiet.")
    author: str | None = Field(
        default=None, description='Default: your username, or "api-key:<id>" for an API key.'
    )


class SilenceUpdate(StrictApiModel):
    """``PUT /api/v1/silences/{id}``: any subset of the fields of a silence not yet expired.

    The read-only fields are accepted and ignored, so a client may send back what it read.
    """

    id: int | None = Field(default=None, description="Ignored.")
    created_at: datetime | None = Field(default=None, description="Ignored.")
    updated_at: datetime | None = Field(default=None, description="Ignored.")
    status: dict[str, Any] | None = Field(default=None, description="Ignored.")

    matchers: list[Any] | None = Field(default=None, description=_MATCHERS)
    starts_at: AwareTimestamp | None = None
    ends_at: AwareTimestamp | None = None
    comment: str | None = None
    author: str | None = None


class SilenceStatus(ApiModel):
    """Where the silence stands now: ``pending``, ``active`` or ``expired``."""

    state: str


class SilenceOut(ApiModel):
    """A silence as stored, with its state computed now."""

    id: int
    matchers: list[MatcherOut]
    starts_at: datetime
    ends_at: datetime
    comment: str
    author: str
    created_at: datetime
    updated_at: datetime
    status: SilenceStatus
