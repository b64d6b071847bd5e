"""board: daily metric snapshots and one-time login links

Revision ID: 0012
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("compliance", sa.Float(), nullable=True),
        sa.Column("compliance_due", sa.Integer(), nullable=False),
        sa.Column("conversion", sa.Float(), nullable=True),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("freshness_hours", sa.Float(), nullable=True),
        sa.Column("valid_updates", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "scope", "key"),
    )
    op.create_table(
        "board_links",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("next_path", sa.String(length=300), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_board_links_user_id", "board_links", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_board_links_user_id", table_name="board_links")
    op.drop_table("board_links")
    op.drop_table("metric_snapshots")
