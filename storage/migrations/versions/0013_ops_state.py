"""operations: the outbox records who holds a message being sent; the WeCom channel's cards, pending
approvals and delivery progress move from its side SQLite file into the main database

Revision ID: 0013
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=False, server_default=""))
    op.create_table(
        "wecom_cards",
        sa.Column("task_id", sa.String(length=128), primary_key=True),
        sa.Column("token", sa.String(length=200), nullable=False),
        sa.Column("userid", sa.String(length=200), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multi", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_wecom_cards_created_at", "wecom_cards", ["created_at"])
    op.create_table(
        "wecom_approvals",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("sp_no", sa.String(length=100), nullable=False),
        sa.Column("template_id", sa.String(length=200), nullable=False),
        sa.Column("create_time", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_wecom_approvals_pending",
        "wecom_approvals",
        ["created_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "wecom_deliveries",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("step", sa.String(length=40), primary_key=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_wecom_deliveries_created_at", "wecom_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_wecom_deliveries_created_at", table_name="wecom_deliveries")
    op.drop_table("wecom_deliveries")
    op.drop_index("ix_wecom_approvals_pending", table_name="wecom_approvals")
    op.drop_table("wecom_approvals")
    op.drop_index("ix_wecom_cards_created_at", table_name="wecom_cards")
    op.drop_table("wecom_cards")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
