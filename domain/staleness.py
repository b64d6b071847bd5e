"""The manager scans: stale customers, zombie customers, stale or replaced key persons.

Each is one indexed query over ``customers`` (or ``key_persons``) returning plain rows, shared by the
scheduled alerts, the chat commands and the benchmark.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Customer, CustomerStatus, KeyPerson, KeyPersonStatus


@dataclass(frozen=True)
class StaleCustomer:
    id: int
    name: str
    owner_id: int | None
    stage: str
    last_update_at: datetime | None
    hours: float  # since the last update (or since the customer was created, if never updated)


@dataclass(frozen=True)
class ZombieCustomer:
    id: int
    name: str
    owner_id: int | None
    last_deal_at: datetime | None
    days: int  # since the last deal (or since the lead was created, if never)


@dataclass(frozen=True)
class KeyPersonAlert:
    key_person_id: int
    customer_id: int
    customer_name: str
    owner_id: int | None
    name: str
    role_group: str
    title: str
    reason: str  # stale | replaced
    last_contact_on: date | None
    successor: str  # the replacing contact's name, when known


def _older_than(cutoff: datetime) -> ColumnElement[bool]:
    return or_(
        Customer.last_update_at < cutoff,
        and_(Customer.last_update_at.is_(None), Customer.created_at < cutoff),
    )


def stale_condition(now: datetime, hours: float, by_stage: Mapping[str, float]) -> ColumnElement[bool]:
    """Active customers without an update for ``hours`` (per-stage overrides in ``by_stage``)."""
    parts = [
        and_(Customer.stage == stage, _older_than(now - timedelta(hours=h))) for stage, h in by_stage.items()
    ]
    default = _older_than(now - timedelta(hours=hours))
    parts.append(and_(Customer.stage.notin_(list(by_stage)), default) if by_stage else default)
    return and_(Customer.status == CustomerStatus.ACTIVE, or_(*parts))


def _first_per_owner(stmt: Any, order: ColumnElement[Any], per_owner: int | None) -> Any:
    """Keep only the first ``per_owner`` rows of each owner (by ``order``), computed in SQL."""
    if per_owner is None:
        return stmt
    # "owner_id + 0" is an expression, so SQLite does not walk the owner index over every customer.
    owner = Customer.owner_id + 0
    rank = func.row_number().over(partition_by=owner, order_by=(order, Customer.id)).label("rank")
    sub = stmt.add_columns(rank).subquery()
    return select(*[c for c in sub.c if c.name != "rank"]).where(sub.c.rank <= per_owner)


async def _counts(
    session: AsyncSession, condition: ColumnElement[bool], owner_ids: Collection[int] | None
) -> dict[int | None, int]:
    owner = (Customer.owner_id + 0).label("owner")  # see _first_per_owner
    stmt = select(owner, func.count()).where(condition).group_by(owner)
    if owner_ids is not None:
        stmt = stmt.where(Customer.owner_id.in_(list(owner_ids)))
    return {owner: int(n) for owner, n in (await session.execute(stmt)).all()}


async def stale_counts(
    session: AsyncSession,
    now: datetime,
    hours: float,
    *,
    by_stage: Mapping[str, float] | None = None,
    owner_ids: Collection[int] | None = None,
) -> dict[int | None, int]:
    """Stale customers per owner."""
    return await _counts(session, stale_condition(now, hours, by_stage or {}), owner_ids)


async def stale_customers(
    session: AsyncSession,
    now: datetime,
    hours: float,
    *,
    by_stage: Mapping[str, float] | None = None,
    owner_ids: Collection[int] | None = None,
    per_owner: int | None = None,
) -> list[StaleCustomer]:
    """Most stale first; with ``per_owner``, only each owner's most stale ones (use stale_counts too)."""
    stmt = select(
        Customer.id,
        Customer.name,
        Customer.owner_id,
        Customer.stage,
        Customer.last_update_at,
        Customer.created_at,
    ).where(stale_condition(now, hours, by_stage or {}))
    if owner_ids is not None:
        stmt = stmt.where(Customer.owner_id.in_(list(owner_ids)))
    stmt = _first_per_owner(stmt, func.coalesce(Customer.last_update_at, Customer.created_at), per_owner)
    out = []
    rows: list[Any] = list((await session.execute(stmt)).all())
    for cid, name, owner, stage, last, created in rows:
        since = last or created
        out.append(StaleCustomer(cid, name, owner, stage, last, (now - since).total_seconds() / 3600))
    out.sort(key=lambda s: (-s.hours, s.id))
    return out


def zombie_condition(now: datetime, days: int) -> ColumnElement[bool]:
    baseline = func.coalesce(Customer.last_deal_at, Customer.lead_created_at, Customer.created_at)
    return and_(Customer.status == CustomerStatus.ACTIVE, baseline < now - timedelta(days=days))


