"""Leadership under faults, concurrent migrations, and a taken-over job that must not send twice."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.clock import ManualClock
from domain.notify import Notifier
from scheduler.context import Postman
from scheduler.leader import AdvisoryLockLeader, LeaseLeader, asyncpg_dsn
from storage.db import Database
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import OutboxMessage, User


@pytest.mark.postgres
async def test_a_frozen_postgres_leader_loses_the_lock_and_a_follower_takes_over(pg_url: str) -> None:
    dsn = asyncpg_dsn(pg_url)
    leader = AdvisoryLockLeader(dsn, "a", lease_s=2.0)
    follower = AdvisoryLockLeader(dsn, "b", lease_s=2.0)
    try:
        assert await leader.is_leader()
        assert not await follower.is_leader()
        # The leader freezes: it sends no keep-alive. The server ends its session after the lease.
        frozen_at = time.monotonic()
        while not await follower.is_leader():
            assert time.monotonic() - frozen_at < 10, "no takeover within 10 s of the freeze"
            await asyncio.sleep(0.25)
        took_over = time.monotonic() - frozen_at
        assert 1.5 < took_over < 5
        # The old leader wakes up: it gives up at once, before running anything.
        assert not leader.holds()
        assert not await leader.is_leader()
        assert follower.holds()
    finally:
        await leader.close()
        await follower.close()


async def test_a_sqlite_leader_that_was_paused_past_its_trust_window_does_not_hold(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    await upgrade(db)
    clock = ManualClock()
    leader = LeaseLeader(db, clock, "a", timedelta(seconds=0.5))
    assert await leader.is_leader() and leader.holds()
    await asyncio.sleep(0.45)  # no renewal for most of the lease
    assert not leader.holds()
    clock.advance(timedelta(seconds=1))
    assert await LeaseLeader(db, clock, "b", timedelta(seconds=10)).is_leader()
    assert not await leader.is_leader()
    await db.dispose()


async def test_concurrent_upgrades_of_an_empty_database_all_succeed(db_url: str) -> None:
    dbs = [Database(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(db) for db in dbs))
        assert await current_revision(dbs[0]) == head_revision()
    finally:
        for db in dbs:
            await db.dispose()


async def test_a_re_run_of_a_digest_to_a_route_does_not_fall_back_to_direct_messages(db_url: str) -> None:
    db = Database(db_url)
    await upgrade(db)
    clock = ManualClock()
    notifier = Notifier(("console",), {"主管群": "console"})
    for _ in range(2):  # the first run, then a run taken over as abandoned
        async with db.transaction() as session:
            post = Postman(session, notifier, clock.now(), {"managers": "主管群"}, "morning:2026-12-07T08:30")
            sent = await post.to_route("managers", "早报", "内容")
            assert sent  # queued before or now: either way the route reaches the managers
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        assert await session.scalar(select(func.count()).select_from(User)) == 0
    await db.dispose()


@pytest.mark.postgres
def test_three_db_upgrade_commands_at_once_on_an_empty_postgres_database(pg_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "actionflow.toml"
    cfg.write_text(f'[database]\nurl = "{pg_url}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "bot.cli.main", "--config", str(cfg), "db", "upgrade"]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-500:] for _, err in results]
    assert all(f"is at revision {head_revision()}" in out for out, _ in results)
