"""The scheduler: periodic jobs with exactly-once periods, catch-up after downtime, and sweeps.

Catch-up: at each tick a job's latest scheduled time within the look-back (8 days) is its period; a
period with no run recorded is run then, however late (the first tick after a deploy or downtime). A
job added with ``catch_up=False`` runs a period only within ``grace`` (an hour) of its time; a later
first tick records the period as skipped and the job waits for its next time; a run of it abandoned by
a dead process and found only after that hour is recorded as failed, not run again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import ColumnElement, update

from core.clock import Clock
from core.redact import redact
from domain.jobs import RunContext
from storage.db import Database
from storage.models import JobRun, JobRunStatus
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)


JobFn = Callable[[RunContext], Awaitable[None]]
SweepFn = Callable[[datetime], Awaitable[object]]
# The error recorded for a run of a ``catch_up=False`` job abandoned by a dead process and found only
# after its grace: it is not run again.
ABANDONED_TOO_LATE = "abandoned, too late to rerun"


@dataclass
class PeriodicJob:
    name: str
    cron: str
    fn: JobFn
    catch_up: bool = True
    lookback: timedelta = timedelta(days=8)
    grace: timedelta = timedelta(hours=1)  # how late a period of a job that does not catch up may run
    _trigger: CronTrigger | None = field(default=None, repr=False)
    _last_fire: datetime | None = field(default=None, repr=False)

    def trigger(self, tz: ZoneInfo) -> CronTrigger:
        if self._trigger is None:
            self._trigger = crontab_trigger(self.cron, tz)
        return self._trigger

    def latest_fire(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The most recent scheduled time at or before ``now`` (within the look-back window)."""
        trig = self.trigger(tz)
        start = self._last_fire if self._last_fire and self._last_fire <= now else now - self.lookback
        fire = trig.get_next_fire_time(None, start.astimezone(tz))
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trig.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if latest is not None:
            self._last_fire = latest
        return latest


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_days(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler day names.

    APScheduler 3's ``from_crontab`` counts 0 as Monday (its documented historical mistake), so
    ``0 9 * * 1`` would run on Tuesdays; names are unambiguous in both."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in day-of-week {field!r}")
        if base == "*":
            lo, hi = 0, 6
        else:
            first, _, last = base.partition("-")
            lo = _DAY_NAMES.index(first[:3]) if first[:3] in _DAY_NAMES else int(first)
            hi = (_DAY_NAMES.index(last[:3]) if last[:3] in _DAY_NAMES else int(last)) if last else lo
            if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi):
                raise ValueError(f"day-of-week {field!r} out of range (0–7, 0 and 7 are Sunday)")
            if step_text and not last:
                hi = 6
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def crontab_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A standard 5-field crontab (day of week 0/7 = Sunday, 1 = Monday) in ``tz``."""
    values = expr.split()
    if len(values) != 5:
        raise ValueError(f"Wrong number of fields; got {len(values)}, expected 5")
    return CronTrigger(
        minute=values[0],
        hour=values[1],
        day=values[2],
        month=values[3],
        day_of_week=_cron_days(values[4]),
        timezone=tz,
    )


def validate_cron(expr: str, tz: str = "UTC") -> str | None:
    """None when ``expr`` is a valid 5-field crontab that fires at some time, else the reason."""
    zone = ZoneInfo(tz)
    try:
        trigger = crontab_trigger(expr, zone)
    except ValueError as exc:
        return str(exc)
    # A date that does not exist (``0 0 30 2 *``) parses but would never run. Searched from a fixed
    # time, so the answer does not depend on today; 29 February is found (2004).
    if trigger.get_next_fire_time(None, datetime(2001, 1, 1, tzinfo=zone)) is None:
        return "it never fires: no such date"
    return None


class Scheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        timezone: str,
        *,
        holder: str = "",
        run_timeout: timedelta = timedelta(minutes=15),
    ) -> None:
        self.db = db
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.holder = holder
        self.jobs: dict[str, PeriodicJob] = {}
        self.sweeps: dict[str, SweepFn] = {}
        self._aps: AsyncIOScheduler | None = None
        self.is_leader: Callable[[], Awaitable[bool]] | None = None
        self.leader: object | None = None  # the leader-election object behind is_leader, if any
        # A run still "running" after this long was abandoned (its process died): it is run again,
        # or, for a catch_up=False job past its grace, recorded as failed. Jobs write their messages
        # with idempotency keys, so a re-run cannot send anything twice.
        self.run_timeout = run_timeout
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.heartbeat_s: float = 0.0  # set by whoever installs a leader with a lease (a third of it)
        self._heartbeat: asyncio.Task[None] | None = None
        self._ticking = asyncio.Lock()
        self._takeover: asyncio.Task[None] | None = None
        self.on_job_failed: Callable[[str, str, str], Awaitable[None]] | None = None

    def on_close(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` when the scheduler closes (release the leader lock, …)."""
        self._closers.append(fn)

    async def close(self) -> None:
        self.shutdown()
        for fn in self._closers:
            try:
                await fn()
            except Exception:
                log.exception("closing the scheduler failed")

    def add_periodic(self, name: str, cron: str, fn: JobFn, *, catch_up: bool = True) -> None:
        if name in self.jobs:
            raise ValueError(f"job {name!r} registered twice")
        self.jobs[name] = PeriodicJob(name, cron, fn, catch_up)

    def add_sweep(self, name: str, fn: SweepFn) -> None:
        self.sweeps[name] = fn

    def period_key(self, fire: datetime) -> str:
        return fire.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M")

    def _run_row(self, job: str, period: str, status: JobRunStatus, now: datetime) -> dict[str, object]:
        """A new ``job_runs`` row for (job, period), held by this instance."""
        return {
            "job": job,
            "period": period,
            "status": status,
            "holder": self.holder,
            "started_at": now,
            "error": "",
        }

    def _abandoned(self, job: str, period: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
        """A run of (job, period) left ``running`` for longer than the run timeout: its process died."""
        return (
            JobRun.job == job,
            JobRun.period == period,
            JobRun.status == JobRunStatus.RUNNING,
            JobRun.started_at < now - self.run_timeout,
        )

    async def claim(self, job: str, period: str) -> bool:
        """Claim (job, period) once; also take over a run abandoned by a dead process."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            if await insert_ignore(session, JobRun, self._run_row(job, period, JobRunStatus.RUNNING, now)):
                return True
            result = await session.execute(
                update(JobRun)
                .where(*self._abandoned(job, period, now))
                .values(holder=self.holder, started_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                log.warning("job %s for %s was abandoned; running it again", job, period)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def skip_current_periods(self) -> list[str]:
        """Record every job's latest past period as skipped (used when demo data has just been
        created, so the first tick does not send a burst of reports about the minutes-old data)."""
        now = self.clock.now()
        skipped = []
        for job in self.jobs.values():
            try:
                fire = job.latest_fire(now, self.tz)
            except Exception:
                log.exception("job %s has a schedule that cannot be read: %r", job.name, job.cron)
                continue
            if fire is not None and await self._skip(job.name, self.period_key(fire), now):
                skipped.append(job.name)
        return skipped

    async def _skip(self, job: str, period: str, now: datetime) -> bool:
        """Record (job, period) as skipped unless a run of it is recorded; True when recorded now."""
        async with self.db.transaction() as session:
            row = self._run_row(job, period, JobRunStatus.SKIPPED, now)
            return await insert_ignore(session, JobRun, {**row, "finished_at": now})

    async def _expire_abandoned(self, job: str, period: str, now: datetime) -> bool:
        """Mark a run of (job, period) abandoned by a dead process (``running`` for longer than the
        run timeout) as failed, for a period too late to run again; True when one was."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(JobRun)
                .where(*self._abandoned(job, period, now))
                .values(status=JobRunStatus.FAILED, finished_at=now, error=ABANDONED_TOO_LATE)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _finish(self, job: str, period: str, error: str = "") -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(JobRun)
                .where(JobRun.job == job, JobRun.period == period)
                .values(
                    status=JobRunStatus.FAILED if error else JobRunStatus.DONE,
                    finished_at=self.clock.now(),
                    error=redact(error)[:4000],
                )
            )

    async def _tell_failed(self, job: str, period: str, error: str) -> None:
        if self.on_job_failed is None:
            return
        try:
            await self.on_job_failed(job, period, error)
        except Exception:
            log.exception("telling about the failed job %s failed", job)

    async def tick(self) -> list[str]:
        """Run sweeps, then every periodic job whose latest period has not been claimed yet."""
        if self.is_leader is not None and not await self.is_leader():
            return []
        now = self.clock.now()
        ran: list[str] = []
        for name, sweep in self.sweeps.items():
            try:
                await sweep(now)
            except Exception:
                log.exception("sweep %s failed", name)
        for job in self.jobs.values():
            try:
                fire = job.latest_fire(now, self.tz)
            except Exception as exc:
                # A schedule that cannot be read (register() checks them at start, so this is a job
                # added some other way): this job does not run; the others do.
                log.exception("job %s has a schedule that cannot be read: %r", job.name, job.cron)
                await self._tell_failed(job.name, self.period_key(now), f"bad schedule {job.cron!r}: {exc}")
                continue
            if fire is None:
                continue
            period = self.period_key(fire)
            try:
                if await self._run_period(job, fire, period, now):
                    ran.append(f"{job.name}@{period}")
            except Exception as exc:
                # The claim or the record of the run failed (database locked, connection dropped):
                # reported like a failed job, and the jobs after this one still run this tick.
                log.exception("job %s for %s could not be claimed or recorded", job.name, period)
                await self._tell_failed(job.name, period, f"{type(exc).__name__}: {exc}")
        return ran

    async def _run_period(self, job: PeriodicJob, fire: datetime, period: str, now: datetime) -> bool:
        """Run ``job`` for ``period`` unless it is claimed already or too late; True when it ran.

        Raises when the database fails (claim, skip, or recording the result); the job's own errors
        are recorded and reported here."""
        if not job.catch_up and now - fire > job.grace:
            if await self._skip(job.name, period, now):
                log.info("job %s for %s skipped: too late to run (catch_up=False)", job.name, period)
            elif await self._expire_abandoned(job.name, period, now):
                log.warning("job %s for %s was abandoned and is too late to run again", job.name, period)
                await self._tell_failed(job.name, period, ABANDONED_TOO_LATE)
            return False
        if not await self.claim(job.name, period):
            return False
        ctx = RunContext(job.name, period, fire, now)
        try:
            await job.fn(ctx)
        except Exception as exc:
            log.exception("job %s for %s failed", job.name, period)
            error = f"{type(exc).__name__}: {exc}"
            try:
                await self._finish(job.name, period, error)
            finally:
                await self._tell_failed(job.name, period, error)
        else:
            await self._finish(job.name, period)
            log.info("job ran", extra={"job": job.name, "period": period})
        return True

    def start(self, interval_s: int, after_tick: Callable[[], None] | None = None) -> None:
        """Drive ``tick`` in real time with APScheduler (in-memory job store), and the leader's
        heartbeat on its own, faster cadence: a follower that wins the lease ticks at once."""

        async def _tick() -> None:
            async with self._ticking:
                await self.tick()
            if after_tick is not None:
                after_tick()

        if self.is_leader is not None and self.heartbeat_s > 0:
            self._heartbeat = asyncio.create_task(self._beat(_tick), name="leader-heartbeat")

        self._aps = AsyncIOScheduler(timezone=self.tz)
        self._aps.add_job(
            _tick,
            "interval",
            seconds=interval_s,
            id="tick",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(self.tz),
            misfire_grace_time=None,
        )
        self._aps.start()

    async def _beat(self, tick: Callable[[], Coroutine[Any, Any, None]]) -> None:
        assert self.is_leader is not None
        leading = False
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                now_leading = await self.is_leader()
            except Exception:
                log.exception("leader heartbeat failed")
                now_leading = False
            if now_leading and not leading and not self._ticking.locked():
                # Taken over: jobs and sweeps resume now, not at the next interval (in a task, so a
                # long job does not hold up the renewals).
                self._takeover = asyncio.create_task(tick(), name="takeover-tick")
            leading = now_leading

    def shutdown(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
