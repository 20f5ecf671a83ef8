"""deferred routing of batched events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 05:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("routed_at IS NULL")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
    # Every event stored so far was routed as it was accepted.
    op.execute("UPDATE events SET routed_at = received_at")
    op.create_index(
        "ix_events_pending",
        "events",
        ["id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_events_pending", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("routed_at")
