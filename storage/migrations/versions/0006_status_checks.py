"""statuses: a CHECK constraint on every status column (the values of storage.models.status)

Revision ID: 0006
Revises: 0005

SQLite cannot add a constraint to a table: batch mode copies each table into a new one with the
constraint. Its indexes (partial and expression ones included) are read back from sqlite_master and
created again as they were, since reflection does not carry every index over. PostgreSQL adds the
constraints in place.
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they are at this revision (a later change of a status set needs its own migration).
STATUSES: dict[str, tuple[str, ...]] = {
    "users": ("active", "pending", "inactive"),
    "pending_senders": ("pending", "approved", "rejected"),
    "customers": ("active", "inactive"),
    "key_persons": ("active", "replaced", "left"),
    "visits": ("planned", "approved", "done", "cancelled"),
    "conversation_states": ("active", "queued", "completed", "cancelled", "withdrawn", "expired"),
    "inbound_events": ("received", "done", "failed"),
    "outbox": ("pending", "sending", "sent", "dead"),
    "deadlines": ("pending", "done", "cancelled"),
    "job_runs": ("running", "done", "failed", "skipped"),
    "demands": ("open", "addressed"),
    "competitor_analyses": ("draft", "pending_review", "approved", "commented", "withdrawn"),
}


def _condition(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _sqlite_indexes(table: str) -> list[tuple[str, str]]:
    rows = op.get_bind().execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"),
        {"t": table},
    )
    return [(str(name), str(sql)) for name, sql in rows]


def _alter(table: str, change: str, values: tuple[str, ...]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    indexes = _sqlite_indexes(table) if sqlite else []
    with warnings.catch_warnings():
        # Reflection skips expression indexes with a warning; they are created again below.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table(table, recreate="always" if sqlite else "never") as batch:
            if change == "add":
                batch.create_check_constraint(op.f(f"ck_{table}_status"), _condition(values))
            else:
                batch.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
    for name, sql in indexes:
        op.execute(f'DROP INDEX IF EXISTS "{name}"')
        op.execute(sql)


def upgrade() -> None:
    for table, values in STATUSES.items():
        _alter(table, "add", values)


def downgrade() -> None:
    for table, values in STATUSES.items():
        _alter(table, "drop", values)
