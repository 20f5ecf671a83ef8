"""Many rows in few statements, with their new ids back in order.

Events and deliveries arrive in thousands per transaction. SQLAlchemy's generic insert
converts every value through its type machinery on each row, which cost more than SQLite
spent storing the rows; and ``executemany`` hands the GIL back and forth with the event
loop on every row. On SQLite the rows therefore go in as multi-row ``INSERT … VALUES``
statements of a fixed number of rows (so SQLite's statement cache keeps them compiled),
each stored by SQLite in one step with the GIL released. Each column's conversion is
looked up once per call, and a value repeated across rows (the batch's timestamp) is
converted once. Other databases take SQLAlchemy's multi-row insert, which already hands
them the whole batch in a few statements.

Converting is separate from inserting (:func:`prepare`, :func:`insert_prepared`) so that a
caller can convert before it takes the write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import JSON, Dialect, Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.engine import dump_json
from nabat.db.types import UTCDateTime

Converter = Callable[[Any], Any]

# Rows per statement: a fixed size lets one compiled statement serve every full chunk.
# SQLite binds at most 32,766 values per statement since 3.32, 999 before.
CHUNK_ROWS = 1000
MAX_VALUES = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


@dataclass
class Prepared:
    """Rows for one table, converted for the database when it is SQLite."""

    table: Table
    key: str
    # Other databases: the rows as dictionaries.
    rows: list[dict[str, Any]] = field(default_factory=list)
    # SQLite: the column names, and the rows' values in chunks of whole rows, flattened.
    names: list[str] | None = None
    chunks: list[tuple[Any, ...]] = field(default_factory=list)
    count: int = 0


# The JSON text of values most rows carry in some column (no notes, no recipients).
_COMMON_JSON = {type(None): "null", dict: "{}", list: "[]"}


def _json(value: Any) -> str:
    # What SQLAlchemy's JSON type binds (None as the JSON text 'null'), one call shorter.
    if not value and value.__class__ in _COMMON_JSON:
        return _COMMON_JSON[value.__class__]
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:
        return dump_json(value)


def _converter(table: Table, name: str, dialect: Dialect) -> Converter | None:
    column_type = table.c[name].type
    if isinstance(column_type, JSON) and not column_type.none_as_null:
        return _json
    process: Converter | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(column_type, UTCDateTime):
        return process
    converted: dict[Any, Any] = {}

    def once(value: Any) -> Any:
        # Every row of a batch carries the same "now"; format it once.
        if value not in converted:
            converted[value] = process(value)
        return converted[value]

    return once


def prepare(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, key: str = "public_id"
) -> Prepared:
    """Convert ``rows`` (all with the same keys) for the session's database; nothing is
    written. ``key`` names a unique column the rows carry, by which other databases' ids
    are matched back to the rows."""
    if not rows:
        return Prepared(table, key)
    names = list(rows[0])
    return prepare_values(session, table, names, [[row[n] for n in names] for row in rows], key=key)


def prepare_values(
    session: AsyncSession,
    table: Table,
    names: list[str],
    values: list[list[Any]],
    *,
    key: str = "public_id",
) -> Prepared:
    """:func:`prepare` for rows given as lists of values in the order of ``names`` (the
    lists are converted in place)."""
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return Prepared(table, key, rows=[dict(zip(names, row, strict=True)) for row in values])
    converters = [
        (index, convert)
        for index, name in enumerate(names)
        if (convert := _converter(table, name, dialect)) is not None
    ]
    for row in values:
        for index, convert in converters:
            row[index] = convert(row[index])
    per_chunk = min(CHUNK_ROWS, MAX_VALUES // len(names))
    chunks = [
        tuple(chain.from_iterable(values[start : start + per_chunk]))
        for start in range(0, len(values), per_chunk)
    ]
    return Prepared(table, key, names=names, chunks=chunks, count=len(values))


async def insert_prepared(session: AsyncSession, prepared: Prepared) -> list[int]:
    """Insert prepared rows in the session's transaction; their ids, in order."""
    table = prepared.table
    if prepared.names is None:
        if not prepared.rows:
            return []
        key, rows = prepared.key, prepared.rows
        result = await session.execute(insert(table).returning(table.c.id, table.c[key]), rows)
        ids = {row_key: row_id for row_id, row_key in result}
        return [ids[row[key]] for row in rows]
    if not prepared.count:
        return []
    quote = session.get_bind().dialect.identifier_preparer.quote
    width = len(prepared.names)
    # Table and column names come from the models, never from input; values are bound.
    head = (
        f"INSERT INTO {quote(table.name)} "  # noqa: S608
        f"({', '.join(quote(name) for name in prepared.names)}) VALUES "
    )
    one = "(" + ", ".join("?" * width) + ")"
    connection = await session.connection()
    for chunk in prepared.chunks:
        statement = head + ", ".join([one] * (len(chunk) // width))
        await connection.exec_driver_sql(statement, chunk)
    # SQLite gives each new row one more than the table's largest id, and this
    # transaction holds the write lock from its first insert, so the rows just written
    # are the table's last ``count`` ids, in order.
    count = prepared.count
    last = (await connection.execute(select(func.max(table.c.id)))).scalar()
    assert isinstance(last, int)
    return list(range(last - count + 1, last + 1))


async def insert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, key: str = "public_id"
) -> list[int]:
    """Insert ``rows`` (all with the same keys) in the session's transaction; their ids."""
    return await insert_prepared(session, prepare(session, table, rows, key=key))


def upsert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, for ON CONFLICT clauses."""
    dialect = session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert
