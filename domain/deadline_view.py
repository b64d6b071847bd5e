"""How deadlines read to people: what is due (「「杭州一院」的拜访报告」) and whose it is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CompetitorAnalysis, Customer, Deadline, DeadlineStatus, Visit

KIND_NAMES = {
    "demand_confirmation": "需求确认单",
    "visit_report": "拜访报告",
    "competitor_analysis": "竞对分析",
    "competitor_review": "竞对分析审核",
}


async def describe(session: AsyncSession, rows: list[Deadline]) -> dict[int, tuple[str, int | None]]:
    """deadline id → (customer text, the rep who owns the entity)."""
    visit_ids = [d.entity_id for d in rows if d.entity_type == "visit"]
    ca_ids = [d.entity_id for d in rows if d.entity_type == "competitor_analysis"]
    visits = {
        v.id: v for v in (await session.execute(select(Visit).where(Visit.id.in_(visit_ids)))).scalars()
    }
    analyses = {
        a.id: a
        for a in (
            await session.execute(select(CompetitorAnalysis).where(CompetitorAnalysis.id.in_(ca_ids)))
        ).scalars()
    }
    customer_ids = {v.customer_id for v in visits.values()} | {a.customer_id for a in analyses.values()}
    names = {
        c.id: c.name
        for c in (
            await session.execute(select(Customer).where(Customer.id.in_([i for i in customer_ids if i])))
        ).scalars()
    }
    out: dict[int, tuple[str, int | None]] = {}
    for d in rows:
        customer, rep = "", d.user_id
        if d.entity_type == "visit" and d.entity_id in visits:
            visit = visits[d.entity_id]
            customer = names.get(visit.customer_id or 0) or visit.customer_text
            rep = visit.rep_id
        elif d.entity_type == "competitor_analysis" and d.entity_id in analyses:
            analysis = analyses[d.entity_id]
            customer = names.get(analysis.customer_id or 0, "")
            rep = analysis.rep_id
        out[d.id] = (customer or f"{d.entity_type} #{d.entity_id}", rep)
    return out


def what(d: Deadline, customer: str, rep_name: str) -> str:
    name = KIND_NAMES.get(d.kind, d.kind)
    if d.kind == "competitor_review":
        return f"{rep_name} 提交的「{customer}」竞对分析待审核"
    return f"「{customer}」的{name}"


async def overdue_for(session: AsyncSession, user_id: int, now: datetime) -> list[Deadline]:
    """The user's actions past their deadline and not done, oldest first."""
    stmt = (
        select(Deadline)
        .where(Deadline.user_id == user_id, Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now)
        .order_by(Deadline.due_at, Deadline.id)
    )
    return list((await session.execute(stmt)).scalars())
