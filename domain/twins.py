"""Finding a customer's possible twins (杭州一院 vs 杭州市第一人民医院) among many names, fast.

Backed by the identity resolver, so a twin is a name that can mean the same institution (a short
form, a campus, a one-character typo), never merely a similar-looking one: 杭州市第一人民医院 and
杭州市第三人民医院, or two hospitals of one city, are not twins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity.resolver import Resolver
from domain.names import normalize
from storage.models import Customer, CustomerAlias


@dataclass(frozen=True)
class Twin:
    customer_id: int
    name: str
    score: float


class NameIndex:
    """Names of existing customers, for exact (normalised) and near-duplicate lookups."""

    def __init__(self, rows: Iterable[tuple[int, str]] = ()) -> None:
        self.resolver = Resolver()
        self.by_norm: dict[str, list[int]] = {}
        self.last_id = 0
        self.last_alias_id = 0
        self.add_many((cid, name, "") for cid, name in rows)

    def add(self, customer_id: int, name: str, region: str = "") -> None:
        self.add_many([(customer_id, name, region)])

    def add_many(self, rows: Iterable[tuple[int, str, str]]) -> None:
        fresh = [r for r in rows if r[0] not in self.resolver.entries]
        self.resolver.extend(fresh)
        for customer_id, name, _ in fresh:
            self.last_id = max(self.last_id, customer_id)
            self.by_norm.setdefault(normalize(name), []).append(customer_id)

    def __len__(self) -> int:
        return len(self.resolver)

    def _name(self, customer_id: int) -> str:
        return self.resolver.entries[customer_id].name

    def exact(self, name: str) -> list[Twin]:
        """Customers whose normalised name is the same (a certain twin)."""
        return [Twin(cid, self._name(cid), 100.0) for cid in self.by_norm.get(normalize(name), [])]

    def similar(self, name: str, threshold: float) -> list[Twin]:
        """Customers ``name`` can mean (exact ones included), surest first."""
        if not normalize(name):
            return []
        twins = [Twin(c.id, c.name, c.score) for c in self.resolver.candidates(name) if c.score >= threshold]
        twins.sort(key=lambda t: (-t.score, t.customer_id))
        return twins


async def load_index(session: AsyncSession, since: NameIndex | None = None) -> NameIndex:
    """Every customer (any owner, any status) and every alias: a twin hidden from the rep is still a twin.

    With ``since``, only customers and aliases added after its newest ones are read (names do not
    change, customers are never deleted, aliases are only added: an index only ever grows)."""
    index = since if since is not None else NameIndex()
    rows = await session.execute(
        select(Customer.id, Customer.name, Customer.region)
        .where(Customer.id > index.last_id)
        .order_by(Customer.id)
    )
    index.add_many((cid, name, region or "") for cid, name, region in rows)
    aliases = await session.execute(
        select(CustomerAlias.id, CustomerAlias.alias, CustomerAlias.customer_id)
        .where(CustomerAlias.id > index.last_alias_id)
        .order_by(CustomerAlias.id)
    )
    for alias_id, alias, customer_id in aliases:
        index.resolver.add_alias(alias, customer_id)
        index.last_alias_id = max(index.last_alias_id, alias_id)
    return index


async def exact_twins(session: AsyncSession, name: str) -> list[Customer]:
    """Customers with the same normalised name, straight from the database (indexed column)."""
    stmt = select(Customer).where(Customer.normalized_name == normalize(name)).order_by(Customer.id)
    return list((await session.execute(stmt)).scalars())
