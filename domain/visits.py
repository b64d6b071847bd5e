"""Visits planned by visit applications (OA approvals): creation, status, deadlines, report timing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import AlertSettings
from domain import deadlines
from storage.models import Visit, VisitStatus

OPEN_STATUSES = (VisitStatus.PLANNED, VisitStatus.APPROVED)
REPORT_KINDS = ("demand_confirmation", "visit_report")


def parse_time(value: str | None, tz: ZoneInfo) -> datetime | None:
    """An approval time (ISO-8601, with or without offset; naive means ``tz``) or None."""
    if not value:
        return None
    text = value.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def planned_window(
    fields: dict[str, str], tz: ZoneInfo, default_minutes: int
) -> tuple[datetime | None, datetime | None]:
    start = parse_time(fields.get("start"), tz)
    end = parse_time(fields.get("end"), tz)
    if end is None and start is not None:
        end = start + timedelta(minutes=default_minutes)
    if start is not None and end is not None and end < start:
        start, end = end, start
    return start, end


async def by_approval(session: AsyncSession, channel: str, approval_id: str) -> Visit | None:
    stmt = select(Visit).where(Visit.source_channel == channel, Visit.source_approval_id == approval_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def create(
    session: AsyncSession,
    *,
    now: datetime,
    rep_id: int,
    customer_id: int | None,
    customer_text: str,
    source_channel: str,
    source_approval_id: str | None,
    purpose: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> Visit:
    visit = Visit(
        customer_id=customer_id,
        rep_id=rep_id,
        status=VisitStatus.PLANNED,
        source_channel=source_channel,
        source_approval_id=source_approval_id,
        customer_text=customer_text[:200],
        purpose=purpose,
        planned_start=start,
        planned_end=end,
        created_at=now,
        updated_at=now,
    )
    session.add(visit)
    await session.flush()
    return visit


def link(visit: Visit, customer_id: int, now: datetime) -> None:
    """The visit is for this customer (the application named it, or the rep chose it)."""
    visit.customer_id, visit.updated_at = customer_id, now


def reschedule(visit: Visit, start: datetime | None, end: datetime | None, now: datetime) -> None:
    """The application's planned window moved (its deadlines move with :func:`schedule_deadlines`)."""
    visit.planned_start, visit.planned_end, visit.updated_at = start, end, now


def approve(visit: Visit, now: datetime) -> None:
    """The visit application was approved."""
    visit.status, visit.updated_at = VisitStatus.APPROVED, now


def cancel(visit: Visit, now: datetime, *, note: str) -> None:
    """The visit will not happen (its application was refused, withdrawn or deleted); ``note`` says why.
    Its report deadlines are cancelled by :func:`cancel_deadlines`."""
    visit.status, visit.status_note, visit.updated_at = VisitStatus.CANCELLED, note, now


def end_of(visit: Visit) -> datetime | None:
    """When the visit ended: the rep's 拜访完成, else the planned end."""
    return visit.done_at or visit.planned_end


async def schedule_deadlines(
    session: AsyncSession, *, now: datetime, visit: Visit, alerts: AlertSettings
) -> None:
    """Demand confirmation due ``demand_confirmation_minutes`` and the visit report
    ``visit_report_hours`` after the visit ends (moved when the end moves; kept once done)."""
    end = end_of(visit)
    if end is None:
        return
    dues = {
        "demand_confirmation": end + timedelta(minutes=alerts.demand_confirmation_minutes),
        "visit_report": end + timedelta(hours=alerts.visit_report_hours),
    }
    for kind, due in dues.items():
        await deadlines.schedule(
            session,
            now=now,
            kind=kind,
            entity_type="visit",
            entity_id=visit.id,
            user_id=visit.rep_id,
            due_at=due,
        )


def ended_by_rep(visit: Visit, now: datetime) -> None:
    """The rep says the visit is over (拜访完成): before its planned end (or with none), it ended now
    and its deadlines count from now; after it, the planned end stands."""
    if visit.planned_end is None or now < visit.planned_end:
        visit.done_at = now


async def start_report(session: AsyncSession, *, now: datetime, visit: Visit, alerts: AlertSettings) -> None:
    """The visit is over and its report is asked for: it ended now, or at its planned end if that came
    first (a report started late), and the report and demand confirmation are due from then."""
    visit.report_started_at = now
    if visit.done_at is None:
        visit.done_at = min(now, visit.planned_end) if visit.planned_end else now
    visit.updated_at = now
    await schedule_deadlines(session, now=now, visit=visit, alerts=alerts)


def skip_report(visit: Visit, now: datetime) -> None:
    """No report is asked for (the rep has left): the visit is not offered again."""
    visit.report_started_at = now


def report_done(visit: Visit, now: datetime) -> None:
    """The rep submitted the visit report."""
    visit.status, visit.updated_at = VisitStatus.DONE, now


async def cancel_deadlines(session: AsyncSession, visit: Visit) -> None:
    for kind in REPORT_KINDS:
        await deadlines.cancel(session, kind=kind, entity_type="visit", entity_id=visit.id)


async def due_for_report(session: AsyncSession, now: datetime, limit: int = 200) -> list[Visit]:
    """Linked, open visits whose planned end has passed and whose report has not started."""
    stmt = (
        select(Visit)
        .where(
            Visit.status.in_(OPEN_STATUSES),
            Visit.planned_end <= now,
            Visit.report_started_at.is_(None),
            Visit.customer_id.is_not(None),
        )
        .order_by(Visit.planned_end, Visit.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def open_for_rep(session: AsyncSession, rep_id: int) -> list[Visit]:
    """The rep's visits still waiting for a report, soonest first."""
    stmt = (
        select(Visit)
        .where(
            Visit.rep_id == rep_id,
            Visit.status.in_(OPEN_STATUSES),
            Visit.report_started_at.is_(None),
        )
        .order_by(Visit.planned_start, Visit.id)
    )
    return list((await session.execute(stmt)).scalars())


def closest(visits: list[Visit], now: datetime) -> Visit | None:
    """The visit the rep most likely means by 拜访完成 now: the one whose window is nearest."""

    def distance(v: Visit) -> float:
        start = v.planned_start or v.created_at
        end = v.planned_end or start
        if start <= now <= end:
            return 0.0
        return min(abs((now - start).total_seconds()), abs((now - end).total_seconds()))

    return min(visits, key=lambda v: (distance(v), v.id)) if visits else None
