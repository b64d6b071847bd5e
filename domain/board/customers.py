"""The customers table: the viewer's customers, filtered, most stale first; and the XLSX rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import AlertSettings
from domain.board.scope import Scope
from domain.profiles import MIN_KEY_PERSONS
from domain.staleness import stale_condition, zombie_condition
from storage.models import Customer, CustomerStatus, KeyPerson, KeyPersonStatus, User, UserStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class CustomerFilters:
    stale: bool = False  # 超 48 小时未更新 (alerts.stale_hours, per-stage overrides)
    zombie: bool = False
    incomplete: bool = False  # fewer active decision-chain contacts than required
    owner_id: int | None = None
    stage: str = ""
    region: str = ""
    q: str = ""


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    owner: str
    stage: str
    region: str
    last_update_at: datetime | None
    hours_since_update: float
    contacts: int
    stale: bool
    zombie: bool


def _since() -> ColumnElement[datetime]:
    return func.coalesce(Customer.last_update_at, Customer.created_at)


def _contacts_table() -> Any:
    """Active decision-chain contacts per customer, counted in one pass over ``key_persons``."""
    return (
        select(KeyPerson.customer_id.label("customer_id"), func.count().label("n"))
        .where(KeyPerson.status == KeyPersonStatus.ACTIVE)
        .group_by(KeyPerson.customer_id)
        .subquery("contacts")
    )


def _conditions(
    scope: Scope, f: CustomerFilters, now: datetime, alerts: AlertSettings, contacts: Any
) -> list[Any]:
    parts: list[Any] = [Customer.status == CustomerStatus.ACTIVE, scope.customer_filter()]
    if f.stale:
        parts.append(stale_condition(now, alerts.stale_hours, alerts.stale_hours_by_stage))
    if f.zombie:
        parts.append(zombie_condition(now, alerts.zombie_days))
    if f.incomplete:
        parts.append(func.coalesce(contacts.c.n, 0) < MIN_KEY_PERSONS)
    if f.owner_id is not None:
        parts.append(Customer.owner_id == f.owner_id)
    if f.stage:
        parts.append(Customer.stage == f.stage)
    if f.region:
        parts.append(Customer.region == f.region)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        parts.append(or_(Customer.name.like(like), Customer.normalized_name.like(like)))
    return parts


def _select(scope: Scope, f: CustomerFilters, now: datetime, alerts: AlertSettings) -> Any:
    stale = stale_condition(now, alerts.stale_hours, alerts.stale_hours_by_stage)
    zombie = zombie_condition(now, alerts.zombie_days)
    contacts = _contacts_table()
    stmt = (
        select(
            Customer.id,
            Customer.name,
            User.name,
            Customer.stage,
            Customer.region,
            Customer.last_update_at,
            _since(),
            func.coalesce(contacts.c.n, 0),
            stale,
            zombie,
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .outerjoin(contacts, contacts.c.customer_id == Customer.id)
        .where(and_(*_conditions(scope, f, now, alerts, contacts)))
    )
    return stmt


def _row(values: Any, now: datetime) -> CustomerRow:
    cid, name, owner, stage, region, last, since, contacts, stale, zombie = values
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    hours = (now - since).total_seconds() / 3600 if since is not None else float("inf")
    return CustomerRow(
        cid, name, owner or "", stage, region, last, hours, int(contacts or 0), bool(stale), bool(zombie)
    )


async def count(
    session: AsyncSession, scope: Scope, f: CustomerFilters, now: datetime, alerts: AlertSettings
) -> int:
    contacts = _contacts_table()
    stmt = select(func.count()).select_from(Customer)
    if f.incomplete:
        stmt = stmt.outerjoin(contacts, contacts.c.customer_id == Customer.id)
    stmt = stmt.where(and_(*_conditions(scope, f, now, alerts, contacts)))
    return int((await session.execute(stmt)).scalar_one())


async def page(
    session: AsyncSession,
    scope: Scope,
    f: CustomerFilters,
    now: datetime,
    alerts: AlertSettings,
    *,
    number: int = 1,
    size: int = PAGE_SIZE,
) -> list[CustomerRow]:
    """One page, the longest without an update first."""
    stmt = (
        _select(scope, f, now, alerts).order_by(_since(), Customer.id).limit(size).offset((number - 1) * size)
    )
    return [_row(v, now) for v in (await session.execute(stmt)).all()]


async def stream(
    session: AsyncSession,
    scope: Scope,
    f: CustomerFilters,
    now: datetime,
    alerts: AlertSettings,
    *,
    batch: int = 1000,
) -> AsyncIterator[CustomerRow]:
    """Every matching row in the table's order, fetched ``batch`` at a time (keyset), for exports."""
    after: tuple[datetime, int] | None = None
    while True:
        stmt = _select(scope, f, now, alerts)
        if after is not None:
            stmt = stmt.where(or_(_since() > after[0], and_(_since() == after[0], Customer.id > after[1])))
        rows = (await session.execute(stmt.order_by(_since(), Customer.id).limit(batch))).all()
        for values in rows:
            yield _row(values, now)
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last[6], last[0])


async def owners(session: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """People whose customers the viewer sees (the owner filter's choices)."""
    stmt = select(User.id, User.name).where(User.status == UserStatus.ACTIVE).order_by(User.name)
    if scope.owner_ids is not None:
        stmt = stmt.where(User.id.in_(scope.owner_ids))
    return [(uid, name) for uid, name in (await session.execute(stmt)).all()]


async def regions(session: AsyncSession, scope: Scope) -> list[str]:
    stmt = (
        select(Customer.region)
        .where(Customer.status == CustomerStatus.ACTIVE, Customer.region != "", scope.customer_filter())
        .distinct()
        .order_by(Customer.region)
    )
    return [r for (r,) in (await session.execute(stmt)).all()]
