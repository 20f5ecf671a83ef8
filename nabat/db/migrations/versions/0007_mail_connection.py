"""mail connection: the channel a project's own mail goes through (seed 003)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("project_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_channel_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_project_settings_mail_channel_id_channels"),
            "channels",
            ["mail_channel_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("project_settings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_project_settings_mail_channel_id_channels"), type_="foreignkey"
        )
        batch_op.drop_column("mail_channel_id")
