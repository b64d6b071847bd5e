"""Customer lookups shared by handlers and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import customer_filter
from domain.names import normalize, similarity
from storage.models import Customer, User


@dataclass(frozen=True)
class Match:
    customer: Customer
    score: float


async def search(
    session: AsyncSession, user: User | None, text: str, *, limit: int = 5, threshold: float = 60.0
) -> list[Match]:
    """Customers whose name resembles ``text``, best first; only those ``user`` may see (None = all)."""
    stmt = select(Customer).where(Customer.status == "active")
    if user is not None:
        stmt = stmt.where(await customer_filter(session, user))
    wanted = normalize(text)
    if not wanted:
        return []
    matches = []
    for customer in (await session.execute(stmt)).scalars():
        score = 100.0 if customer.normalized_name == wanted else similarity(text, customer.name)
        if score >= threshold:
            matches.append(Match(customer, score))
    matches.sort(key=lambda m: (-m.score, m.customer.id))
    return matches[:limit]


def pick(matches: list[Match]) -> Customer | None:
    """The single confident match, if there is one."""
    if not matches:
        return None
    best = matches[0]
    if best.score >= 99.5:
        return best.customer
    if best.score >= 80 and (len(matches) == 1 or matches[1].score < best.score - 10):
        return best.customer
    return None
