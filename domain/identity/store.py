"""The resolver over the database: customers and their aliases, kept per database and topped up.

Customers are never deleted and their names do not change, aliases are only added: an index only
grows, so each lookup reads just the rows added since the last one (two primary-key range reads).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import customer_filter
from domain.identity.parse import flat
from domain.identity.resolver import Candidate, Home, Resolution, Resolver, decide, home_of
from storage.models import Customer, CustomerAlias, CustomerStatus, User

log = logging.getLogger(__name__)

_CACHE: dict[str, Resolver] = {}
MIN_ALIAS = 2


def _cache_key(session: AsyncSession) -> str:
    bind = session.bind
    return str(getattr(bind, "url", id(bind)))


async def index(session: AsyncSession, *, fresh: bool = False) -> Resolver:
    """Every customer (any owner, any status) and every alias, as of now."""
    key = _cache_key(session)
    resolver = None if fresh else _CACHE.get(key)
    if resolver is not None:
        newest = (await session.execute(select(func.max(Customer.id)))).scalar() or 0
        if newest < resolver.last_id:  # the database was emptied and filled again
            resolver = None
    if resolver is None:
        resolver = Resolver()
    rows = await session.execute(
        select(Customer.id, Customer.name, Customer.region)
        .where(Customer.id > resolver.last_id)
        .order_by(Customer.id)
    )
    new = [(cid, name, region or "") for cid, name, region in rows]
    if new:
        resolver.extend(new)
    aliases = await session.execute(
        select(CustomerAlias.id, CustomerAlias.alias, CustomerAlias.customer_id)
        .where(CustomerAlias.id > resolver.last_alias_id)
        .order_by(CustomerAlias.id)
    )
    for alias_id, alias, customer_id in aliases:
        resolver.add_alias(alias, customer_id, alias_id)
    if not fresh:
        _CACHE[key] = resolver
    return resolver


def home_for(user: User | None) -> Home:
    return home_of(user.region) if user is not None and user.region else Home()


async def home_of_user(session: AsyncSession, resolver: Resolver, user: User | None) -> Home:
    """Where ``user`` works: their 区域 field, else the province most of their own customers are in
    (at least 60 % of up to 200 of them)."""
    home = home_for(user)
    if user is None or home.province is not None:
        return home
    ids = (
        await session.execute(select(Customer.id).where(Customer.owner_id == user.id).limit(200))
    ).scalars()
    provinces = Counter(
        p for i in ids if i in resolver.entries and (p := resolver.entries[i].ident.province) and p != "@"
    )
    if provinces:
        province, count = provinces.most_common(1)[0]
        if count >= 0.6 * sum(provinces.values()):
            return Home(province, None)
    return home


async def _visible(session: AsyncSession, user: User | None, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    stmt = select(Customer.id).where(Customer.id.in_(ids), Customer.status == CustomerStatus.ACTIVE)
    if user is not None:
        stmt = stmt.where(await customer_filter(session, user))
    return set((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class Found:
    """A resolution with the candidate customers loaded (same order)."""

    resolution: Resolution
    customers: list[Customer]

    @property
    def outcome(self) -> str:
        return self.resolution.outcome

    @property
    def customer(self) -> Customer | None:
        return self.customers[0] if self.outcome == "exact" and self.customers else None


def _stale(resolver: Resolver, customers: list[Customer]) -> bool:
    """A cached entry whose id now holds another name: rows added by a transaction that was rolled
    back, their ids reused (SQLite). The cache is then rebuilt."""
    return any(c.id in resolver.entries and resolver.entries[c.id].name != c.name for c in customers)


async def resolve(session: AsyncSession, user: User | None, text: str, *, limit: int = 5) -> Found:
    """What ``text`` names among the active customers ``user`` may see (None = all)."""
    found = await _resolve(session, user, text, limit)
    if _stale(await index(session), found.customers):
        _CACHE.pop(_cache_key(session), None)
        found = await _resolve(session, user, text, limit)
    return found


async def _alias_gone(session: AsyncSession, resolver: Resolver, text: str) -> bool:
    """A cached alias for ``text`` that was removed (here or by another process) is dropped."""
    key = flat(text)
    cached = resolver.aliases.get(key)
    if cached is None:
        return False
    stored = (
        await session.execute(select(CustomerAlias.customer_id).where(CustomerAlias.normalized == key))
    ).scalar()
    if stored == cached:
        return False
    resolver.drop_alias(text)
    if stored is not None:
        resolver.add_alias(text, stored)
    return True


async def _resolve(session: AsyncSession, user: User | None, text: str, limit: int) -> Found:
    resolver = await index(session)
    await _alias_gone(session, resolver, text)
    home = await home_of_user(session, resolver, user)
    found = resolver.candidates(text, home)
    visible = await _visible(session, user, [c.id for c in found])
    found = [c for c in found if c.id in visible]
    local = {c.id for c in found if home.province and resolver.entries[c.id].ident.province == home.province}
    resolution = decide(found, learnable=resolver.learnable(text, home), limit=limit, home=local)
    return Found(resolution, await _load(session, resolution.candidates))


async def _load(session: AsyncSession, candidates: tuple[Candidate, ...]) -> list[Customer]:
    if not candidates:
        return []
    ids = [c.id for c in candidates]
    rows = await session.execute(select(Customer).where(Customer.id.in_(ids)))
    by_id = {c.id: c for c in rows.scalars()}
    return [by_id[i] for i in ids if i in by_id]


class AliasRefused(Exception):
    """Why an alias cannot be added; ``reason`` is shown to the user as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def owner_of_alias(session: AsyncSession, alias: str) -> tuple[Customer, bool] | None:
    """The customer ``alias`` already names, and whether literally (its name or an alias) rather
    than through the resolver (杭州一院 → 杭州市第一人民医院)."""
    key = flat(alias)
    row = await session.execute(
        select(Customer)
        .join(CustomerAlias, CustomerAlias.customer_id == Customer.id)
        .where(CustomerAlias.normalized == key)
    )
    hit = row.scalars().first()
    if hit is not None:
        return hit, True
    resolver = await index(session)
    for cid in sorted(resolver.by_flat.get(key, ())):
        named = await session.get(Customer, cid)
        if named is not None and flat(named.name) == key:
            return named, True
    found = decide([c for c in resolver.candidates(alias) if c.tier != 0])
    if found.outcome == "exact" and found.best is not None:
        resolved = await session.get(Customer, found.best.id)
        if resolved is not None and resolved.name == found.best.name:
            return resolved, False
    return None


