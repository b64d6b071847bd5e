"""A feature brings its own periodic job on the registry; the scheduler runs it at its time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import common as cli_common
from bot.imports import StartupError
from bot.testing import BotHarness, make_settings
from config.settings import Settings
from domain import health
from domain.jobs import AppLike, RunContext, ScheduleError
from handlers.registry import Registry, build_registry
from scheduler import jobs as scheduler_jobs
from scheduler.service import Scheduler
from storage.models import JobRun, JobRunStatus
from tests.org.platforms import Dept, Staff, org_on
from tests.structure.jobkit import JOBKIT_MODULES, REMINDER
from tests.structure.rosterkit import ROSTER_SEEN, ROSTERKIT_MODULES

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


async def test_a_bad_crontab_fails_the_start_naming_the_job(tmp_path: Path) -> None:
    # Before: the bot started, then every tick raised and no periodic job ran again.
    harness = BotHarness(tmp_path, modules=(*JOBKIT_MODULES, "tests.structure.badcron"))
    with pytest.raises(StartupError, match=r"'hourly-check': '61 \* \* \* \*' is not a valid crontab"):
        await harness.app.start()
    await harness.app.stop()
    # A setting a built-in job reads is checked the same way.
    (tmp_path / "settings").mkdir()
    harness = BotHarness(tmp_path / "settings", alerts={"stale_scan_cron": "0 25 * * *"})
    with pytest.raises(StartupError, match=r"'stale-customers': '0 25 \* \* \*'"):
        await harness.app.start()
    await harness.app.stop()


def test_a_schedule_that_breaks_or_never_fires_fails_the_start_naming_the_job(tmp_path: Path) -> None:
    async def job(app: AppLike, ctx: RunContext) -> None:
        raise AssertionError("never scheduled: the start fails first")

    def typo(settings: Settings) -> str:
        return settings.alerts.stale_scan_crn  # type: ignore[attr-defined]

    def gives_a_number(settings: Settings) -> Any:
        return settings.scheduler.lease_s

    registry = Registry()
    registry.job("typo-in-setting", typo, job)
    registry.job("gives-a-number", gives_a_number, job)
    registry.job("february-30", "0 0 30 2 *", job)
    registry.job("leap-day", "0 9 29 2 *", job)
    with pytest.raises(ScheduleError) as raised:
        scheduler_jobs.crontabs(registry.jobs.values(), make_settings(tmp_path))
    message = str(raised.value)
    assert "job 'typo-in-setting': its schedule cannot be read from the settings (AttributeError" in message
    assert "job 'gives-a-number': its schedule gave " in message and "not a crontab string" in message
    assert "job 'february-30': '0 0 30 2 *' is not a valid crontab (it never fires" in message
    assert "leap-day" not in message  # 29 February comes every four years


def test_actionflow_run_prints_the_bad_crontab_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def start() -> int:  # what `actionflow run` does, through the same error handling
        harness = BotHarness(tmp_path, modules=(*JOBKIT_MODULES, "tests.structure.badcron"))
        try:
            await harness.app.start()
        finally:
            await harness.app.stop()
        return 0

    with pytest.raises(SystemExit) as exited:
        cli_common.run(start())
    assert exited.value.code == 1
    assert "hourly-check" in capsys.readouterr().err


async def test_a_job_declared_without_catch_up_waits_for_its_next_time(tmp_path: Path) -> None:
    runs: list[str] = []

    async def reminder(app: AppLike, ctx: RunContext) -> None:
        runs.append(ctx.period)

    registry = Registry()
    registry.job("friday-reminder", "0 17 * * 5", reminder, catch_up=False)
    async with BotHarness(tmp_path, jobs=False) as bot:  # deployed on Monday 09:00
        scheduler = Scheduler(bot.app.db, bot.clock, bot.settings.app.timezone, holder="test")
        scheduler_jobs.register(scheduler, bot.app, registry.jobs.values())
        await scheduler.tick()
        assert runs == []  # last Friday's reminder is not sent on Monday
        async with bot.app.db.read() as session:
            row = (await session.execute(select(JobRun))).scalar_one()
        assert (row.period, row.status) == ("2026-11-20T17:00", JobRunStatus.SKIPPED)
        bot.clock.advance(timedelta(days=4, hours=8, minutes=30))  # Friday 17:30
        await scheduler.tick()
        assert runs == ["2026-11-27T17:00"]
        await scheduler.close()


async def test_the_contact_sync_runs_before_the_features_jobs(tmp_path: Path) -> None:
    # First start on Monday: the scheduled sync and last Friday's feature job are both caught up at
    # the first tick; the sync goes first, so the job sees the people it has just brought in.
    ROSTER_SEEN.clear()
    with org_on("wecom") as org:
        org.set([Dept(2, "销售部")], [Staff("wanglei", "王磊", (2,))])
        settings = make_settings(
            tmp_path, org={"sync_from": "wecom", "sync_cron": "0 3 * * *"}, wecom=org.section()
        )
        async with BotHarness(tmp_path, settings=settings, modules=ROSTERKIT_MODULES) as bot:
            await bot.tick()
    assert ROSTER_SEEN == [("2026-11-20T17:00", ["王磊"])]
