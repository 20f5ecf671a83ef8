"""Async engine and session factory for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes a second writer
    # wait instead of failing at once; NORMAL sync is durable across process crashes in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def dump_json(value: Any) -> str:
    """JSON for a JSON column: orjson (several times faster than the standard library on
    the hot path: every event and delivery row carries JSON), the standard library for
    what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(value)


# A run of 19 digits may be an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(r"\d{19}")
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")


def load_json(text: str | bytes) -> Any:
    """A JSON column's value: orjson, or the standard library where a number may be an
    integer beyond 64 bits (orjson would round it), so every value reads back exactly."""
    found = _LONG_NUMBER.search(text) if isinstance(text, str) else _LONG_NUMBER_BYTES.search(text)
    if found:
        return json.loads(text)
    return orjson.loads(text)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 5.0
) -> AsyncEngine:
    """Create the engine for ``url``; SQLite's directory is created when missing.

    ``pool_timeout``: how long a checkout waits for a free connection before it raises
    ``sqlalchemy.exc.TimeoutError`` (answered 503 with ``Retry-After``).
    """
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        in_memory = not parsed.database or parsed.database == ":memory:"
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            **({} if in_memory else pool),
            json_serializer=dump_json,
            json_deserializer=load_json,
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url,
        **pool,
        pool_pre_ping=True,
        json_serializer=dump_json,
        json_deserializer=load_json,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by services."""
    return async_sessionmaker(engine, expire_on_commit=False)
