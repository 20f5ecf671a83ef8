"""Many rows in one statement, with their new ids back in order.

Events and deliveries arrive in thousands per transaction. SQLAlchemy's generic insert
converts every value through its type machinery on each row, which cost more than SQLite
spent storing the rows. Here each column's converter is looked up once per call, a value
repeated across rows (the batch's timestamp) is converted once, and SQLite gets the rows
in one ``executemany``. Other databases take SQLAlchemy's multi-row insert, which already
hands them the whole batch in a few statements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.db.types import UTCDateTime

Converter = Callable[[Any], Any]


def _converter(table: Table, name: str, session: AsyncSession) -> Converter | None:
    dialect = session.get_bind().dialect
    column_type = table.c[name].type
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


async def insert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, key: str = "public_id"
) -> list[int]:
    """Insert ``rows`` (all with the same keys) in the session's transaction; their ids.

    ``key`` names a unique column the rows carry, by which other databases' ids are
    matched back to the rows.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "sqlite":
        result = await session.execute(insert(table).returning(table.c.id, table.c[key]), rows)
        ids = {row_key: row_id for row_id, row_key in result}
        return [ids[row[key]] for row in rows]
    names = list(rows[0])
    converters = [(name, _converter(table, name, session)) for name in names]
    params = [
        tuple(
            [row[name] if convert is None else convert(row[name]) for name, convert in converters]
        )
        for row in rows
    ]
    quote = session.get_bind().dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    marks = ", ".join("?" for _ in names)
    # Table and column names come from the models, never from input; values are bound.
    statement = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608
    connection = await session.connection()
    await connection.exec_driver_sql(statement, params)
    # SQLite gives each new row one more than the table's largest id, and this
    # transaction holds the write lock from its first insert, so the rows just written
    # are the table's last len(rows) ids, in order.
    last = (await connection.execute(select(func.max(table.c.id)))).scalar()
    assert isinstance(last, int)
    return list(range(last - len(rows) + 1, last + 1))
