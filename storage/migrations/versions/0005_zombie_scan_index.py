"""zombie scans: index active customers by owner and by when they last had a deal

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_customers_active_owner_deal_base",
        "customers",
        ["owner_id", sa.text("coalesce(last_deal_at, lead_created_at, created_at)")],
        unique=False,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("ix_customers_active_owner_deal_base", table_name="customers")
