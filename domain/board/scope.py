"""Who sees what on the board: exactly the chat's rules (domain/access.py), by role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import visible_owner_ids
from storage.models import Customer, User, UserRole, UserStatus

CUSTOMER_ROLES = frozenset({"rep", "manager", "admin"})


@dataclass(frozen=True)
class Scope:
    user: User
    owner_ids: frozenset[int] | None  # None: everyone's customers (admins)

    @property
    def roles(self) -> set[str]:
        return self.user.roles

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def sees_customers(self) -> bool:
        return bool(self.roles & CUSTOMER_ROLES)

    @property
    def sees_team(self) -> bool:
        return bool(self.roles & {"manager", "admin"})

    @property
    def sees_themes(self) -> bool:
        return bool(self.roles & {"product", "admin"})

    @property
    def sees_rebates(self) -> bool:
        return bool(self.roles & {"finance", "admin"})

    def customer_filter(self) -> ColumnElement[bool]:
        """The same condition as ``domain.access.customer_filter`` (own, team's, shared; all for admins)."""
        if not self.sees_customers:
            return false()
        if self.owner_ids is None:
            return true()
        if not self.owner_ids:
            return Customer.shared.is_(True)
        return or_(Customer.owner_id.in_(self.owner_ids), Customer.shared.is_(True))

    def sees_owner(self, owner_id: int | None) -> bool:
        return self.sees_customers and (self.owner_ids is None or owner_id in self.owner_ids)

    def sees_customer(self, customer: Customer) -> bool:
        return self.sees_customers and (customer.shared or self.sees_owner(customer.owner_id))


async def scope_for(session: AsyncSession, user: User) -> Scope:
    owners = await visible_owner_ids(session, user)
    return Scope(user, None if owners is None else frozenset(owners))


async def reps_in_scope(session: AsyncSession, scope: Scope) -> list[User]:
    """Active reps whose numbers this viewer sees: all (admin), the team (manager), themselves (rep)."""
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "rep", User.status == UserStatus.ACTIVE)
        .order_by(User.team, User.name, User.id)
    )
    if scope.owner_ids is not None:
        stmt = stmt.where(User.id.in_(scope.owner_ids))
    return list((await session.execute(stmt)).scalars().unique())
