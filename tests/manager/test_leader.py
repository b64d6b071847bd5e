"""Only the leader runs jobs: a lease row on SQLite, an advisory lock on PostgreSQL; followers take over."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.testing import BotHarness
from scheduler.leader import AdvisoryLockLeader, LeaseLeader
from tests.manager.helpers import MONDAY_8, customer, team

STALE = "超时未跟进客户提醒"


def stale_count(*bots: BotHarness) -> int:
    return sum(STALE in t for bot in bots for t in bot.texts_to("wanglei"))


async def both_at(a: BotHarness, b: BotHarness, delta: timedelta) -> None:
    a.clock.advance(delta)
    b.clock.advance(delta)
    await asyncio.gather(a.app.tick(), b.app.tick())
    await asyncio.gather(a.app.idle(), b.app.idle())


async def test_sqlite_lease_follower_takes_over_when_the_leader_stops_renewing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    lease = {"lease_s": 7200}  # two hours, so the test can jump an hour between ticks
    async with (
        BotHarness(tmp_path, db_url=url, start=MONDAY_8, scheduler=lease) as a,
        BotHarness(tmp_path, db_url=url, start=MONDAY_8, scheduler=lease) as b,
    ):
        la, lb = a.app.scheduler.leader, b.app.scheduler.leader
        assert isinstance(la, LeaseLeader) and isinstance(lb, LeaseLeader)
        u = await team(a)
        await customer(a, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        assert await la.is_leader()
        assert not await lb.is_leader()
        await both_at(a, b, timedelta(hours=1))  # 09:00
        await both_at(a, b, timedelta(minutes=1))
        assert stale_count(a, b) == 1
        assert await la.is_leader() and not await lb.is_leader()
        # The leader hangs (no more ticks); once its lease has run out the follower leads.
        b.clock.advance(timedelta(minutes=119))
        assert not await lb.is_leader()
        b.clock.advance(timedelta(minutes=2))
        assert await lb.is_leader()
        a.clock.advance(timedelta(minutes=121))
        assert not await la.is_leader()
        await both_at(a, b, timedelta(days=1))
        assert stale_count(a, b) == 2


@pytest.mark.postgres
async def test_postgres_two_instances_run_each_alert_once_and_the_follower_takes_over(
    pg_url: str, tmp_path: Path
) -> None:
    async with (
        BotHarness(tmp_path / "a", db_url=pg_url, start=MONDAY_8) as a,
        BotHarness(tmp_path / "b", db_url=pg_url, start=MONDAY_8) as b,
    ):
        la, lb = a.app.scheduler.leader, b.app.scheduler.leader
        assert isinstance(la, AdvisoryLockLeader) and isinstance(lb, AdvisoryLockLeader)
        u = await team(a)
        await customer(a, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        assert await la.is_leader()
        assert not await lb.is_leader()
        for _ in range(3):
            await both_at(a, b, timedelta(minutes=30))  # through 09:00
        assert stale_count(a, b) == 2  # Sunday's catch-up and Monday 09:00, once each
        # The leader's lock connection dies: it stops leading at its next check; the follower takes over.
        admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", la.backend_pid)
        finally:
            await admin.close()
        assert not await la.is_leader()
        assert await lb.is_leader()
        assert not await la.is_leader()  # reconnected, but the lock is the follower's now
        await both_at(a, b, timedelta(days=1))
        await both_at(a, b, timedelta(minutes=30))
        assert stale_count(a, b) == 3
