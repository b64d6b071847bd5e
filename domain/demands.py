"""Demand confirmations: the customer's own words (a ledger quote), the scenario, what they tried."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Demand, DemandStatus


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    rep_id: int,
    customer_id: int | None,
    visit_id: int | None,
    quote_id: int | None,
    text: str,
    scenario: str,
    tried_solutions: str,
    failure_reason: str,
) -> Demand:
    """One open demand. ``cluster_key`` stays empty: the manager loop assigns clusters."""
    row = Demand(
        customer_id=customer_id,
        rep_id=rep_id,
        visit_id=visit_id,
        quote_id=quote_id,
        text=text,
        scenario=scenario[:40],
        tried_solutions=tried_solutions,
        failure_reason=failure_reason,
        status=DemandStatus.OPEN,
        cluster_key="",
        cluster_label="",
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row
