"""Finding a customer's possible twins (杭州一院 vs 杭州市第一人民医院) among many names, fast."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.names import NameKey, key, normalize, score
from storage.models import Customer


@dataclass(frozen=True)
class Twin:
    customer_id: int
    name: str
    score: float


class NameIndex:
    """Names of existing customers, for exact (normalised) and near-duplicate lookups.

    Candidates are pre-filtered with rapidfuzz's C scorers over the canonical forms, then scored
    with :func:`domain.names.score` (which knows that 第一 and 第三 are different hospitals).
    """

    def __init__(self, rows: Iterable[tuple[int, str]] = ()) -> None:
        self.ids: list[int] = []
        self.names: list[str] = []
        self.keys: list[NameKey] = []
        self.canons: list[str] = []
        self.by_norm: dict[str, list[int]] = {}
        self.last_id = 0
        self._known: set[int] = set()
        for customer_id, name in rows:
            self.add(customer_id, name)

    def add(self, customer_id: int, name: str) -> None:
        if customer_id in self._known:
            return
        self._known.add(customer_id)
        self.last_id = max(self.last_id, customer_id)
        self.ids.append(customer_id)
        self.names.append(name)
        k = key(name)
        self.keys.append(k)
        self.canons.append(k.canon)
        self.by_norm.setdefault(normalize(name), []).append(len(self.ids) - 1)

    def __len__(self) -> int:
        return len(self.ids)

    def exact(self, name: str) -> list[Twin]:
        """Customers whose normalised name is the same (a certain twin)."""
        return [Twin(self.ids[i], self.names[i], 100.0) for i in self.by_norm.get(normalize(name), [])]

    def similar(self, name: str, threshold: float) -> list[Twin]:
        """Customers whose name probably means the same place, best first (exact ones included)."""
        wanted = key(name)
        canon = wanted.canon
        if not canon or not self.canons:
            return []
        exact = set(self.by_norm.get(normalize(name), []))
        hits: set[int] = set(exact)
        for _, _, i in process.extract(
            canon, self.canons, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        ):
            hits.add(i)
        if len(canon) >= 3:
            for _, _, i in process.extract(
                canon,
                self.canons,
                scorer=fuzz.partial_ratio,
                score_cutoff=min(100.0, threshold / 0.9),
                limit=None,
            ):
                hits.add(i)
        twins = []
        for i in hits:
            value = 100.0 if i in exact else score(wanted, self.keys[i])
            if value >= threshold:
                twins.append(Twin(self.ids[i], self.names[i], value))
        twins.sort(key=lambda t: (-t.score, t.customer_id))
        return twins


async def load_index(session: AsyncSession, since: NameIndex | None = None) -> NameIndex:
    """Every customer (any owner, any status): a twin hidden from the rep is still a twin.

    With ``since``, only customers added after its newest one are read and appended to it (names do
    not change and customers are never deleted, so an index only ever grows)."""
    index = since if since is not None else NameIndex()
    rows = await session.execute(
        select(Customer.id, Customer.name).where(Customer.id > index.last_id).order_by(Customer.id)
    )
    for cid, name in rows:
        index.add(cid, name)
    return index


async def exact_twins(session: AsyncSession, name: str) -> list[Customer]:
    """Customers with the same normalised name, straight from the database (indexed column)."""
    stmt = select(Customer).where(Customer.normalized_name == normalize(name)).order_by(Customer.id)
    return list((await session.execute(stmt)).scalars())
