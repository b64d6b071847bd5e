"""Competitor analyses: the trigger (rep says so, or the customer's words do), submission, review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import deadlines
from storage.models import CompetitorAnalysis, ReviewStatus, User

ENTITY = "competitor_analysis"


def competition_keyword(text: str, keywords: list[str]) -> str | None:
    """The first configured keyword found in ``text`` (the customer is comparing vendors), or None."""
    compact = "".join(text.split())
    for keyword in keywords:
        if keyword and "".join(keyword.split()) in compact:
            return keyword
    return None


async def for_visit(session: AsyncSession, visit_id: int) -> CompetitorAnalysis | None:
    stmt = (
        select(CompetitorAnalysis)
        .where(CompetitorAnalysis.visit_id == visit_id)
        .order_by(CompetitorAnalysis.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_draft(session: AsyncSession, *, rep_id: int, customer_id: int) -> CompetitorAnalysis | None:
    """The rep's analysis of this customer still being filled in, if any."""
    stmt = (
        select(CompetitorAnalysis)
        .where(
            CompetitorAnalysis.rep_id == rep_id,
            CompetitorAnalysis.customer_id == customer_id,
            CompetitorAnalysis.status == ReviewStatus.DRAFT,
        )
        .order_by(CompetitorAnalysis.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def withdraw(session: AsyncSession, row: CompetitorAnalysis) -> None:
    """The rep gave the draft up: it is kept as ``withdrawn`` and its deadline no longer counts."""
    row.status = ReviewStatus.WITHDRAWN
    await deadlines.cancel(session, kind="competitor_analysis", entity_type=ENTITY, entity_id=row.id)


async def _analysis_due(
    session: AsyncSession, row: CompetitorAnalysis, *, now: datetime, due_hours: int, reopen: bool = False
) -> None:
    """The rep's action: fill the analysis in within ``due_hours`` (again, after 退回, with ``reopen``)."""
    await deadlines.schedule(
        session,
        now=now,
        kind="competitor_analysis",
        entity_type=ENTITY,
        entity_id=row.id,
        user_id=row.rep_id,
        due_at=now + timedelta(hours=due_hours),
        reopen=reopen,
    )


async def trigger(
    session: AsyncSession,
    *,
    now: datetime,
    rep_id: int,
    customer_id: int | None,
    visit_id: int | None,
    source: str,
    text: str,
    due_hours: int,
) -> CompetitorAnalysis:
    """A draft analysis the rep must fill in within ``due_hours`` (a required action)."""
    row = CompetitorAnalysis(
        customer_id=customer_id,
        rep_id=rep_id,
        visit_id=visit_id,
        trigger=source,
        trigger_text=text,
        status=ReviewStatus.DRAFT,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await _analysis_due(session, row, now=now, due_hours=due_hours)
    return row


async def submit(
    session: AsyncSession,
    *,
    now: datetime,
    row: CompetitorAnalysis,
    competitor: str,
    price: str,
    delivery_cycle: str,
    weaknesses: str,
    reviewer_id: int | None,
    review_hours: int,
) -> None:
    """Store the answers, mark the rep's action done, and open the supervisor's review."""
    row.competitor = competitor[:100]
    row.price = price[:100]
    row.delivery_cycle = delivery_cycle[:100]
    row.weaknesses = weaknesses
    row.status = ReviewStatus.PENDING_REVIEW
    row.reviewer_id = reviewer_id
    await deadlines.complete(
        session, now=now, kind="competitor_analysis", entity_type=ENTITY, entity_id=row.id
    )
    if reviewer_id is not None:
        await deadlines.schedule(
            session,
            now=now,
            kind="competitor_review",
            entity_type=ENTITY,
            entity_id=row.id,
            user_id=reviewer_id,
            due_at=now + timedelta(hours=review_hours),
            reopen=True,  # a resubmission after 退回 is reviewed again
        )


async def send_back(
    session: AsyncSession,
    *,
    now: datetime,
    row: CompetitorAnalysis,
    reviewer_id: int,
    comment: str,
    due_hours: int,
) -> None:
    """退回: the analysis goes back to the rep as a draft with the reviewer's comment; the review is
    done and the rep's action is due again within ``due_hours``."""
    row.status = ReviewStatus.DRAFT
    row.reviewer_id = reviewer_id
    row.review_comment = comment
    row.reviewed_at = now
    await deadlines.complete(session, now=now, kind="competitor_review", entity_type=ENTITY, entity_id=row.id)
    await _analysis_due(session, row, now=now, due_hours=due_hours, reopen=True)


async def review(
    session: AsyncSession,
    *,
    now: datetime,
    row: CompetitorAnalysis,
    reviewer_id: int,
    approve: bool,
    comment: str = "",
) -> None:
    """Approve, or comment (the rep sees the comment); either completes the review deadline.
    A comment on an approved analysis keeps it approved."""
    if approve or row.status != ReviewStatus.APPROVED:
        row.status = ReviewStatus.APPROVED if approve else ReviewStatus.COMMENTED
    row.reviewer_id = reviewer_id
    if comment:
        row.review_comment = comment
    row.reviewed_at = now
    await deadlines.complete(session, now=now, kind="competitor_review", entity_type=ENTITY, entity_id=row.id)


async def may_review(session: AsyncSession, user: User, rep_id: int) -> bool:
    """Admins, and anyone above the rep in the supervisor chain."""
    if user.has_role("admin"):
        return True
    seen: set[int] = set()
    current = await session.get(User, rep_id)
    while current is not None and current.supervisor_id is not None and current.supervisor_id not in seen:
        if current.supervisor_id == user.id:
            return True
        seen.add(current.supervisor_id)
        current = await session.get(User, current.supervisor_id)
    return False
