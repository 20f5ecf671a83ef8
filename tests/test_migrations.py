"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from nabat.db.base import Base
from nabat.db.engine import create_engine
from nabat.db.migrate import upgrade_to_head
from tests.conftest import Backend


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(backend: Backend) -> None:
    engine = create_engine(backend.url)
    try:
        await upgrade_to_head(engine)  # already at head: must be a no-op
        async with engine.connect() as connection:
            differences = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_sqlite_runs_in_wal_mode(backend: Backend) -> None:
    engine = create_engine(backend.url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                version = (await connection.execute(text("SHOW server_version"))).scalar()
                assert version
                return
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await engine.dispose()
    assert mode == "wal"
    assert keys == 1


async def test_processes_starting_together_on_a_new_sqlite_file_migrate_one_after_the_other(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    # Two engines stand for `nabat api` and `nabat worker` started at the same moment.
    engines = [create_engine(url), create_engine(url)]
    try:
        await asyncio.gather(*(upgrade_to_head(engine) for engine in engines))
        async with engines[1].connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        for engine in engines:
            await engine.dispose()
