"""Required actions with due times. Rows are swept by the scheduler; done/on-time feeds compliance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Deadline, DeadlineStatus


async def schedule(
    session: AsyncSession,
    *,
    now: datetime,
    kind: str,
    entity_type: str,
    entity_id: int,
    user_id: int | None,
    due_at: datetime,
    required: bool = True,
    reopen: bool = False,
) -> Deadline:
    """Create the deadline, or move a pending one to the new due time. ``reopen``: a deadline already
    done or cancelled is pending again (work sent back to be redone)."""
    row = await get(session, kind=kind, entity_type=entity_type, entity_id=entity_id)
    if row is None:
        row = Deadline(
            kind=kind,
            entity_type=entity_type,
            entity_id=entity_id,
            user_id=user_id,
            required=required,
            due_at=due_at,
            status=DeadlineStatus.PENDING,
            created_at=now,
        )
        session.add(row)
        await session.flush()
    elif row.status == DeadlineStatus.PENDING:
        row.due_at = due_at
    elif reopen:
        row.status, row.due_at, row.done_at, row.on_time = DeadlineStatus.PENDING, due_at, None, None
        row.reminded_at = row.escalated_at = None
    return row


async def get(session: AsyncSession, *, kind: str, entity_type: str, entity_id: int) -> Deadline | None:
    stmt = select(Deadline).where(
        Deadline.kind == kind, Deadline.entity_type == entity_type, Deadline.entity_id == entity_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def complete(
    session: AsyncSession, *, now: datetime, kind: str, entity_type: str, entity_id: int
) -> Deadline | None:
    """Mark done; ``on_time`` records whether it was done by ``due_at``."""
    row = await get(session, kind=kind, entity_type=entity_type, entity_id=entity_id)
    if row is None or row.status != DeadlineStatus.PENDING:
        return row
    row.status = DeadlineStatus.DONE
    row.done_at = now
    row.on_time = now <= row.due_at
    return row


async def cancel(session: AsyncSession, *, kind: str, entity_type: str, entity_id: int) -> Deadline | None:
    row = await get(session, kind=kind, entity_type=entity_type, entity_id=entity_id)
    if row is not None and row.status == DeadlineStatus.PENDING:
        row.status = DeadlineStatus.CANCELLED
    return row
