"""Apply Alembic migrations from code (on start and by ``nabat migrate``)."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any fixed number: all Nabat processes agree on it to serialise migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 7_031_995


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config pointing at Nabat's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several API and worker processes may start together; one migrates, the rest wait.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the database schema up to date; a no-op when it already is.

    Processes starting together (``nabat api`` and ``nabat worker`` on a new database)
    migrate one after the other: on PostgreSQL under an advisory lock, on a SQLite file
    under an exclusive lock on a file beside it (SQLite means one machine).
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
        return
    with open(f"{database}.migrate-lock", "a") as lock:  # noqa: ASYNC230 - start-up only
        await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
