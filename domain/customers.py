"""Customer lookups shared by handlers and jobs (through the identity resolver)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity import store
from storage.models import Customer, User


@dataclass(frozen=True)
class Match:
    customer: Customer
    score: float
    exact: bool = False  # the resolver opened it: the only institution the text can mean
    learn: bool = False  # the one candidate offered: once the rep confirms it, remember the text


async def search(
    session: AsyncSession, user: User | None, text: str, *, limit: int = 5, threshold: float = 60.0
) -> list[Match]:
    """The customers ``text`` can name, surest first; only those ``user`` may see (None = all).

    One match with ``exact`` set: open it. Otherwise the candidates to offer (one) or ask about
    (several). ``threshold`` is kept for callers; the resolver decides by rules, not by a score."""
    if not text.strip():
        return []
    found = await store.resolve(session, user, text, limit=limit)
    exact = found.outcome == "exact"
    learn = found.outcome == "pick" and found.resolution.learnable
    by_id = {c.id: c for c in found.customers}
    return [
        Match(by_id[c.id], c.score, exact, learn)
        for c in found.resolution.candidates
        if c.id in by_id and c.score >= min(threshold, 80.0)
    ]


def pick(matches: list[Match]) -> Customer | None:
    """The one customer the text names, if the resolver was sure."""
    if len(matches) == 1 and matches[0].exact:
        return matches[0].customer
    return None
