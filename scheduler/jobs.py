"""The manager loop's jobs and how every declared job reaches the scheduler.

``setup(registry)`` declares the built-in periodic jobs exactly as a feature declares its own
(``registry.job(name, schedule, fn)``). ``bot.app.Application`` imports this module, calls ``setup`` on
its registry and then ``register(scheduler, app, jobs)`` with every job declared there (built-in and
the features'), which installs the leader lock and the deadline sweep and schedules each job. Nothing
here imports ``bot`` or ``handlers``: the application is typed by :class:`~domain.jobs.AppLike`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from config.settings import Settings
from domain.jobs import AppLike, DeclaresJobs, Job, JobFn, ScheduleError, daily_at
from scheduler import alerts, board_job, deadline_sweep, demand_alerts, ledger_head, rebate_job
from scheduler.leader import build_leader
from scheduler.service import JobFn as BoundJobFn
from scheduler.service import RunContext, Scheduler, validate_cron


def setup(registry: DeclaresJobs) -> None:
    registry.job("stale-customers", lambda s: s.alerts.stale_scan_cron, alerts.stale_job)
    registry.job("zombie-customers", lambda s: s.alerts.zombie_scan_cron, alerts.zombie_job)
    registry.job("key-persons", lambda s: s.alerts.key_person_scan_cron, alerts.key_person_job)
    registry.job("demand-frequency", lambda s: s.alerts.demand_scan_cron, demand_alerts.demand_job)
    registry.job(
        "morning-digest", lambda s: daily_at(s.alerts.morning_digest_time), alerts.morning_digest_job
    )
    registry.job("rebates", lambda s: daily_at(s.rebates.run_at), rebate_job.rebate_job)
    registry.job("board-snapshot", board_job.SNAPSHOT_CRON, board_job.snapshot_job)
    registry.job("ledger-head", lambda s: daily_at(s.speech.ledger_head_time), ledger_head.ledger_head_job)


def _bound(app: AppLike, fn: JobFn) -> BoundJobFn:
    async def run(ctx: RunContext) -> None:
        await fn(app, ctx)

    return run


def crontabs(jobs: Iterable[Job], settings: Settings) -> dict[str, str]:
    """Each job's crontab; :class:`ScheduleError` naming every job whose schedule is not a valid one
    (a typo in a feature's crontab or in the setting it reads must not start a scheduler that fails
    at every tick)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for job in jobs:
        try:
            cron = job.cron(settings)
        except Exception as exc:  # a schedule function is the feature's code: any error names the job
            cause = f"{type(exc).__name__}: {exc}"
            problems.append(f"job {job.name!r}: its schedule cannot be read from the settings ({cause})")
            continue
        if not isinstance(cron, str):
            problems.append(f"job {job.name!r}: its schedule gave {cron!r}, not a crontab string")
            continue
        reason = validate_cron(cron, settings.app.timezone)
        if reason is not None:
            problems.append(f"job {job.name!r}: {cron!r} is not a valid crontab ({reason})")
        found[job.name] = cron
    if problems:
        raise ScheduleError("bad schedule for a periodic job, fix it and start again: " + "; ".join(problems))
    return found


def register(scheduler: Scheduler, app: AppLike, jobs: Iterable[Job]) -> None:
    """The leader lock, the deadline sweep, and every declared job on its schedule.

    Every schedule is checked first: a bad one raises :class:`ScheduleError` before anything is
    installed."""
    settings = app.settings
    jobs = list(jobs)
    crons = crontabs(jobs, settings)
    lease = timedelta(seconds=settings.scheduler.lease_s)
    leader = build_leader(app.db, app.clock, scheduler.holder or "scheduler", lease)
    scheduler.leader = leader
    scheduler.heartbeat_s = lease.total_seconds() / 3
    scheduler.is_leader = leader.is_leader
    scheduler.on_close(leader.close)
    scheduler.run_timeout = timedelta(seconds=settings.scheduler.run_timeout_s)

    async def sweep(now: datetime) -> int:
        return await deadline_sweep.nudge(app, now) + await deadline_sweep.sweep(app, now)

    scheduler.add_sweep("deadline-reminders", sweep)
    for job in jobs:
        scheduler.add_periodic(job.name, crons[job.name], _bound(app, job.fn), catch_up=job.catch_up)
