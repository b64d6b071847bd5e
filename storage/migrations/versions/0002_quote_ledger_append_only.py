"""quote ledger is append-only: the database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on quotes

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "quotes are append-only: a quote cannot be changed or deleted; add a quote_annotation instead"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER quotes_no_{action.lower()} BEFORE {action} ON quotes "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION quotes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER quotes_no_update_delete BEFORE UPDATE OR DELETE ON quotes "
        "FOR EACH ROW EXECUTE FUNCTION quotes_append_only()"
    )
    op.execute(
        "CREATE TRIGGER quotes_no_truncate BEFORE TRUNCATE ON quotes "
        "FOR EACH STATEMENT EXECUTE FUNCTION quotes_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS quotes_no_update")
        op.execute("DROP TRIGGER IF EXISTS quotes_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS quotes_no_truncate ON quotes")
    op.execute("DROP TRIGGER IF EXISTS quotes_no_update_delete ON quotes")
    op.execute("DROP FUNCTION IF EXISTS quotes_append_only()")
