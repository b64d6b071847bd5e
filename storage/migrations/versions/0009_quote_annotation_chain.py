"""quote annotations become a second append-only hash chain; SQLite refuses INSERT OR REPLACE on the ledger

Annotations get ``seq``, ``prev_hash``, ``hash``, ``kind`` and ``quote_hash`` (existing rows are chained in
id order here). The database refuses UPDATE and DELETE on ``quote_annotations`` as it does on ``quotes``
(and TRUNCATE on PostgreSQL). On SQLite ``INSERT OR REPLACE`` deletes the conflicting row without firing
DELETE triggers (recursive triggers are off by default), so a BEFORE INSERT trigger refuses any insert
that would collide with an existing ledger row.

Revision ID: 0009
Revises: 0005
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "quotes are append-only: a quote cannot be changed or deleted; add a quote_annotation instead"
NOTES = "quote annotations are append-only: add another annotation instead"
REPLACE = "the quote ledger is append-only: an insert may not replace an existing row"
GENESIS = "0" * 64


def _time(value: object) -> str:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _chain_existing() -> None:
    """Hash the annotations written before this revision, oldest first (the same canonical form as
    domain.quotes.annotation_hash, written out here so later code changes cannot alter a migration)."""
    bind = op.get_bind()
    quotes: dict[int, str] = {int(i): str(h) for i, h in bind.execute(sa.text("SELECT id, hash FROM quotes"))}
    rows = bind.execute(
        sa.text("SELECT id, quote_id, author_id, text, created_at FROM quote_annotations ORDER BY id")
    ).all()
    prev = GENESIS
    for seq, (row_id, quote_id, author_id, body, created_at) in enumerate(rows, 1):
        payload = {
            "seq": seq,
            "prev_hash": prev,
            "created_at": _time(created_at),
            "quote_id": quote_id,
            "quote_hash": quotes.get(quote_id),
            "author_id": author_id,
            "kind": "correction",
            "text": body,
        }
        raw = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
        bind.execute(
            sa.text(
                "UPDATE quote_annotations SET seq = :seq, prev_hash = :prev, hash = :hash, "
                "quote_hash = :qh WHERE id = :id"
            ),
            {"seq": seq, "prev": prev, "hash": digest, "qh": quotes.get(quote_id), "id": row_id},
        )
        prev = digest


def upgrade() -> None:
    op.add_column("quote_annotations", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column(
        "quote_annotations",
        sa.Column("kind", sa.String(length=20), nullable=False, server_default="correction"),
    )
    op.add_column("quote_annotations", sa.Column("quote_hash", sa.String(length=64), nullable=True))
    op.add_column("quote_annotations", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("quote_annotations", sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing()
    op.create_index("ix_quote_annotations_seq", "quote_annotations", ["seq"], unique=True)
    op.create_index("ix_quote_annotations_hash", "quote_annotations", ["hash"], unique=True)

    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER quote_annotations_no_{action.lower()} BEFORE {action} ON quote_annotations "
                f"BEGIN SELECT RAISE(ABORT, '{NOTES}'); END"
            )
        op.execute(
            "CREATE TRIGGER quotes_no_replace BEFORE INSERT ON quotes WHEN EXISTS (SELECT 1 FROM quotes "
            "WHERE id = NEW.id OR seq = NEW.seq OR hash = NEW.hash) "
            f"BEGIN SELECT RAISE(ABORT, '{REPLACE}'); END"
        )
        op.execute(
            "CREATE TRIGGER quote_annotations_no_replace BEFORE INSERT ON quote_annotations WHEN EXISTS "
            "(SELECT 1 FROM quote_annotations WHERE id = NEW.id OR seq = NEW.seq OR hash = NEW.hash) "
            f"BEGIN SELECT RAISE(ABORT, '{REPLACE}'); END"
        )
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION quote_annotations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{NOTES} (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER quote_annotations_no_update_delete BEFORE UPDATE OR DELETE ON quote_annotations "
        "FOR EACH ROW EXECUTE FUNCTION quote_annotations_append_only()"
    )
    op.execute(
        "CREATE TRIGGER quote_annotations_no_truncate BEFORE TRUNCATE ON quote_annotations "
        "FOR EACH STATEMENT EXECUTE FUNCTION quote_annotations_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "quote_annotations_no_update",
            "quote_annotations_no_delete",
            "quotes_no_replace",
            "quote_annotations_no_replace",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS quote_annotations_no_truncate ON quote_annotations")
        op.execute("DROP TRIGGER IF EXISTS quote_annotations_no_update_delete ON quote_annotations")
        op.execute("DROP FUNCTION IF EXISTS quote_annotations_append_only()")
    op.drop_index("ix_quote_annotations_hash", table_name="quote_annotations")
    op.drop_index("ix_quote_annotations_seq", table_name="quote_annotations")
    with op.batch_alter_table("quote_annotations") as batch:
        for column in ("hash", "prev_hash", "quote_hash", "kind", "seq"):
            batch.drop_column(column)
