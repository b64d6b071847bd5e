"""Statuses are StrEnums with a CHECK constraint (migration 0006), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import FormStatus, InboundEvent, InboxStatus, User, UserStatus
from storage.models.status import STATUSES

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def _indexes(db: Database) -> set[tuple[str, str]]:
    if not db.is_sqlite:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    async with db.read() as session:
        return {(str(a), str(b)) for a, b in (await session.execute(text(sql))).all()}


async def _downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.url)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


def test_a_status_is_its_string() -> None:
    assert UserStatus.ACTIVE == "active" and f"{FormStatus.QUEUED}" == "queued"
    assert set(STATUSES) >= {"users", "outbox", "inbound_events", "conversation_states"}


async def test_migration_adds_the_checks_and_keeps_every_index(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db, "0005")
        before = await _indexes(db)
        async with db.transaction() as session:
            session.add(User(name="张三", status="pending", created_at=NOW, updated_at=NOW))
        await upgrade(db, "0006")  # later migrations may add indexes of their own
        assert await current_revision(db) == "0006"
        assert await _indexes(db) == before  # partial and expression indexes survive the table copy
        async with db.transaction() as session:  # rows kept
            assert (await session.execute(text("SELECT status FROM users"))).scalar_one() == "pending"
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                session.add(User(name="李四", status="on_leave", created_at=NOW, updated_at=NOW))
        async with db.transaction() as session:
            for member in UserStatus:
                session.add(User(name=f"u-{member}", status=member, created_at=NOW, updated_at=NOW))
        event = {"channel": "console", "kind": "text", "user_key": "u", "payload": {}, "received_at": NOW}
        async with db.transaction() as session:
            session.add(InboundEvent(event_id="ok", status=InboxStatus.FAILED, **event))
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                session.add(InboundEvent(event_id="bad", status="handled", **event))
        await _downgrade(db, "0005")
        assert await _indexes(db) == before
        async with db.transaction() as session:
            session.add(User(name="王五", status="on_leave", created_at=NOW, updated_at=NOW))
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM users WHERE status = 'on_leave'"))
        await upgrade(db, "0006")
    finally:
        await db.dispose()


def test_the_migration_allows_exactly_the_enum_values() -> None:
    """Migration 0006 freezes the value sets; they must match the enums the code writes."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "storage" / "migrations" / "versions" / "0006_status_checks.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert {t: set(v) for t, v in migration.STATUSES.items()} == {
        t: {m.value for m in enum} for t, enum in STATUSES.items()
    }
