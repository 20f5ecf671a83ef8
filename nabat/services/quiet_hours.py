"""A person's quiet hours: when, on their own clock, messages to their devices wait.

In their quiet hours a delivery to them over an external channel (e-mail, Telegram, SMS,
the bot) is held until the hours end, unless the event is CRITICAL; the in-app inbox
collects as always (:mod:`nabat.routing.personal`). They are the person's, not a
project's: every project they are in respects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.unit import after_commit
from nabat.errors import Conflict
from nabat.models.account import Membership
from nabat.models.preferences import QuietHours
from nabat.routing.quiet_hours import parse_hhmm
from nabat.sentences import Sentence
from nabat.services.project_settings import invalid
from nabat.services.routing_cache import CONTEXTS

ZONE_MAX = 64


@dataclass(frozen=True)
class QuietHoursView:
    """A person's quiet hours; ``time_zone``, ``starts`` and ``ends`` are ``None`` when
    they never set any."""

    enabled: bool
    time_zone: str | None
    starts: str | None
    ends: str | None


NONE_SET = QuietHoursView(enabled=False, time_zone=None, starts=None, ends=None)


def _view(row: QuietHours | None) -> QuietHoursView:
    if row is None:
        return NONE_SET
    return QuietHoursView(row.enabled, row.time_zone, row.starts, row.ends)


async def quiet_hours_of(session: AsyncSession, user_id: int) -> QuietHoursView:
    """The person's quiet hours (switched off, all ``None``, when never set)."""
    return _view(await session.get(QuietHours, user_id))


def _zone(time_zone: str) -> str:
    zone = time_zone.strip()
    hint = Sentence(
        "{zone!r} is not a time zone; give its IANA name, such as Europe/Moscow, "
        "Asia/Yekaterinburg or UTC",
        zone=zone,
    )
    # ``localtime`` is the server's own zone, not a place a person lives in.
    if not zone or len(zone) > ZONE_MAX or zone == "localtime":
        raise invalid("timeZone", hint)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid("timeZone", hint) from exc
    return zone


def _hhmm(field: str, value: str) -> str:
    clean = value.strip()
    if parse_hhmm(clean) is None:
        raise invalid(
            field,
            Sentence(
                "{value!r} is not a time of day; write it as HH:MM on a 24-hour clock, "
                "such as 22:00 or 07:30",
                value=value,
            ),
        )
    return clean


async def set_quiet_hours(
    session: AsyncSession,
    user_id: int,
    *,
    time_zone: str,
    starts: str,
    ends: str,
    enabled: bool,
) -> QuietHoursView:
    """Set a person's quiet hours and return them; the caller commits.

    ``starts`` and ``ends`` are ``HH:MM`` on the person's clock in ``time_zone`` (an IANA
    name); an end not later than the start crosses midnight (22:00–07:00). Raises
    :class:`ValidationFailed` for an unknown time zone, a time not written ``HH:MM``, or
    an end equal to the start.
    """
    zone = _zone(time_zone)
    start, end = _hhmm("starts", starts), _hhmm("ends", ends)
    if start == end:
        raise invalid(
            "ends",
            "must differ from starts; to have no quiet hours, set enabled to false",
        )
    row = await session.get(QuietHours, user_id)
    if row is None:
        row = QuietHours(user_id=user_id)
        session.add(row)
    row.time_zone, row.starts, row.ends, row.enabled = zone, start, end, enabled
    try:
        await session.flush()
    except IntegrityError as exc:
        # Another request made this person's quiet hours first.
        await session.rollback()
        raise Conflict(
            "another request changed your quiet hours at the same moment; read them and "
            "send your change again"
        ) from exc
    # Routing caches, per project, whether anyone there has quiet hours: every project
    # of this person must see the change.
    projects = await session.scalars(
        select(Membership.project_id).where(Membership.user_id == user_id)
    )
    for project_id in projects:
        after_commit(session, partial(CONTEXTS.forget, session, project_id))
    return _view(row)
