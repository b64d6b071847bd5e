"""Daily snapshots of the three health metrics per team and per rep (the board's history charts).

The ``board-snapshot`` job writes one row per scope for the day that just ended; running it twice for
the same day replaces that day's rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import MetricsSettings
from domain.board.overview import (
    TeamMetrics,
    compliance_by_rep,
    latest_update_by_rep,
    team_metrics,
    valid_updates_by_rep,
)
from domain.metrics import active_reps
from storage.models import MetricSnapshot, User


def _row(day: date, scope: str, key: str, m: TeamMetrics, *, updates: int, now: datetime) -> MetricSnapshot:
    return MetricSnapshot(
        day=day,
        scope=scope,
        key=key,
        compliance=m.compliance,
        compliance_due=m.compliance_due,
        conversion=m.conversion,
        leads=m.leads,
        freshness_hours=m.freshness_hours,
        valid_updates=updates,
        created_at=now,
    )


async def write_day(
    session: AsyncSession, *, day: date, day_start: datetime, as_of: datetime, settings: MetricsSettings
) -> int:
    """Snapshot ``day`` (its end is ``as_of``): everyone, each team, each active rep. Returns rows."""
    reps = await active_reps(session)
    ids = [r.id for r in reps]
    window = timedelta(days=settings.window_days)
    latest = await latest_update_by_rep(session, ids, as_of)
    by_rep = await compliance_by_rep(session, ids, as_of - window, as_of)
    updates = await valid_updates_by_rep(session, ids, day_start, as_of)
    await session.execute(delete(MetricSnapshot).where(MetricSnapshot.day == day))
    rows = []

    async def add(scope: str, key: str, group: list[User]) -> None:
        sub_latest = {r.id: latest[r.id] for r in group if r.id in latest}
        sub_by_rep = {r.id: by_rep[r.id] for r in group if r.id in by_rep}
        m = await team_metrics(session, group, as_of, settings, latest=sub_latest, by_rep=sub_by_rep)
        rows.append(_row(day, scope, key, m, updates=sum(updates.get(r.id, 0) for r in group), now=as_of))

    await add("all", "", reps)
    teams: dict[str, list[User]] = defaultdict(list)
    for rep in reps:
        teams[rep.team].append(rep)
    for team, group in sorted(teams.items()):
        await add("team", team, group)
    for rep in reps:
        await add("rep", str(rep.id), [rep])
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def history(session: AsyncSession, scope: str, key: str, *, since: date) -> list[MetricSnapshot]:
    stmt = (
        select(MetricSnapshot)
        .where(MetricSnapshot.scope == scope, MetricSnapshot.key == key, MetricSnapshot.day >= since)
        .order_by(MetricSnapshot.day)
    )
    return list((await session.execute(stmt)).scalars())
