"""Named alert targets saved by admins in chat (``group_targets``), beside the groups in the config.

Everything here works inside the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import GroupTarget


async def save_target(
    session: AsyncSession, *, now: datetime, name: str, channel: str, kind: str, address: str, secret: str
) -> GroupTarget:
    """The group ``name`` is reached this way from now on (a new row, or the saved one replaced)."""
    row = await session.get(GroupTarget, name)
    if row is None:
        row = GroupTarget(
            name=name, channel=channel, kind=kind, address=address, secret=secret, updated_at=now
        )
        session.add(row)
    else:
        row.channel, row.kind, row.address, row.secret, row.updated_at = channel, kind, address, secret, now
    await session.flush()
    return row


async def delete_target(session: AsyncSession, row: GroupTarget) -> None:
    await session.delete(row)
