"""Row ids as clients write them: only values the id columns can hold are ids at all."""

from __future__ import annotations

# INTEGER on PostgreSQL; a larger number cannot name a row, so it is simply not found
# (rather than an overflow error from the database).
MAX_ID = 2**31 - 1


def as_id(value: str | int) -> int | None:
    """The id ``value`` stands for, or ``None`` if it cannot be one."""
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdecimal()):
            return None
        value = int(value)
    return value if 0 < value <= MAX_ID else None
