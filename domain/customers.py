"""Customer lookups shared by handlers and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import customer_filter
from domain.names import key, normalize, score
from storage.models import Customer, User


@dataclass(frozen=True)
class Match:
    customer: Customer
    score: float


async def search(
    session: AsyncSession, user: User | None, text: str, *, limit: int = 5, threshold: float = 60.0
) -> list[Match]:
    """Customers whose name resembles ``text``, best first; only those ``user`` may see (None = all)."""
    wanted = normalize(text)
    if not wanted:
        return []
    # Score on three columns, then load only the few winners (a full Customer row drags its key
    # persons and tags along, which for an admin over 100k customers is seconds).
    stmt = select(Customer.id, Customer.name, Customer.normalized_name).where(Customer.status == "active")
    if user is not None:
        stmt = stmt.where(await customer_filter(session, user))
    wanted_key = key(text)
    scored: list[tuple[float, int]] = []
    for cid, name, normalized in await session.execute(stmt):
        value = 100.0 if normalized == wanted else score(wanted_key, key(name))
        if value >= threshold:
            scored.append((value, cid))
    scored.sort(key=lambda m: (-m[0], m[1]))
    scored = scored[:limit]
    if not scored:
        return []
    rows = await session.execute(select(Customer).where(Customer.id.in_([cid for _, cid in scored])))
    by_id = {c.id: c for c in rows.scalars()}
    return [Match(by_id[cid], score) for score, cid in scored if cid in by_id]


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
