"""Reading people's preferences and quiet hours for routing, cheaply.

Routing reads a project's defaults with the rest of its cached context, along with
whether anyone in the project has a switch or quiet hours of their own; only then, and
only for the people a batch of events actually addresses, does it read theirs, in one
query per batch.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, cast, exists, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.models.account import Membership
from nabat.models.preferences import PreferenceDefault, QuietHours, UserPreference
from nabat.routing.personal import Personal
from nabat.routing.quiet_hours import QuietWindow, parse_hhmm


@dataclass(frozen=True)
class ProjectPreferences:
    """A project's defaults by (type key, channel kind), and whether any member has a
    switch or quiet hours of their own (when not, routing reads nothing per person)."""

    defaults: dict[tuple[str, str], bool]
    anyone: bool


async def project_preferences(session: AsyncSession, project_id: int) -> ProjectPreferences:
    """The project's defaults and whether anyone has settings of their own (two queries)."""
    rows = await session.execute(
        select(
            PreferenceDefault.type_key, PreferenceDefault.channel_kind, PreferenceDefault.enabled
        ).where(PreferenceDefault.project_id == project_id)
    )
    defaults = {(row[0], row[1]): row[2] for row in rows}
    switches = exists().where(UserPreference.project_id == project_id)
    quiet = exists().where(
        Membership.project_id == project_id,
        Membership.user_id == QuietHours.user_id,
        QuietHours.enabled,
    )
    anyone = bool(await session.scalar(select(or_(switches, quiet))))
    return ProjectPreferences(defaults, anyone)


def window_of(time_zone: str, starts: str, ends: str) -> QuietWindow | None:
    """Stored quiet hours as a window, or ``None`` if they no longer read as one (a time
    zone the system's database has since dropped): then they hold nothing back."""
    start, end = parse_hhmm(starts), parse_hhmm(ends)
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    if start is None or end is None:
        return None
    return QuietWindow(zone, start, end)


async def personal_for(
    session: AsyncSession,
    project_id: int,
    user_ids: Collection[int],
    preferences: ProjectPreferences,
) -> Personal:
    """The switches (in this project) and quiet hours of ``user_ids`` over the project's
    defaults: one query, none when nobody in the project has settings of their own."""
    defaults = preferences.defaults
    if not user_ids or not preferences.anyone:
        return Personal(defaults)
    ids = sorted(set(user_ids))
    # One round trip: switches and quiet hours as rows of one shape, told apart by
    # whether the switch's columns are set.
    switches = select(
        UserPreference.user_id,
        UserPreference.type_key,
        UserPreference.channel_kind,
        UserPreference.enabled,
        cast(null(), String(64)).label("time_zone"),
        cast(null(), String(5)).label("starts"),
        cast(null(), String(5)).label("ends"),
    ).where(UserPreference.project_id == project_id, UserPreference.user_id.in_(ids))
    quiet = select(
        QuietHours.user_id,
        cast(null(), String(100)),
        cast(null(), String(32)),
        QuietHours.enabled,
        QuietHours.time_zone,
        QuietHours.starts,
        QuietHours.ends,
    ).where(QuietHours.user_id.in_(ids), QuietHours.enabled)
    own: dict[int, dict[tuple[str, str], bool]] = {}
    windows: dict[int, QuietWindow] = {}
    for row in await session.execute(union_all(switches, quiet)):
        user_id, type_key, kind, enabled, time_zone, starts, ends = row
        if type_key is not None:
            own.setdefault(user_id, {})[(type_key, kind)] = enabled
            continue
        window = window_of(time_zone, starts, ends)
        if window is not None:
            windows[user_id] = window
    return Personal(defaults, own, windows)
