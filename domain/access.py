"""Who may see and change which customers: reps their own (and shared), managers their team's."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from domain.directory import subordinates
from storage.models import Customer, User


async def visible_owner_ids(session: AsyncSession, user: User) -> set[int] | None:
    """Owner ids whose customers ``user`` sees; None means all (admins)."""
    if user.has_role("admin"):
        return None
    owners = {user.id}
    if user.has_role("manager"):
        owners |= {u.id for u in await subordinates(session, user.id)}
    return owners


async def customer_filter(session: AsyncSession, user: User) -> ColumnElement[bool]:
    owners = await visible_owner_ids(session, user)
    if owners is None:
        return true()
    return or_(Customer.owner_id.in_(owners), Customer.shared.is_(True)) if owners else false()


async def can_edit(session: AsyncSession, user: User, customer: Customer) -> bool:
    owners = await visible_owner_ids(session, user)
    return owners is None or customer.shared or customer.owner_id in owners


async def knows_owner(session: AsyncSession, user: User, customer: Customer) -> bool:
    """Whether ``user`` may learn who owns ``customer`` (the duplicate hints of 新建客户): what they
    may see, and their own team's customers; another team's customer is only said to exist."""
    if await can_edit(session, user, customer):
        return True
    if customer.owner_id is None:
        return False
    owner = await session.get(User, customer.owner_id)
    return owner is not None and owner.team == user.team
