"""Periodic jobs as declarations: a name, when it runs and the coroutine that does the work.

A feature declares its jobs on the registry it is given (``registry.job(name, schedule, fn)`` in its
``setup``), the same way the built-in jobs are declared (``scheduler.jobs.setup``); the application
hands all of them to the scheduler in one place (``scheduler.jobs.register``). This module is the
shared vocabulary for that: ``handlers`` and ``scheduler`` both import it and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from config.settings import Settings
from core.clock import Clock
from domain.notify import Notifier
from storage.db import Database


@dataclass(frozen=True)
class RunContext:
    """What a periodic job gets: the period it runs for and the time now."""

    job: str
    period: str
    scheduled_for: datetime
    now: datetime


class HasNotifier(Protocol):
    @property
    def notifier(self) -> Notifier: ...


class AppLike(Protocol):
    """The part of the application jobs use (bot.app.Application satisfies it)."""

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def services(self) -> HasNotifier: ...


# What a job does in one period. Write messages with keys made from ``ctx.period``: a period is run
# once, but a run abandoned by a dead process is run again (scheduler/service.py).
JobFn = Callable[[AppLike, RunContext], Awaitable[None]]
# When it runs: a 5-field crontab in the app's time zone, or a function of the settings giving one
# (``lambda s: s.alerts.stale_scan_cron``), read when the application starts.
Schedule = str | Callable[[Settings], str]


def daily_at(hhmm: str) -> str:
    """The crontab for every day at ``HH:MM`` (a time as the settings spell it)."""
    hh, _, mm = hhmm.partition(":")
    return f"{int(mm)} {int(hh)} * * *"


class ScheduleError(ValueError):
    """A declared job's schedule is not a crontab the scheduler can run; the start fails with it."""


@dataclass(frozen=True)
class Job:
    """A declared periodic job. ``catch_up``: when the latest period was missed (first deploy, the
    bot was down) it is run at the first tick, however late (up to 8 days); with ``catch_up=False`` a
    period more than an hour past its time is recorded as skipped instead of run."""

    name: str
    schedule: Schedule
    fn: JobFn
    catch_up: bool = True

    def cron(self, settings: Settings) -> str:
        return self.schedule if isinstance(self.schedule, str) else self.schedule(settings)


class DeclaresJobs(Protocol):
    """What a module that brings jobs is given (``handlers.registry.Registry`` is one)."""

    def job(self, name: str, schedule: Schedule, fn: JobFn, *, catch_up: bool = True) -> None: ...


def add_job(jobs: dict[str, Job], name: str, schedule: Schedule, fn: JobFn, *, catch_up: bool = True) -> None:
    """Declare one job in ``jobs``; a name is declared once."""
    if name in jobs:
        raise ValueError(f"job {name!r} declared twice")
    jobs[name] = Job(name, schedule, fn, catch_up)
