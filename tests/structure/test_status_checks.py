"""Statuses are StrEnums with a CHECK constraint (migration 0006), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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


async def test_upgrading_a_sqlite_database_with_data_keeps_every_row(tmp_path: Path) -> None:
    """Rebuilding a table on SQLite drops it: with foreign keys on, ON DELETE CASCADE would take a
    user's roles and a customer's key persons with it. Every row survives the upgrade to head."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(db, "0005")
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO users (id, name, status, team, region, title, phone, preferred_channel,"
                    " created_at, updated_at) VALUES (1, '王磊', 'active', '', '', '', '', '', :t, :t)"
                ),
                {"t": NOW},
            )
            await session.execute(text("INSERT INTO user_roles (user_id, role) VALUES (1, 'rep')"))
            await session.execute(
                text(
                    "INSERT INTO customers (id, name, normalized_name, kind, grade, region, owner_id, stage, shared,"
                    " status, profile_complete, is_valid_lead, preferences, created_at, updated_at)"
                    " VALUES (1, '杭州一院', '杭州一院', '', '', '', 1, 'lead', 0, 'active', 0, 1, '', :t, :t)"
                ),
                {"t": NOW},
            )
            await session.execute(
                text(
                    "INSERT INTO key_persons (customer_id, role_group, name, title, phone, status, created_at,"
                    " updated_at) VALUES (1, '采购科', '刘建国', '主任', '', 'active', :t, :t)"
                ),
                {"t": NOW},
            )
        await upgrade(db)
        async with db.read() as session:
            counts = [
                (await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in ("users", "user_roles", "customers", "key_persons")
            ]
        assert counts == [1, 1, 1, 1]
    finally:
        await db.dispose()
