"""Progress updates: the activity stream that freshness, stale scans and digests read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, ProgressUpdate


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    customer: Customer,
    rep_id: int,
    kind: str,
    progress: str = "",
    note: str = "",
    visit_id: int | None = None,
    valid: bool = True,
) -> ProgressUpdate:
    """Add one update and keep ``customers.last_update_at`` current in the same transaction."""
    row = ProgressUpdate(
        customer_id=customer.id,
        rep_id=rep_id,
        visit_id=visit_id,
        kind=kind,
        progress=progress[:60],
        note=note,
        valid=valid,
        created_at=now,
    )
    session.add(row)
    if valid and (customer.last_update_at is None or customer.last_update_at < now):
        customer.last_update_at = now
    customer.updated_at = now
    await session.flush()
    return row
