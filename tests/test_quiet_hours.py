"""Quiet hours on a person's own wall clock: in or out, and when they end, across
midnight and across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nabat.routing.quiet_hours import QuietWindow, parse_hhmm

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")


def window(zone: ZoneInfo, starts: str, ends: str) -> QuietWindow:
    start, end = parse_hhmm(starts), parse_hhmm(ends)
    assert start is not None
    assert end is not None
    return QuietWindow(zone, start, end)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "read"),
    [("00:00", time(0, 0)), ("07:30", time(7, 30)), ("23:59", time(23, 59))],
)
def test_a_time_of_day_reads_as_hh_mm(text: str, read: time) -> None:
    assert parse_hhmm(text) == read


@pytest.mark.parametrize("text", ["24:00", "7:30", "07:60", "07:30:00", "0730", " 07:30", ""])
def test_anything_else_is_not_a_time_of_day(text: str) -> None:
    assert parse_hhmm(text) is None


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        # 23:30 in Moscow (UTC+3): the hours end tomorrow at 07:00 local.
        (utc(2026, 3, 10, 20, 30), utc(2026, 3, 11, 4, 0)),
        # 06:59 local: they end a minute later.
        (utc(2026, 3, 11, 3, 59), utc(2026, 3, 11, 4, 0)),
        # 22:00 local exactly: the start is included.
        (utc(2026, 3, 10, 19, 0), utc(2026, 3, 11, 4, 0)),
    ],
)
def test_hours_that_cross_midnight_end_at_the_next_morning(now: datetime, ends: datetime) -> None:
    assert window(MOSCOW, "22:00", "07:00").until(now) == ends


@pytest.mark.parametrize(
    "now",
    [
        utc(2026, 3, 11, 4, 0),  # 07:00 local: the end is not included
        utc(2026, 3, 11, 12, 0),  # 15:00 local
        utc(2026, 3, 10, 18, 59),  # 21:59 local
    ],
)
def test_outside_the_hours_nothing_waits(now: datetime) -> None:
    assert window(MOSCOW, "22:00", "07:00").until(now) is None


def test_hours_within_one_day_end_the_same_day() -> None:
    lunch = window(MOSCOW, "13:00", "14:00")
    assert lunch.until(utc(2026, 3, 10, 10, 15)) == utc(2026, 3, 10, 11, 0)
    assert lunch.until(utc(2026, 3, 10, 11, 0)) is None
    assert lunch.until(utc(2026, 3, 10, 9, 59)) is None


def test_the_night_the_clocks_go_forward_the_hours_end_at_seven_summer_time() -> None:
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST. 07:00 that morning is 05:00 UTC,
    # not 06:00: the night is an hour shorter.
    night = window(BERLIN, "22:00", "07:00")
    assert night.until(utc(2026, 3, 28, 22, 0)) == utc(2026, 3, 29, 5, 0)


def test_the_night_the_clocks_go_back_the_hours_end_at_seven_winter_time() -> None:
    # Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 07:00 is 06:00 UTC.
    night = window(BERLIN, "22:00", "07:00")
    assert night.until(utc(2026, 10, 24, 21, 0)) == utc(2026, 10, 25, 6, 0)


def test_an_end_the_clocks_skip_ends_when_they_jump() -> None:
    # 02:30 never happens in Berlin on 29 March 2026: the hours end at the jump, 01:00 UTC
    # (03:00 CEST), the first moment whose reading is past 02:30.
    night = window(BERLIN, "23:00", "02:30")
    assert night.until(utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 1, 0)


def test_an_end_the_clocks_repeat_ends_at_its_first_reading() -> None:
    # 02:30 happens twice in Berlin on 25 October 2026: first at 00:30 UTC (CEST).
    night = window(BERLIN, "23:00", "02:30")
    assert night.until(utc(2026, 10, 24, 22, 0)) == utc(2026, 10, 25, 0, 30)


def test_in_the_repeated_hour_after_the_first_end_they_end_at_its_second_reading() -> None:
    # 02:10 CET (01:10 UTC) reads as inside 01:00–02:30 again, the hour being repeated:
    # the first 02:30 is past, so they end at the second, 01:30 UTC.
    early = window(BERLIN, "01:00", "02:30")
    assert early.until(utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 25, 1, 30)
