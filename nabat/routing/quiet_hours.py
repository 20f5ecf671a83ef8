"""A person's quiet hours: whether a moment falls in them, and when they end.

The hours are read on the person's own wall clock (``22:00``–``07:00`` in their time
zone), so they follow daylight-saving changes: the night the clocks go forward is an hour
shorter, the night they go back an hour longer. Two wall readings need a rule:

- an end that occurs twice (clocks going back) ends at its first occurrence after the
  moment asked about;
- an end that never occurs (clocks jumping over it) ends when the clocks jump, the first
  instant whose wall reading is past it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time | None:
    """``"07:30"`` as a time of day, or ``None`` when it is not ``HH:MM`` (00:00–23:59)."""
    found = _HHMM.match(text)
    if found is None:
        return None
    return time(int(found[1]), int(found[2]))


@dataclass(frozen=True)
class QuietWindow:
    """Daily quiet hours from ``starts`` to ``ends`` (crossing midnight when ``ends`` is
    not later than ``starts``) on the wall clock of ``zone``."""

    zone: ZoneInfo
    starts: time
    ends: time

    def until(self, now: datetime) -> datetime | None:
        """When the quiet hours ``now`` falls in end (aware, UTC), or ``None`` when
        ``now`` is outside them. The start is included, the end is not."""
        local = now.astimezone(self.zone)
        wall = local.time().replace(tzinfo=None)
        if self.starts < self.ends:
            if not self.starts <= wall < self.ends:
                return None
            day = local.date()
        elif wall >= self.starts:
            day = local.date() + timedelta(days=1)
        elif wall < self.ends:
            day = local.date()
        else:
            return None
        return _first_at(self.zone, day, self.ends, after=now)


def _first_at(zone: ZoneInfo, day: date, wall: time, *, after: datetime) -> datetime:
    """The first instant later than ``after`` whose reading on ``zone``'s wall clock is
    ``day`` at ``wall``, or the first one past it when the clocks skip it."""
    naive = datetime.combine(day, wall)
    # Both readings of an hour the clocks repeat (fold 0 is the first); for an ordinary
    # hour they are the same instant.
    readings = sorted(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    real = [
        instant
        for instant in readings
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant > after
    ]
    if real:
        return real[0]
    # Skipped: the jump lies between the two readings (with the offset before and after
    # it); find the first whole second whose wall reading is at or past ``wall``.
    low, high = readings
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
