"""What needs an operator's attention: the outbox's backlog and dead letters, events whose handling
failed or never finished, and the last run of each scheduled job. Also puts dead messages and failed
events back in line once the cause is fixed (``actionflow status``, ``outbox retry``, ``events retry``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.redact import redact as core_redact
from storage.models import InboundEvent, InboxStatus, JobRun, JobRunStatus, OutboxMessage, OutboxStatus

# Errors are redacted when stored; redacting again when shown also covers rows stored before that.
redact = core_redact


def one_line(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters (for listing errors)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class DeadMessage:
    id: int
    channel: str
    target_kind: str
    target: str
    attempts: int
    error: str
    created_at: datetime


@dataclass(frozen=True)
class FailedEvent:
    channel: str
    event_id: str
    kind: str
    user_key: str
    attempts: int
    error: str
    received_at: datetime


@dataclass(frozen=True)
class JobState:
    job: str
    period: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str


@dataclass(frozen=True)
class Health:
    now: datetime
    outbox: dict[str, int]  # status -> rows
    oldest_pending: datetime | None
    dead: list[DeadMessage]  # newest first, at most ``limit``
    events: dict[str, int]  # status -> rows
    oldest_unprocessed: datetime | None
    failed: list[FailedEvent]  # newest first, at most ``limit``
    jobs: list[JobState] = field(default_factory=list)  # each job's latest run

    @property
    def failed_jobs(self) -> list[JobState]:
        return [j for j in self.jobs if j.status == JobRunStatus.FAILED]

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.outbox.get(OutboxStatus.DEAD) or self.events.get(InboxStatus.FAILED) or self.failed_jobs
        )

    def to_dict(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "now": stamp(self.now),
            "needs_attention": self.needs_attention,
            "outbox": self.outbox,
            "oldest_pending": stamp(self.oldest_pending),
            "dead": [{**vars(d), "created_at": stamp(d.created_at)} for d in self.dead],
            "events": self.events,
            "oldest_unprocessed": stamp(self.oldest_unprocessed),
            "failed": [{**vars(f), "received_at": stamp(f.received_at)} for f in self.failed],
            "jobs": [
                {**vars(j), "started_at": stamp(j.started_at), "finished_at": stamp(j.finished_at)}
                for j in self.jobs
            ],
        }


async def _counts(session: AsyncSession, status: Any) -> dict[str, int]:
    rows = await session.execute(select(status, func.count()).group_by(status))
    return {str(s): int(n) for s, n in rows}


async def snapshot(session: AsyncSession, now: datetime, *, limit: int = 5) -> Health:
    """The state of the outbox, the inbox and the scheduled jobs, with the newest problems listed."""
    dead = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.DEAD)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    failed = await session.execute(
        select(InboundEvent)
        .where(InboundEvent.status == InboxStatus.FAILED)
        .order_by(InboundEvent.received_at.desc())
        .limit(limit)
    )
    latest = (
        select(JobRun.job, func.max(JobRun.started_at).label("started_at")).group_by(JobRun.job).subquery()
    )
    jobs = await session.execute(
        select(JobRun)
        .join(latest, (JobRun.job == latest.c.job) & (JobRun.started_at == latest.c.started_at))
        .order_by(JobRun.job)
    )
    return Health(
        now=now,
        outbox=await _counts(session, OutboxMessage.status),
        oldest_pending=await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
        ),
        dead=[
            DeadMessage(
                m.id, m.channel, m.target_kind, m.target, m.attempts, redact(m.last_error), m.created_at
            )
            for m in dead.scalars()
        ],
        events=await _counts(session, InboundEvent.status),
        oldest_unprocessed=await session.scalar(
            select(func.min(InboundEvent.received_at)).where(InboundEvent.status == InboxStatus.RECEIVED)
        ),
        failed=[
            FailedEvent(e.channel, e.event_id, e.kind, e.user_key, e.attempts, redact(e.error), e.received_at)
            for e in failed.scalars()
        ],
        jobs=[
            JobState(j.job, j.period, j.status, j.started_at, j.finished_at, redact(j.error))
            for j in dict((j.job, j) for j in jobs.scalars()).values()  # one per job, even on a tie
        ],
    )


async def requeue_dead(session: AsyncSession, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Dead messages (all, or those ``ids``) go back to pending with a fresh set of attempts. The last
    error stays until a send succeeds or fails again. Returns how many were requeued."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.DEAD)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, locked_until=None)
    )
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def requeue_failed(session: AsyncSession, keys: Sequence[tuple[str, str]] | None = None) -> int:
    """Failed events (all, or those (channel, event id) ``keys``) are marked unprocessed again: the
    bot handles them at its next start, as it does events a crash left unfinished."""
    stmt = (
        update(InboundEvent)
        .where(InboundEvent.status == InboxStatus.FAILED)
        .values(status=InboxStatus.RECEIVED)
    )
    if keys is not None:
        stmt = stmt.where(tuple_(InboundEvent.channel, InboundEvent.event_id).in_(list(keys)))
    result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]
