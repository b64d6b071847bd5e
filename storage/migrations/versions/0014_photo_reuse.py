"""photos: a perceptual hash, and the earlier photo a reused picture matched

Revision ID: 0014
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reused_photo_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_photos_reused_photo_id_photos", "photos", ["reused_photo_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_constraint("fk_photos_reused_photo_id_photos", type_="foreignkey")
        batch_op.drop_column("reused_photo_id")
        batch_op.drop_column("phash")
