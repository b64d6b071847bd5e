"""Building hand-made data for the manager-loop tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.testing import BotHarness
from domain.names import normalize
from storage.models import Customer, Deadline, Demand, KeyPerson, ProgressUpdate, User, Visit

# Monday 2026-11-23 08:00 in Asia/Shanghai
MONDAY_8 = datetime.fromisoformat("2026-11-23T00:00:00+00:00")


async def team(bot: BotHarness) -> dict[str, User]:
    """A manager with two reps, a product person, finance, an outsider rep with no manager."""
    users = {
        "liqiang": await bot.add_user("liqiang", "李强", roles=("manager",)),
        "product": await bot.add_user("chenchen", "陈晨", roles=("product",)),
        "finance": await bot.add_user("zhaofang", "赵芳", roles=("finance",)),
    }
    users["wanglei"] = await bot.add_user("wanglei", "王磊", supervisor="liqiang")
    users["zhangting"] = await bot.add_user("zhangting", "张婷", supervisor="liqiang")
    return users


async def customer(
    bot: BotHarness,
    name: str,
    owner: User | None,
    *,
    updated_hours_ago: float | None,
    deal_days_ago: float | None = 10,
    stage: str = "proposal",
    lead_days_ago: float = 200,
    status: str = "active",
    **extra: Any,
) -> Customer:
    now = bot.clock.now()
    async with bot.session() as s:
        c = Customer(
            name=name,
            normalized_name=normalize(name),
            owner_id=owner.id if owner else None,
            stage=stage,
            status=status,
            lead_created_at=now - timedelta(days=lead_days_ago),
            last_deal_at=None if deal_days_ago is None else now - timedelta(days=deal_days_ago),
            last_update_at=None if updated_hours_ago is None else now - timedelta(hours=updated_hours_ago),
            created_at=now - timedelta(days=lead_days_ago),
            updated_at=now,
            **extra,
        )
        s.add(c)
        await s.flush()
    return c


async def update(
    bot: BotHarness, c: Customer, rep: User, *, hours_ago: float = 0, valid: bool = True
) -> None:
    when = bot.clock.now() - timedelta(hours=hours_ago)
    async with bot.session() as s:
        s.add(
            ProgressUpdate(
                customer_id=c.id, rep_id=rep.id, kind="note", note="跟进", valid=valid, created_at=when
            )
        )
        row = await s.get(Customer, c.id)
        assert row is not None
        if row.last_update_at is None or row.last_update_at < when:
            row.last_update_at = when


async def demand(
    bot: BotHarness, rep: User, c: Customer | None, text: str, scenario: str = "其他", hours_ago: float = 1
) -> int:
    async with bot.session() as s:
        d = Demand(
            customer_id=c.id if c else None,
            rep_id=rep.id,
            text=text,
            scenario=scenario,
            created_at=bot.clock.now() - timedelta(hours=hours_ago),
        )
        s.add(d)
        await s.flush()
        return d.id


async def visit(bot: BotHarness, rep: User, c: Customer) -> Visit:
    now = bot.clock.now()
    async with bot.session() as s:
        v = Visit(
            customer_id=c.id, rep_id=rep.id, status="done", created_at=now, updated_at=now, planned_end=now
        )
        s.add(v)
        await s.flush()
    return v


async def deadline(
    bot: BotHarness,
    kind: str,
    entity_type: str,
    entity_id: int,
    user: User,
    due_at: datetime,
    **extra: Any,
) -> Deadline:
    async with bot.session() as s:
        d = Deadline(
            kind=kind,
            entity_type=entity_type,
            entity_id=entity_id,
            user_id=user.id,
            due_at=due_at,
            created_at=bot.clock.now(),
            **{"status": "pending", **extra},
        )
        s.add(d)
        await s.flush()
    return d


async def key_person(
    bot: BotHarness, c: Customer, name: str, last_contact: date | None, status: str = "active", **extra: Any
) -> KeyPerson:
    now = bot.clock.now()
    async with bot.session() as s:
        kp = KeyPerson(
            customer_id=c.id,
            role_group="采购科",
            name=name,
            title="采购科主任",
            last_contact_on=last_contact,
            status=status,
            created_at=now,
            updated_at=now,
            **extra,
        )
        s.add(kp)
        await s.flush()
    return kp


async def get(bot: BotHarness, model: Any, **where: Any) -> list[Any]:
    async with bot.app.db.read() as s:
        stmt = select(model).filter_by(**where)
        return list((await s.execute(stmt)).scalars())
