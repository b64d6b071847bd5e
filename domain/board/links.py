"""One-time login links for the board (the `看板` command): short-lived, single use.

Only the SHA-256 of the token is stored, so the database never holds a usable link."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BoardLink, User, UserStatus


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def issue(
    session: AsyncSession, *, now: datetime, user_id: int, ttl: timedelta, next_path: str = ""
) -> str:
    token = secrets.token_urlsafe(24)
    session.add(
        BoardLink(
            token_sha256=_digest(token),
            user_id=user_id,
            next_path=next_path[:300],
            expires_at=now + ttl,
            created_at=now,
        )
    )
    await session.flush()
    return token


@dataclass(frozen=True)
class Redeemed:
    user: User | None  # None: refused, see ``problem``
    next_path: str = ""
    problem: str = ""  # unknown | used | expired | inactive


async def redeem(session: AsyncSession, *, now: datetime, token: str) -> Redeemed:
    """Use the link once. A second use, an expired or an unknown token is refused."""
    if not token or len(token) > 200:
        return Redeemed(None, problem="unknown")
    digest = _digest(token)
    row = await session.get(BoardLink, digest)
    if row is None:
        return Redeemed(None, problem="unknown")
    if row.used_at is not None:
        return Redeemed(None, problem="used")
    if row.expires_at <= now:
        return Redeemed(None, problem="expired")
    # Claim it atomically: two tabs opening the same link at once get one session between them.
    claimed = await session.execute(
        update(BoardLink)
        .where(BoardLink.token_sha256 == digest, BoardLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return Redeemed(None, problem="used")
    user = (await session.execute(select(User).where(User.id == row.user_id))).scalar_one_or_none()
    if user is None or user.status != UserStatus.ACTIVE:
        return Redeemed(None, problem="inactive")
    return Redeemed(user, next_path=row.next_path)
