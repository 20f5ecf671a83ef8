"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import TypeDecorator, TypeEngine


class _SQLiteUTC(SQLITE_DATETIME):
    """SQLite's DATETIME, written by one C-level call instead of its Python formatting.

    The text is exactly what SQLAlchemy writes (``YYYY-MM-DD HH:MM:SS.ffffff``, always
    six fraction digits), so stored values keep comparing correctly as text. Values
    reach it already naive UTC (see :class:`UTCDateTime`).
    """

    def bind_processor(self, dialect: Dialect) -> Any:
        """Format with ``isoformat``."""

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            return value.isoformat(sep=" ", timespec="microseconds")

        return process


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out.

    SQLite keeps no time zone, so values come back naive; this restores UTC and refuses
    naive values on write, which would otherwise be silently misread.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """SQLite gets the faster writer; other databases their own DateTime."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteUTC())  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
