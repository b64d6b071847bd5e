"""The scheduler core: one run per period, catch-up after downtime, nothing twice across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core.clock import ManualClock
from scheduler.service import RunContext, Scheduler, validate_cron
from storage.db import Database
from storage.migrate import upgrade
from storage.models import JobRun


async def _scheduler(db: Database, clock: ManualClock, runs: list[str], holder: str = "a") -> Scheduler:
    sched = Scheduler(db, clock, "Asia/Shanghai", holder=holder)

    async def job(ctx: RunContext) -> None:
        runs.append(ctx.period)

    sched.add_periodic("digest", "30 8 * * *", job)
    return sched


async def test_daily_job_runs_once_per_period_and_catches_up_once(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # 08:00 Shanghai
    runs: list[str] = []
    sched = await _scheduler(db, clock, runs)
    await sched.tick()
    # The previous day's 08:30 had no run recorded: it is caught up once at first start.
    assert runs == ["2026-11-22T08:30"]
    await sched.tick()
    assert runs == ["2026-11-22T08:30"]
    clock.advance(timedelta(minutes=29))  # 08:29
    await sched.tick()
    assert len(runs) == 1
    clock.advance(timedelta(minutes=1))  # 08:30
    await sched.tick()
    await sched.tick()
    assert runs[-1] == "2026-11-23T08:30" and len(runs) == 2
    # Down for three days: only the latest missed period runs, once.
    clock.advance(timedelta(days=3, hours=2))
    restarted = await _scheduler(db, clock, runs, holder="b")
    await restarted.tick()
    await restarted.tick()
    assert runs[2:] == ["2026-11-26T08:30"]
    async with db.read() as s:
        rows = list((await s.execute(select(JobRun).order_by(JobRun.period))).scalars())
    assert [r.status for r in rows] == ["done", "done", "done"]
    await db.dispose()


async def test_two_schedulers_on_one_database_run_each_period_once(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 23, 0, 31, tzinfo=UTC))
    runs: list[str] = []
    a = await _scheduler(db, clock, runs, "a")
    b = await _scheduler(db, clock, runs, "b")
    for _ in range(3):
        await a.tick()
        await b.tick()
    assert runs == ["2026-11-23T08:30"]
    await db.dispose()


async def test_failed_job_is_recorded(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    sched = Scheduler(db, clock, "Asia/Shanghai")

    async def broken(ctx: RunContext) -> None:
        raise RuntimeError("ERP unreachable")

    sched.add_periodic("rebates", "0 2 * * *", broken)
    await sched.tick()
    async with db.read() as s:
        row = (await s.execute(select(JobRun))).scalar_one()
    assert row.status == "failed" and "ERP unreachable" in row.error
    await db.dispose()


def test_cron_validation() -> None:
    assert validate_cron("30 8 * * *") is None
    assert validate_cron("61 8 * * *") is not None
    assert validate_cron("0 0 30 2 *") == "it never fires: no such date"
    assert validate_cron("0 0 29 2 *", "Asia/Shanghai") is None


async def test_a_job_whose_schedule_breaks_at_tick_does_not_stop_the_others(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 23, 0, 31, tzinfo=UTC))  # 08:31 Shanghai
    runs: list[str] = []
    told: list[tuple[str, str]] = []
    sched = Scheduler(db, clock, "Asia/Shanghai")

    async def never(ctx: RunContext) -> None:
        raise AssertionError("a job with an unreadable schedule must not run")

    async def job(ctx: RunContext) -> None:
        runs.append(ctx.period)

    async def on_failed(job: str, period: str, error: str) -> None:
        told.append((job, error))

    sched.on_job_failed = on_failed
    # Added first, so it is reached first on every tick (register() would have refused it at start).
    sched.add_periodic("broken", "61 * * * *", never)
    sched.add_periodic("digest", "30 8 * * *", job)
    assert await sched.tick() == ["digest@2026-11-23T08:30"]
    clock.advance(timedelta(days=1))
    await sched.tick()
    assert runs == ["2026-11-23T08:30", "2026-11-24T08:30"]
    assert [name for name, _ in told] == ["broken", "broken"]
    assert "'61 * * * *'" in told[0][1]  # the incident report names the crontab
    assert await sched.skip_current_periods() == []  # the demo's skip survives it too
    await db.dispose()


async def _statuses(db: Database) -> list[tuple[str, str, str]]:
    async with db.read() as s:
        rows = (await s.execute(select(JobRun).order_by(JobRun.period, JobRun.job))).scalars()
        return [(r.period, r.job, r.status) for r in rows]


async def test_a_job_that_does_not_catch_up_skips_a_period_missed_by_more_than_an_hour(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday 09:00 Shanghai
    runs: list[str] = []
    sched = Scheduler(db, clock, "Asia/Shanghai")

    async def reminder(ctx: RunContext) -> None:
        runs.append(ctx.period)

    sched.add_periodic("friday-reminder", "0 17 * * 5", reminder, catch_up=False)
    sched.add_periodic("caught-up", "0 17 * * 5", reminder)
    # First start on a Monday: last Friday's reminder is not sent now, only the other job's.
    assert await sched.tick() == ["caught-up@2026-11-20T17:00"]
    await sched.tick()
    assert runs == ["2026-11-20T17:00"]
    async with db.read() as s:
        skipped = (await s.execute(select(JobRun).where(JobRun.job == "friday-reminder"))).scalar_one()
    assert (skipped.period, skipped.status) == ("2026-11-20T17:00", "skipped")
    # Friday: down from 16:00, back at 17:59 (within the hour) — this Friday's runs, late.
    clock.advance(timedelta(days=4, hours=8, minutes=59))
    assert await sched.tick() == ["friday-reminder@2026-11-27T17:00", "caught-up@2026-11-27T17:00"]
    # The next Friday the bot is back at 18:01: too late for the reminder, which is skipped.
    clock.advance(timedelta(days=7, minutes=2))
    assert await sched.tick() == ["caught-up@2026-12-04T17:00"]
    assert await _statuses(db) == [
        ("2026-11-20T17:00", "caught-up", "done"),
        ("2026-11-20T17:00", "friday-reminder", "skipped"),
        ("2026-11-27T17:00", "caught-up", "done"),
        ("2026-11-27T17:00", "friday-reminder", "done"),
        ("2026-12-04T17:00", "caught-up", "done"),
        ("2026-12-04T17:00", "friday-reminder", "skipped"),
    ]
    await db.dispose()


async def test_a_job_whose_claim_fails_does_not_stop_the_jobs_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 27, 9, 5, tzinfo=UTC))  # Friday 17:05 Shanghai
    runs: list[str] = []
    told: list[tuple[str, str, str]] = []
    sched = Scheduler(db, clock, "Asia/Shanghai")

    async def job(ctx: RunContext) -> None:
        runs.append(ctx.job)

    async def on_failed(job: str, period: str, error: str) -> None:
        told.append((job, period, error))

    sched.on_job_failed = on_failed
    sched.add_periodic("digest", "0 17 * * 5", job)
    sched.add_periodic("friday-reminder", "0 17 * * 5", job, catch_up=False)
    real_claim = sched.claim
    locked_once = ["digest"]

    async def claim(name: str, period: str) -> bool:
        if name in locked_once:  # SQLite busy for this one claim
            locked_once.remove(name)
            raise OperationalError("INSERT INTO job_runs", {}, Exception("database is locked"))
        return await real_claim(name, period)

    monkeypatch.setattr(sched, "claim", claim)
    # The reminder behind the failed claim is still sent in this tick, within its hour.
    assert await sched.tick() == ["friday-reminder@2026-11-27T17:00"]
    assert runs == ["friday-reminder"]
    [(name, period, error)] = told
    assert (name, period) == ("digest", "2026-11-27T17:00") and "database is locked" in error
    # The next tick runs the period whose claim failed, once.
    clock.advance(timedelta(minutes=1))
    assert await sched.tick() == ["digest@2026-11-27T17:00"]
    assert await sched.tick() == []
    assert runs == ["friday-reminder", "digest"]
    await db.dispose()


async def test_an_abandoned_run_of_a_job_that_does_not_catch_up_is_failed_when_found_too_late(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await upgrade(db)
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # Friday 17:00 Shanghai
    runs: list[str] = []
    told: list[tuple[str, str, str]] = []

    async def reminder(ctx: RunContext) -> None:
        runs.append(ctx.period)

    async def on_failed(job: str, period: str, error: str) -> None:
        told.append((job, period, error))

    def scheduler(holder: str) -> Scheduler:
        sched = Scheduler(db, clock, "Asia/Shanghai", holder=holder)
        sched.add_periodic("friday-reminder", "0 17 * * 5", reminder, catch_up=False)
        sched.on_job_failed = on_failed
        return sched

    # The leader claims this Friday's reminder and its process dies mid-run.
    assert await scheduler("dead").claim("friday-reminder", "2026-11-27T17:00")
    # The next leader's first tick is at 18:30: too late to send it, and the run is not left running.
    clock.advance(timedelta(hours=1, minutes=30))
    sched = scheduler("next")
    assert await sched.tick() == []
    await sched.tick()
    async with db.read() as s:
        row = (await s.execute(select(JobRun))).scalar_one()
    assert (row.status, row.error) == ("failed", "abandoned, too late to rerun")
    assert told == [("friday-reminder", "2026-11-27T17:00", "abandoned, too late to rerun")]
    # A run abandoned and found within the hour (after the run timeout) is taken over and run.
    clock.advance(timedelta(days=6, hours=22, minutes=30))  # next Friday 17:00
    assert await scheduler("dead").claim("friday-reminder", "2026-12-04T17:00")
    clock.advance(timedelta(minutes=20))
    assert await scheduler("next").tick() == ["friday-reminder@2026-12-04T17:00"]
    assert runs == ["2026-12-04T17:00"]
    assert [status for _, _, status in await _statuses(db)] == ["failed", "done"]
    await db.dispose()
