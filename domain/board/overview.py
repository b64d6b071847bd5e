"""The team overview: the three health metrics for the viewer's reps, per-rep rows, the stage funnel.

The definitions are domain/metrics.py's, restricted to a set of reps: compliance counts the reps'
required deadlines, conversion the leads they own, freshness the median over them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import MetricsSettings
from domain.board.scope import Scope
from domain.stages import load_stages
from storage.models import Customer, CustomerStatus, Deadline, DeadlineStatus, ProgressUpdate, User


def stage_labels(forms_path: Path) -> dict[str, str]:
    """Stage key → label in funnel order, as the company named them (``[stages]`` of the forms file)."""
    return _labels(str(forms_path))


@lru_cache(maxsize=4)
def _labels(forms_path: str) -> dict[str, str]:
    return dict(load_stages(Path(forms_path)).labels)


@dataclass(frozen=True)
class TeamMetrics:
    compliance: float | None
    compliance_on_time: int
    compliance_due: int
    conversion: float | None
    leads: int
    conversion_change: float | None
    freshness_hours: float | None
    reps: int


@dataclass(frozen=True)
class RepRow:
    user_id: int
    name: str
    team: str
    compliance: float | None
    compliance_due: int
    freshness_hours: float | None  # None: never recorded a valid update
    valid_updates_yesterday: int


async def latest_update_by_rep(
    session: AsyncSession, rep_ids: Collection[int], now: datetime
) -> dict[int, datetime]:
    """Each rep's latest valid update at or before ``now`` (``domain.metrics.latest_update_by_rep``'s
    answer), as one index walk per rep: newest first on ``ix_progress_rep_created``, stopping at the
    first valid row, instead of grouping every row of the activity stream."""
    if not rep_ids:
        return {}
    latest = (
        select(ProgressUpdate.created_at)
        .where(
            ProgressUpdate.rep_id == User.id,
            ProgressUpdate.valid.is_(True),
            ProgressUpdate.created_at <= now,
        )
        .order_by(ProgressUpdate.created_at.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    rows = await session.execute(select(User.id, latest).where(User.id.in_(list(rep_ids))))
    out: dict[int, datetime] = {}
    for rep_id, when in rows.all():
        if when is not None:
            out[rep_id] = when if when.tzinfo else when.replace(tzinfo=now.tzinfo)
    return out


def _rate(done: int, total: int) -> float | None:
    return done / total if total else None


async def compliance_by_rep(
    session: AsyncSession, rep_ids: Collection[int], start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """user id → (done on time, due) for required deadlines due in (start, end]."""
    if not rep_ids:
        return {}
    on_time = func.sum(
        case(((Deadline.status == DeadlineStatus.DONE) & Deadline.on_time.is_(True), 1), else_=0)
    )
    stmt = (
        select(Deadline.user_id, func.count(), on_time)
        .where(
            Deadline.required.is_(True),
            Deadline.status != DeadlineStatus.CANCELLED,
            Deadline.due_at > start,
            Deadline.due_at <= end,
            Deadline.user_id.in_(list(rep_ids)),
        )
        .group_by(Deadline.user_id)
    )
    return {uid: (int(done or 0), int(due or 0)) for uid, due, done in (await session.execute(stmt)).all()}


async def conversion_for(
    session: AsyncSession, rep_ids: Collection[int], start: datetime, end: datetime
) -> tuple[int, int]:
    """(converted, leads) for valid leads the reps own, created in [start, end)."""
    if not rep_ids:
        return 0, 0
    converted = func.sum(
        case((Customer.first_order_at.is_not(None) & (Customer.first_order_at < end), 1), else_=0)
    )
    stmt = select(func.count(), converted).where(
        Customer.is_valid_lead.is_(True),
        Customer.lead_created_at >= start,
        Customer.lead_created_at < end,
        Customer.owner_id.in_(list(rep_ids)),
    )
    leads, done = (await session.execute(stmt)).one()
    return int(done or 0), int(leads or 0)


async def valid_updates_by_rep(
    session: AsyncSession, rep_ids: Collection[int], start: datetime, end: datetime
) -> dict[int, int]:
    if not rep_ids:
        return {}
    stmt = (
        select(ProgressUpdate.rep_id, func.count())
        .where(
            ProgressUpdate.valid.is_(True),
            ProgressUpdate.rep_id.in_(list(rep_ids)),
            ProgressUpdate.created_at >= start,
            ProgressUpdate.created_at < end,
        )
        .group_by(ProgressUpdate.rep_id)
    )
    return {rep: int(n) for rep, n in (await session.execute(stmt)).all()}


def _median_hours(hours: list[float]) -> float | None:
    if not hours:
        return None
    value = statistics.median(sorted(hours))
    return None if math.isinf(value) or math.isnan(value) else value


async def team_metrics(
    session: AsyncSession,
    reps: list[User],
    now: datetime,
    settings: MetricsSettings,
    *,
    latest: dict[int, datetime] | None = None,
    by_rep: dict[int, tuple[int, int]] | None = None,
) -> TeamMetrics:
    window = timedelta(days=settings.window_days)
    ids = [r.id for r in reps]
    if by_rep is None:
        by_rep = await compliance_by_rep(session, ids, now - window, now)
    on_time = sum(done for done, _ in by_rep.values())
    due = sum(total for _, total in by_rep.values())
    converted, leads = await conversion_for(session, ids, now - window, now)
    prev_converted, prev_leads = await conversion_for(session, ids, now - 2 * window, now - window)
    current, previous = _rate(converted, leads), _rate(prev_converted, prev_leads)
    change = (current - previous) / previous if current is not None and previous else None
    if latest is None:
        latest = await latest_update_by_rep(session, ids, now)
    hours = [(now - latest[i]).total_seconds() / 3600 if i in latest else math.inf for i in ids]
    return TeamMetrics(
        compliance=_rate(on_time, due),
        compliance_on_time=on_time,
        compliance_due=due,
        conversion=current,
        leads=leads,
        conversion_change=change,
        freshness_hours=_median_hours(hours),
        reps=len(ids),
    )


async def rep_rows(
    session: AsyncSession,
    reps: list[User],
    now: datetime,
    settings: MetricsSettings,
    *,
    yesterday: tuple[datetime, datetime],
    latest: dict[int, datetime],
    by_rep: dict[int, tuple[int, int]],
) -> list[RepRow]:
    updates = await valid_updates_by_rep(session, [r.id for r in reps], *yesterday)
    rows = []
    for rep in reps:
        done, due = by_rep.get(rep.id, (0, 0))
        seen = latest.get(rep.id)
        rows.append(
            RepRow(
                user_id=rep.id,
                name=rep.name,
                team=rep.team,
                compliance=_rate(done, due),
                compliance_due=due,
                freshness_hours=None if seen is None else (now - seen).total_seconds() / 3600,
                valid_updates_yesterday=updates.get(rep.id, 0),
            )
        )
    return rows


async def funnel(session: AsyncSession, scope: Scope, labels: dict[str, str]) -> list[tuple[str, str, int]]:
    """(stage, label, active customers) in pipeline order, for the customers the viewer sees; a stage
    the forms file no longer names is listed after the named ones."""
    stmt = (
        select(Customer.stage, func.count())
        .where(Customer.status == CustomerStatus.ACTIVE, scope.customer_filter())
        .group_by(Customer.stage)
    )
    counts = {stage: int(n) for stage, n in (await session.execute(stmt)).all()}
    order = [*labels, *sorted(k for k in counts if k not in labels)]
    return [(stage, labels.get(stage, stage), counts.get(stage, 0)) for stage in order]
