"""Join requests: an unknown platform id that wrote to the bot waits for an admin to approve or reject it.

Everything here works inside the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PendingSender, PendingStatus, User


async def open_request(
    session: AsyncSession,
    *,
    now: datetime,
    channel: str,
    platform_id: str,
    display_name: str,
    first_text: str,
) -> PendingSender:
    """The first message of someone unknown: a pending request, admins not told yet."""
    pending = PendingSender(
        channel=channel,
        platform_id=platform_id,
        display_name=display_name,
        first_text=first_text,
        message_count=1,
        status=PendingStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(pending)
    await session.flush()
    return pending


def seen_again(pending: PendingSender, now: datetime) -> None:
    """Another message from someone already waiting (or rejected)."""
    pending.message_count += 1
    pending.updated_at = now


def admins_told(pending: PendingSender, now: datetime) -> None:
    """The admins were told about the request (they are told once)."""
    pending.admins_notified_at = now


def approve_request(pending: PendingSender, user: User, now: datetime) -> None:
    """The request is settled: the sender is ``user`` now."""
    pending.status, pending.user_id, pending.updated_at = PendingStatus.APPROVED, user.id, now


def reject_request(pending: PendingSender, now: datetime) -> None:
    pending.status, pending.updated_at = PendingStatus.REJECTED, now
