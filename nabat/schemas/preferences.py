"""Preference shapes: a person's switches, the project's defaults, quiet hours."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nabat.schemas.base import ApiModel, StrictApiModel

# Generous bounds that only stop absurd bodies; the service words every real mistake.
SWITCHES_MAX = 5000


class SwitchOut(ApiModel):
    """One notification type over one channel kind."""

    kind: str = Field(description="email, inapp, telegram, sms or bot.")
    enabled: bool = Field(description="Whether such notifications are sent (effective).")
    source: Literal["own", "default", "builtin", "mandatory"] = Field(
        description="own: the person's switch; default: the project's default; builtin: "
        "nothing is set, so it is on; mandatory: the type cannot be switched off."
    )


class TypeSwitchesOut(ApiModel):
    """A notification type and its switch per channel kind."""

    type: str = Field(description="The notification type's key.")
    title: str = Field(description="In the project's language.")
    type_enabled: bool = Field(
        description="The project-wide switch: when off, nothing of this type is sent."
    )
    mandatory: bool = Field(description="Nobody can switch this type's notifications off.")
    switches: list[SwitchOut] = Field(description="One per kind, in the order of kinds.")


class PreferencesOut(ApiModel):
    """Every notification type × every channel kind the project's channels answer to."""

    kinds: list[str]
    types: list[TypeSwitchesOut]


class SwitchIn(StrictApiModel):
    """Set one switch; ``enabled: null`` drops it (back to the default)."""

    type: str = Field(max_length=200, description="A notification type's key.")
    kind: str = Field(max_length=64, description="email, inapp, telegram, sms or bot.")
    enabled: bool | None


class PreferencesUpdate(StrictApiModel):
    """``PUT …/preferences``: the switches to change; the others stay as they are."""

    switches: list[SwitchIn] = Field(max_length=SWITCHES_MAX)


class QuietHoursOut(ApiModel):
    """A person's quiet hours; all ``null`` and off when never set."""

    enabled: bool
    time_zone: str | None = Field(description="An IANA time zone, such as Europe/Moscow.")
    starts: str | None = Field(description="HH:MM on the person's clock.")
    ends: str | None = Field(
        description="HH:MM on the person's clock; not later than starts: crosses midnight."
    )


class QuietHoursUpdate(StrictApiModel):
    """``PUT /api/v1/users/me/quiet-hours``."""

    time_zone: str = Field(max_length=200)
    starts: str = Field(max_length=200)
    ends: str = Field(max_length=200)
    enabled: bool = True
