"""Registers the manager loop with the scheduler: the leader lock, the deadline sweep, the alerts.

``bot.app.Application`` imports this module and calls ``register(scheduler, app)``. Nothing here imports
``bot`` or ``handlers``: the application is typed by the :class:`~scheduler.context.AppLike` protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from scheduler import alerts, board_job, deadline_sweep, demand_alerts, ledger_head, rebate_job
from scheduler.context import AppLike
from scheduler.leader import build_leader
from scheduler.service import RunContext, Scheduler


def _at(hhmm: str) -> str:
    hh, _, mm = hhmm.partition(":")
    return f"{int(mm)} {int(hh)} * * *"


def _job(
    app: AppLike, fn: Callable[[AppLike, RunContext], Awaitable[None]]
) -> Callable[[RunContext], Awaitable[None]]:
    async def run(ctx: RunContext) -> None:
        await fn(app, ctx)

    return run


def register(scheduler: Scheduler, app: AppLike) -> None:
    settings = app.settings
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
    a = settings.alerts
    scheduler.add_periodic("stale-customers", a.stale_scan_cron, _job(app, alerts.stale_job))
    scheduler.add_periodic("zombie-customers", a.zombie_scan_cron, _job(app, alerts.zombie_job))
    scheduler.add_periodic("key-persons", a.key_person_scan_cron, _job(app, alerts.key_person_job))
    scheduler.add_periodic("demand-frequency", a.demand_scan_cron, _job(app, demand_alerts.demand_job))
    scheduler.add_periodic("morning-digest", _at(a.morning_digest_time), _job(app, alerts.morning_digest_job))
    scheduler.add_periodic("rebates", _at(settings.rebates.run_at), _job(app, rebate_job.rebate_job))
    scheduler.add_periodic("board-snapshot", board_job.SNAPSHOT_CRON, _job(app, board_job.snapshot_job))
    scheduler.add_periodic(
        "ledger-head", _at(settings.speech.ledger_head_time), _job(app, ledger_head.ledger_head_job)
    )
