"""Who hears about whose customers: each manager about the reps below them in the supervisor chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User, UserStatus


@dataclass
class Scopes:
    users: dict[int, User]
    managers: list[tuple[User, set[int]]] = field(default_factory=list)  # manager → user ids below them
    uncovered: set[int] = field(default_factory=set)  # active users no manager is above

    def name(self, user_id: int | None) -> str:
        user = self.users.get(user_id) if user_id is not None else None
        return user.name if user is not None else "未分配"


async def manager_scopes(session: AsyncSession) -> Scopes:
    users = {u.id: u for u in (await session.execute(select(User).order_by(User.id))).scalars()}
    children: dict[int | None, list[int]] = {}
    for u in users.values():
        children.setdefault(u.supervisor_id, []).append(u.id)
    scopes = Scopes(users)
    covered: set[int] = set()
    for u in users.values():
        if u.status != UserStatus.ACTIVE or not u.has_role("manager"):
            continue
        below: set[int] = set()
        frontier = [u.id]
        while frontier:
            nxt = [c for uid in frontier for c in children.get(uid, []) if c not in below and c != u.id]
            below.update(nxt)
            frontier = nxt
        scopes.managers.append((u, below))
        covered |= below
    scopes.uncovered = {
        uid for uid, u in users.items() if u.status == UserStatus.ACTIVE and uid not in covered
    }
    return scopes


def visible_to(scopes: Scopes, user: User) -> set[int] | None:
    """Owner ids whose customers ``user`` may see in manager views (None = all, for admins)."""
    if user.has_role("admin"):
        return None
    for manager, below in scopes.managers:
        if manager.id == user.id:
            return below | {user.id}
    return {user.id}
