"""Storage contract: migrations, UTC-aware timestamps, SQLite settings, clear errors — on every backend."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from storage.db import Database, DatabaseUnavailable
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base, Customer, JobRun, User


async def test_migrations_build_the_whole_schema(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
        await upgrade(db)  # idempotent
    finally:
        await db.dispose()


async def test_models_and_migrations_agree(db_url: str) -> None:
    """Autogenerate finds nothing to do: every model change has a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(db_url)
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                )
            )
        assert diff == []
    finally:
        await db.dispose()


async def test_timestamps_come_back_utc_aware(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        shanghai = timezone(timedelta(hours=8))
        written = datetime(2026, 11, 1, 9, 0, tzinfo=shanghai)
        async with db.transaction() as s:
            s.add(User(name="a", created_at=written, updated_at=written))
        async with db.read() as s:
            user = (await s.execute(select(User))).scalar_one()
        assert user.created_at == written
        assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == timedelta(0)
        assert user.created_at.hour == 1
        with pytest.raises(Exception, match="naive datetime"):
            async with db.transaction() as s:
                s.add(User(name="b", created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    finally:
        await db.dispose()


async def test_customer_last_update_is_indexed(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("customers"))
        assert any(i["column_names"] == ["last_update_at"] for i in indexes)
    finally:
        await db.dispose()


async def test_sqlite_runs_wal_with_immediate_write_transactions(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", busy_timeout_ms=4321)
    try:
        async with db.transaction() as s:
            mode = (await s.execute(text("PRAGMA journal_mode"))).scalar_one()
            sync = (await s.execute(text("PRAGMA synchronous"))).scalar_one()
            busy = (await s.execute(text("PRAGMA busy_timeout"))).scalar_one()
        async with db.read() as s:
            read_busy = (await s.execute(text("PRAGMA busy_timeout"))).scalar_one()
        # Writers wait for other processes in begin_immediate() (off the loop), readers in SQLite.
        assert (mode, sync, busy, read_busy) == ("wal", 1, 0, 4321)
        # A write transaction holds the write lock from its start: a second writer waits, then times out.
        await upgrade(db)
        other = sqlite3.connect(tmp_path / "w.db", timeout=0.1, isolation_level=None)
        async with db.transaction() as s:
            await s.execute(select(Customer))  # only a read so far
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
    finally:
        await db.dispose()


async def test_waiting_for_another_writer_keeps_the_loop_serving(tmp_path: Path) -> None:
    """SQLite runs on the loop's thread, so a writer waiting for another process's lock must wait with
    asyncio.sleep, not inside SQLite: other coroutines keep running, and the write goes through once
    the lock is released."""
    path = tmp_path / "busy.db"
    db = Database(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=5000)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        await upgrade(db)
        holder.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1
                if ticks == 50:
                    holder.execute("ROLLBACK")  # the other process finishes after we started waiting

        async def write() -> None:
            async with db.transaction() as s:
                s.add(JobRun(job="x", period="p", started_at=datetime(2026, 1, 1, tzinfo=UTC)))

        task = asyncio.create_task(ticker())
        await asyncio.wait_for(write(), 5)
        task.cancel()
        assert ticks >= 50  # the loop ran while the write waited
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM job_runs"))).scalar_one() == 1
    finally:
        holder.close()
        await db.dispose()


async def test_missing_folder_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match=r"folder .* does not exist"):
        Database(f"sqlite+aiosqlite:///{tmp_path / 'nope' / 'x.db'}")


async def test_locked_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    db = Database(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=100)
    try:
        with pytest.raises(DatabaseUnavailable, match="locked by another process"):
            await db.check()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await db.dispose()


async def test_unreachable_postgres_gives_a_clear_error() -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailable, match="cannot connect"):
            await asyncio.wait_for(db.check(), 10)
    finally:
        await db.dispose()


def test_now_is_aware() -> None:
    from core.clock import ManualClock, SystemClock

    assert SystemClock().now().tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001