async def add_alias(
    session: AsyncSession,
    *,
    customer: Customer,
    alias: str,
    now: datetime,
    user: User | None,
    source: str = "manual",
) -> CustomerAlias | None:
    """Remember ``alias`` for ``customer`` for the whole team. Returns None when it already is one
    of the customer's names; raises AliasRefused when it names another customer or is too short."""
    text = alias.strip()
    key = flat(text)
    if len(key) < MIN_ALIAS:
        raise AliasRefused(f"别名「{text}」太短了，至少 {MIN_ALIAS} 个字。")
    if len(text) > 200:
        raise AliasRefused("别名太长了，请控制在 200 字以内。")
    taken = await owner_of_alias(session, text)
    if taken is not None and taken[0].id != customer.id:
        raise AliasRefused(
            f"「{text}」已经是客户「{taken[0].name}」的名称或别名，不能再用于「{customer.name}」。"
        )
    if taken is not None and taken[1]:
        return None
    row = CustomerAlias(
        customer_id=customer.id,
        alias=text,
        normalized=key,
        source=source,
        created_by=user.id if user is not None else None,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    log.info("alias %r added to customer %s (%s)", key, customer.id, source)
    return row


async def remove_alias(session: AsyncSession, alias: str) -> CustomerAlias | None:
    """Delete ``alias`` (any customer's); returns the row deleted, None when there was none."""
    row = (
        await session.execute(select(CustomerAlias).where(CustomerAlias.normalized == flat(alias)))
    ).scalar_one_or_none()
    if row is None:
        return None
    await session.delete(row)
    await session.flush()
    (await index(session)).drop_alias(alias)
    return row


async def aliases_of(session: AsyncSession, customer_id: int) -> list[str]:
    rows = await session.execute(
        select(CustomerAlias.alias).where(CustomerAlias.customer_id == customer_id).order_by(CustomerAlias.id)
    )
    return list(rows.scalars())


async def remember_pick(
    session: AsyncSession, *, typed: str, customer: Customer, user: User | None, now: datetime
) -> bool:
    """After a rep picked ``customer`` for what they typed: keep it as a team alias when the typed
    text names one institution by itself and is free. Returns whether an alias was added."""
    resolver = await index(session)
    if flat(typed) == flat(customer.name) or not resolver.learnable(typed, home_for(user)):
        return False
    try:
        return (
            await add_alias(session, customer=customer, alias=typed, now=now, user=user, source="pick")
            is not None
        )
    except AliasRefused as exc:
        log.info("pick for %r not remembered: %s", typed, exc.reason)
        return False
