"""Finding people: by platform id, by role, by name; supervisor chains."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import User, UserRole, UserStatus

_COLUMN = {
    "dingtalk": User.dingtalk_staff_id,
    "wecom": User.wecom_userid,
    "console": User.console_id,
}
# Built once: every event looks its sender up, and building the query cost more than running it.
_BY_PLATFORM_ID = {
    channel: select(User).options(joinedload(User.role_rows)).where(column == bindparam("pid"))
    for channel, column in _COLUMN.items()
}


async def find_by_platform_id(session: AsyncSession, channel: str, platform_id: str) -> User | None:
    stmt = _BY_PLATFORM_ID.get(channel)
    if stmt is None or not platform_id:
        return None
    return (await session.execute(stmt, {"pid": platform_id})).unique().scalar_one_or_none()


async def with_role(session: AsyncSession, role: str) -> list[User]:
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.status == UserStatus.ACTIVE)
        .order_by(User.id)
    )
    return list((await session.execute(stmt)).scalars())


async def find_by_name(session: AsyncSession, name: str) -> list[User]:
    stmt = select(User).where(User.name == name.strip(), User.status != UserStatus.INACTIVE).order_by(User.id)
    return list((await session.execute(stmt)).scalars())


async def subordinates(session: AsyncSession, manager_id: int) -> list[User]:
    """Everyone below ``manager_id`` in the supervisor chain (cycle-safe)."""
    users = list((await session.execute(select(User))).scalars())
    children: dict[int | None, list[User]] = {}
    for u in users:
        children.setdefault(u.supervisor_id, []).append(u)
    out: list[User] = []
    seen = {manager_id}
    frontier = [manager_id]
    while frontier:
        nxt: list[int] = []
        for uid in frontier:
            for child in children.get(uid, []):
                if child.id not in seen:
                    seen.add(child.id)
                    out.append(child)
                    nxt.append(child.id)
        frontier = nxt
    return out
