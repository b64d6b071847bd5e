"""A feature brings its own periodic job on the registry; the scheduler runs it at its time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.testing import BotHarness
from domain import health
from domain.jobs import AppLike, RunContext
from handlers.registry import Registry, build_registry
from scheduler import jobs as scheduler_jobs
from scheduler.service import Scheduler
from storage.models import JobRun
from tests.structure.jobkit import JOBKIT_MODULES, REMINDER

# The harness starts on Monday 2026-11-23 09:00 in Asia/Shanghai.


async def test_a_features_job_runs_at_its_cron_time(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, modules=JOBKIT_MODULES) as bot:
        await bot.tick()  # last Friday's run is caught up at the first tick, before anyone is there
        await bot.add_user("wanglei", "王磊")
        await bot.tick()
        assert REMINDER not in bot.texts_to("wanglei")
        await bot.advance(timedelta(days=4, hours=7, minutes=59))  # Friday 16:59
        assert REMINDER not in bot.texts_to("wanglei")
        await bot.advance(timedelta(minutes=1))  # Friday 17:00
        assert bot.texts_to("wanglei").count(REMINDER) == 1
        await bot.advance(timedelta(hours=1))
        assert bot.texts_to("wanglei").count(REMINDER) == 1  # once per period
        async with bot.app.db.read() as session:
            runs = (
                await session.execute(select(JobRun).where(JobRun.job == "weekly-report-reminder"))
            ).scalars()
            assert [(r.period, r.status) for r in runs] == [
                ("2026-11-20T17:00", "done"),
                ("2026-11-27T17:00", "done"),
            ]
            # `actionflow status` lists it with the built-in jobs.
            listed = {j.job: j.period for j in (await health.snapshot(session, bot.clock.now())).jobs}
        assert listed["weekly-report-reminder"] == "2026-11-27T17:00"
        assert {"stale-customers", "morning-digest", "rebates", "ledger-head"} <= set(listed)


async def test_a_schedule_can_come_from_the_settings(tmp_path: Path) -> None:
    runs: list[datetime] = []

    async def job(app: AppLike, ctx: RunContext) -> None:
        runs.append(ctx.scheduled_for)

    registry = Registry()
    registry.job("follows-the-settings", lambda s: s.alerts.stale_scan_cron, job)
    async with BotHarness(tmp_path, jobs=False, alerts={"stale_scan_cron": "45 14 * * *"}) as bot:
        scheduler = Scheduler(bot.app.db, bot.clock, bot.settings.app.timezone, holder="test")
        scheduler_jobs.register(scheduler, bot.app, registry.jobs.values())
        await scheduler.tick()
        assert [t.strftime("%d %H:%M") for t in runs] == ["22 14:45"]  # yesterday's, caught up
        bot.clock.advance(timedelta(hours=5, minutes=44))  # 14:44
        await scheduler.tick()
        assert len(runs) == 1
        bot.clock.advance(timedelta(minutes=1))  # 14:45
        await scheduler.tick()
        assert [t.strftime("%d %H:%M") for t in runs] == ["22 14:45", "23 14:45"]
        await scheduler.close()


def test_a_job_name_is_declared_once() -> None:
    registry = build_registry(("tests.structure.jobkit",))
    scheduler_jobs.setup(registry)  # the built-in jobs are declared the same way, on the same object
    assert {"weekly-report-reminder", "stale-customers", "ledger-head"} <= set(registry.jobs)
    with pytest.raises(ValueError, match="weekly-report-reminder"):
        registry.job("weekly-report-reminder", "0 9 * * *", registry.jobs["stale-customers"].fn)
