"""Alembic environment: always driven from Nabat's code with a live connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import nabat.models  # noqa: F401  (registers every table on the metadata)
from nabat.db.base import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `nabat migrate`, which passes a connection")
_run(connection)
