"""Input types with the one policy for times and numbers (see docs/api.md, "Input").

- A time is an ISO 8601 / RFC 3339 string, never a number (``since=1.6e-22`` is not a
  date); a time without an offset is UTC; after conversion to UTC it lies in the years
  1970 to 9999, which every database and every client can represent (out of range it
  is a 422 naming the field, not an overflow deep inside).
- A row id in a query or body fits the id columns (``MAX_ID``); a page number is bounded
  so that ``page × size`` stays a small integer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

from nabat.db.ids import MAX_ID

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
RANGE = "must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z once converted to UTC"
MAX_PAGE = 1_000_000

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive value is taken as UTC); ValueError when it falls outside
    the years 1970-9999 there."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(RANGE) from None
    if moment < EARLIEST:
        raise ValueError(RANGE)
    return moment


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("must be an ISO 8601 date-time such as 2026-12-01T09:30:00Z, not a number")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(in_utc)]
"""A time as clients send it; naive means UTC."""

AwareTimestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(in_utc)]
"""A time that must carry its UTC offset."""

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An id of a stored row."""

Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
"""A page number of a listing."""
