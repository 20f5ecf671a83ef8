"""Routing rule shapes: ``/api/v1/rules``.

``match``, ``actions`` and ``throttle`` arrive as plain JSON and are checked by
``nabat.routing.rules`` (one set of rules for the API, the console and stored rows); the
answer shows the normalised form, which may be sent back as is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel

MAX_POSITION = 1_000_000

_MATCH = (
    'What the rule catches; every part given must hold. {"types": ["service.*"], '
    '"severities": ["ERROR", "CRITICAL"], "labels": [{"name": "env", "op": "=", '
    '"value": "prod"}] or {"env": "prod"}, "source": "uptime" or a matcher}. '
    "Empty: every event."
)
_ACTIONS = (
    'Where to deliver: [{"channelId": 1, "recipients": ["alice", "ops@example.org"], '
    '"templateId": null, "fallbackChannelIds": [2, 3]}]; empty recipients: the channel\'s '
    "own destination; fallbackChannelIds (optional): the channels tried in order when the "
    "first fails permanently, is disabled or its circuit is open."
)
_THROTTLE = (
    'At most one delivery per group per interval: {"repeatIntervalSeconds": 600, '
    '"groupBy": ["type", "source"]}; null: no throttle.'
)
_CONTINUE = "After this rule matches, go on to the next rules (false: stop here)."


class RuleCreate(StrictApiModel):
    """``POST /api/v1/rules``."""

    name: str = Field(max_length=200)
    position: int | None = Field(
        default=None, ge=0, le=MAX_POSITION, description="Order of evaluation; default: last."
    )
    enabled: bool = True
    match: dict[str, Any] = Field(default_factory=dict, description=_MATCH)
    actions: list[Any] = Field(description=_ACTIONS)
    throttle: dict[str, Any] | None = Field(default=None, description=_THROTTLE)
    continue_: bool = Field(default=False, alias="continue", description=_CONTINUE)


class RuleUpdate(StrictApiModel):
    """``PUT /api/v1/rules/{id}``: any subset of the fields.

    ``null`` leaves a field as it is, except ``throttle``, where it removes the throttle.
    The read-only fields are accepted and ignored, so a client may send back what it read.
    """

    id: int | None = Field(default=None, description="Ignored.")
    created_at: datetime | None = Field(default=None, description="Ignored.")
    updated_at: datetime | None = Field(default=None, description="Ignored.")

    name: str | None = Field(default=None, max_length=200)
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)
    enabled: bool | None = None
    match: dict[str, Any] | None = Field(default=None, description=_MATCH)
    actions: list[Any] | None = Field(default=None, description=_ACTIONS)
    throttle: dict[str, Any] | None = Field(default=None, description=_THROTTLE)
    continue_: bool | None = Field(default=None, alias="continue", description=_CONTINUE)


class MatcherOut(ApiModel):
    """One ``name op value`` test."""

    name: str
    op: str
    value: str


class MatchOut(ApiModel):
    """A rule's match, normalised: source matchers are always named ``source``."""

    types: list[str]
    severities: list[str]
    labels: list[MatcherOut]
    source: list[MatcherOut]


class ActionOut(ApiModel):
    """Deliver over one channel, to these recipients, with this template (or the default)."""

    channel_id: int
    recipients: list[str]
    template_id: int | None
    fallback_channel_ids: list[int] = Field(default_factory=list)


class ThrottleOut(ApiModel):
    """At most one delivery per group of events per interval."""

    repeat_interval_seconds: int
    group_by: list[str]


class RuleOut(ApiModel):
    """A rule as stored."""

    id: int
    name: str
    position: int
    enabled: bool
    match: MatchOut
    actions: list[ActionOut]
    throttle: ThrottleOut | None
    continue_: bool = Field(alias="continue")
    created_at: datetime
    updated_at: datetime
