"""fallback chains, circuit breakers and scheduled channel checks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallback", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("hops", sa.JSON(), nullable=True))
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
    # Every attempt so far went out over its delivery's one channel.
    op.execute(
        "UPDATE delivery_attempts SET channel_id = (SELECT channel_id FROM deliveries "
        "WHERE deliveries.id = delivery_attempts.delivery_id)"
    )
    with op.batch_alter_table("channel_health", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("circuit", sa.String(length=16), nullable=False, server_default="closed")
        )
        batch_op.add_column(
            sa.Column("circuit_opens", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("circuit_retry_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_check_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("last_check_error", sa.Text(), nullable=True))
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_interval_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("next_check_at")
        batch_op.drop_column("check_interval_seconds")
    with op.batch_alter_table("channel_health", schema=None) as batch_op:
        for column in (
            "last_check_error",
            "last_check_ok",
            "last_check_at",
            "circuit_retry_at",
            "circuit_opens",
            "circuit",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("hops")
        batch_op.drop_column("fallback")
