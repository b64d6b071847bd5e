"""The three health metrics of the seed article, with their healthy thresholds.

* **Action compliance (动作规范率)** = required deadlines done on time / required deadlines that fell
  due in the window (``due_at`` in (now − window, now]; cancelled ones excluded; still-pending ones count
  as missed).
* **Lead conversion (线索转化率)**, a cohort: of the valid leads created in the window, the share whose
  first signed order (``first_order_at``, set only by imported orders and 成交 in chat) came within
  ``metrics.conversion_days`` (default 90) of the lead's creation and by now. A customer whose first
  order is more than a day older than its lead record was never a lead and is left out. Compared with
  the previous window (the ``window_days`` before) as a relative change: (current − previous) / previous.
* **Data freshness (过程数据鲜度)** = median over active reps of the hours since their latest valid
  customer update (a rep who never recorded one counts as infinitely stale).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import MetricsSettings
from storage.models import Customer, Deadline, DeadlineStatus, ProgressUpdate, User, UserRole, UserStatus


@dataclass(frozen=True)
class Metrics:
    as_of: datetime
    window_days: int
    compliance: float | None
    compliance_on_time: int
    compliance_due: int
    compliance_target: float
    conversion: float | None
    converted: int
    leads: int
    previous_conversion: float | None
    previous_converted: int
    previous_leads: int
    conversion_change: float | None  # relative: (current − previous) / previous
    conversion_lift_target: float
    conversion_days: int
    freshness_hours: float | None
    reps: int
    reps_without_updates: int
    freshness_target_hours: float

    @property
    def compliance_healthy(self) -> bool | None:
        return None if self.compliance is None else self.compliance >= self.compliance_target

    @property
    def conversion_healthy(self) -> bool | None:
        return (
            None if self.conversion_change is None else self.conversion_change >= self.conversion_lift_target
        )

    @property
    def freshness_healthy(self) -> bool | None:
        return None if self.freshness_hours is None else self.freshness_hours <= self.freshness_target_hours

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["compliance_healthy"] = self.compliance_healthy
        data["conversion_healthy"] = self.conversion_healthy
        data["freshness_healthy"] = self.freshness_healthy
        return data


async def compliance(
    session: AsyncSession, start: datetime, end: datetime, user_ids: set[int] | None = None
) -> tuple[int, int]:
    """(done on time, due) for required deadlines due in (start, end] (of ``user_ids``; None = all)."""
    on_time = func.sum(
        case(((Deadline.status == DeadlineStatus.DONE) & Deadline.on_time.is_(True), 1), else_=0)
    )
    stmt = select(func.count(), on_time).where(
        Deadline.required.is_(True),
        Deadline.status != DeadlineStatus.CANCELLED,
        Deadline.due_at > start,
        Deadline.due_at <= end,
    )
    if user_ids is not None:
        stmt = stmt.where(Deadline.user_id.in_(user_ids))
    due, done = (await session.execute(stmt)).one()
    return int(done or 0), int(due or 0)


async def conversion(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    days: int,
    now: datetime,
    *,
    user_ids: set[int] | None = None,
) -> tuple[int, int]:
    """(converted, leads) for the cohort of valid leads created in [start, end): converted = a first
    signed order within ``days`` of the lead's creation, no later than ``now``. ``user_ids``: only the
    leads these people own (a team's figures)."""
    stmt = select(Customer.lead_created_at, Customer.first_order_at).where(
        Customer.is_valid_lead.is_(True), Customer.lead_created_at >= start, Customer.lead_created_at < end
    )
    if user_ids is not None:
        stmt = stmt.where(Customer.owner_id.in_(user_ids))
    leads = converted = 0
    rows = (await session.execute(stmt)).all()
    for row in rows:
        created: datetime | None = row[0]
        first: datetime | None = row[1]
        if created is None:
            continue
        if first is not None and first < created - timedelta(days=1):
            continue  # already a customer before it was recorded as a lead
        leads += 1
        if first is not None and first <= min(created + timedelta(days=days), now):
            converted += 1
    return converted, leads


async def active_reps(session: AsyncSession, user_ids: set[int] | None = None) -> list[User]:
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "rep", User.status == UserStatus.ACTIVE)
        .order_by(User.id)
    )
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(user_ids))
    return list((await session.execute(stmt)).scalars())


async def latest_update_by_rep(
    session: AsyncSession, rep_ids: list[int], now: datetime
) -> dict[int, datetime]:
    stmt = (
        select(ProgressUpdate.rep_id, func.max(ProgressUpdate.created_at))
        .where(
            ProgressUpdate.valid.is_(True),
            ProgressUpdate.rep_id.in_(rep_ids),
            ProgressUpdate.created_at <= now,
        )
        .group_by(ProgressUpdate.rep_id)
    )
    out: dict[int, datetime] = {}
    for rep_id, latest in (await session.execute(stmt)).all():
        if latest is not None:
            out[rep_id] = latest if latest.tzinfo else latest.replace(tzinfo=now.tzinfo)
    return out


async def valid_updates_by_rep(session: AsyncSession, start: datetime, end: datetime) -> dict[int, int]:
    """Valid customer updates per rep created in [start, end)."""
    stmt = (
        select(ProgressUpdate.rep_id, func.count())
        .where(
            ProgressUpdate.valid.is_(True),
            ProgressUpdate.created_at >= start,
            ProgressUpdate.created_at < end,
        )
        .group_by(ProgressUpdate.rep_id)
    )
    return {rep: int(n) for rep, n in (await session.execute(stmt)).all()}


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    value = statistics.median(sorted(values))
    return None if math.isinf(value) or math.isnan(value) else value


def _rate(done: int, total: int) -> float | None:
    return done / total if total else None


async def compute(
    session: AsyncSession, now: datetime, settings: MetricsSettings, user_ids: set[int] | None = None
) -> Metrics:
    """The health metrics of the reps ``user_ids`` (their deadlines, leads and updates); None = all."""
    window = timedelta(days=settings.window_days)
    on_time, due = await compliance(session, now - window, now, user_ids)
    days = settings.conversion_days
    converted, leads = await conversion(session, now - window, now, days, now, user_ids=user_ids)
    prev_converted, prev_leads = await conversion(
        session, now - 2 * window, now - window, days, now, user_ids=user_ids
    )
    current, previous = _rate(converted, leads), _rate(prev_converted, prev_leads)
    change = (current - previous) / previous if current is not None and previous else None
    reps = await active_reps(session, user_ids)
    latest = await latest_update_by_rep(session, [r.id for r in reps], now)
    hours = [(now - latest[r.id]).total_seconds() / 3600 if r.id in latest else math.inf for r in reps]
    return Metrics(
        as_of=now,
        window_days=settings.window_days,
        compliance=_rate(on_time, due),
        compliance_on_time=on_time,
        compliance_due=due,
        compliance_target=settings.compliance_target,
        conversion=current,
        converted=converted,
        leads=leads,
        previous_conversion=previous,
        previous_converted=prev_converted,
        previous_leads=prev_leads,
        conversion_change=change,
        conversion_lift_target=settings.conversion_lift_target,
        conversion_days=settings.conversion_days,
        freshness_hours=_median(hours),
        reps=len(reps),
        reps_without_updates=sum(1 for r in reps if r.id not in latest),
        freshness_target_hours=settings.freshness_target_hours,
    )
