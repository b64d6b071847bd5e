"""theme book: kept themes with examples and keywords, merges, and which demands were alerted

Revision ID: 0010
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demand_clusters") as batch:
        batch.add_column(sa.Column("examples", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("keywords", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("merged_into", sa.String(60), nullable=False, server_default=""))
        batch.add_column(sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("demands") as batch:
        batch.add_column(sa.Column("alerted_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demands") as batch:
        batch.drop_column("alerted_at")
    with op.batch_alter_table("demand_clusters") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("merged_into")
        batch.drop_column("keywords")
        batch.drop_column("examples")