async def zombie_counts(
    session: AsyncSession, now: datetime, days: int, *, owner_ids: Collection[int] | None = None
) -> dict[int | None, int]:
    """Zombie customers per owner."""
    return await _counts(session, zombie_condition(now, days), owner_ids)


_ZOMBIE_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.owner_id,
    Customer.last_deal_at,
    Customer.lead_created_at,
    Customer.created_at,
)
_UNION_CHUNK = 400  # SQLite allows 500 terms in one compound SELECT


async def zombie_customers(
    session: AsyncSession,
    now: datetime,
    days: int,
    *,
    owner_ids: Collection[int] | None = None,
    per_owner: int | None = None,
) -> list[ZombieCustomer]:
    """Active customers with no deal for ``days`` (never-dealt ones count from lead creation); with
    ``per_owner``, only each owner's longest-idle ones (use zombie_counts for totals)."""
    if per_owner is not None:
        rows = await _zombies_per_owner(session, now, days, owner_ids, per_owner)
    else:
        stmt = select(*_ZOMBIE_COLUMNS).where(zombie_condition(now, days))
        if owner_ids is not None:
            stmt = stmt.where(Customer.owner_id.in_(list(owner_ids)))
        rows = list((await session.execute(stmt)).all())
    out = []
    for cid, name, owner, deal, lead, created in rows:
        since = deal or lead or created
        out.append(ZombieCustomer(cid, name, owner, deal, (now - since).days))
    out.sort(key=lambda z: (-z.days, z.id))
    return out


async def _zombies_per_owner(
    session: AsyncSession, now: datetime, days: int, owner_ids: Collection[int] | None, per_owner: int
) -> list[Any]:
    """Each owner's ``per_owner`` longest-idle zombies: one short index range per owner
    (ix_customers_active_owner_deal_base), instead of ranking every zombie with a window function."""
    if owner_ids is None:
        owners_stmt = select(Customer.owner_id).where(Customer.status == CustomerStatus.ACTIVE).distinct()
        owners: list[int | None] = list((await session.execute(owners_stmt)).scalars())
    else:
        owners = list(owner_ids)
    baseline = func.coalesce(Customer.last_deal_at, Customer.lead_created_at, Customer.created_at)
    cutoff = now - timedelta(days=days)
    parts = []
    for owner in owners:
        owned = Customer.owner_id.is_(None) if owner is None else Customer.owner_id == owner
        part = (
            select(*_ZOMBIE_COLUMNS)
            .where(Customer.status == CustomerStatus.ACTIVE, owned, baseline < cutoff)
            .order_by(baseline, Customer.id)
            .limit(per_owner)
            .subquery()
        )
        parts.append(select(part))
    rows: list[Any] = []
    for start in range(0, len(parts), _UNION_CHUNK):
        chunk = parts[start : start + _UNION_CHUNK]
        stmt = chunk[0] if len(chunk) == 1 else union_all(*chunk)
        rows += list((await session.execute(stmt)).all())
    return rows


async def active_customer_counts(
    session: AsyncSession, *, owner_ids: Collection[int] | None = None
) -> dict[int | None, int]:
    stmt = (
        select(Customer.owner_id, func.count())
        .where(Customer.status == CustomerStatus.ACTIVE)
        .group_by(Customer.owner_id)
    )
    if owner_ids is not None:
        stmt = stmt.where(Customer.owner_id.in_(list(owner_ids)))
    return {owner: int(n) for owner, n in (await session.execute(stmt)).all()}


async def key_person_alerts(session: AsyncSession, today: date, stale_days: int) -> list[KeyPersonAlert]:
    """Decision-chain contacts of active customers not reached for ``stale_days``, or replaced."""
    new = aliased(KeyPerson)  # the replacing contact
    cutoff = today - timedelta(days=stale_days)
    stmt = (
        select(KeyPerson, Customer.name, Customer.owner_id, new.name)
        .join(Customer, Customer.id == KeyPerson.customer_id)
        .outerjoin(new, new.id == KeyPerson.replaced_by_id)
        .where(
            Customer.status == CustomerStatus.ACTIVE,
            or_(
                and_(
                    KeyPerson.status == KeyPersonStatus.ACTIVE,
                    or_(KeyPerson.last_contact_on < cutoff, KeyPerson.last_contact_on.is_(None)),
                ),
                KeyPerson.status == KeyPersonStatus.REPLACED,
            ),
        )
        .order_by(Customer.id, KeyPerson.id)
    )
    out = []
    for kp, customer_name, owner, successor_name in (await session.execute(stmt)).all():
        out.append(
            KeyPersonAlert(
                kp.id,
                kp.customer_id,
                customer_name,
                owner,
                kp.name,
                kp.role_group,
                kp.title,
                "replaced" if kp.status == KeyPersonStatus.REPLACED else "stale",
                kp.last_contact_on,
                successor_name or "",
            )
        )
    return out
