"""成交 / 阶段 / 我的客户: reps record outcomes in chat, and see their customers with stage and freshness."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from domain import outcomes
from domain import progress as progress_log
from domain.access import can_edit
from domain.digest_text import age
from handlers.commands import Command
from handlers.context import Turn
from handlers.flowkit import find_customer, not_found, stages_of
from handlers.forms.fields import FieldError, parse_amount
from handlers.registry import Registry
from storage.models import Customer, CustomerStatus

MY_CUSTOMERS_SHOWN = 30


async def customer_named(turn: Turn, text: str) -> Customer | None:
    """The one customer ``text`` names that the user may change; otherwise replies why and returns None.
    (The single place these commands turn a typed name into a customer.)"""
    customer, matches = await find_customer(turn, text)
    if customer is None:
        await not_found(turn, text, matches)  # candidates as a pick card that re-runs the command
        return None
    if not await can_edit(turn.session, turn.user, customer):
        await turn.reply(f"「{customer.name}」不是你负责的客户，不能修改。")
        return None
    return customer


def _yuan(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def split_amount(args: str) -> tuple[str, Decimal | None]:
    """``富阳区人民医院 9.9万`` → (name, 99000); without a trailing amount, (args, None)."""
    head, _, last = args.strip().rpartition(" ")
    if head.strip():
        try:
            return head.strip(), parse_amount(last)
        except FieldError:
            pass
    return args.strip(), None


async def deal(turn: Turn, args: str) -> None:
    """成交 <客户> [金额]"""
    name, amount = split_amount(args)
    if not name:
        await turn.reply("用法：成交 <客户> [金额]，例如「成交 富阳区人民医院 9.9万」。")
        return
    if amount is not None and amount <= 0:
        await turn.reply("成交金额要大于 0，例如「成交 富阳区人民医院 9.9万」。")
        return
    customer = await customer_named(turn, name)
    if customer is None:
        return
    stages = stages_of(turn.services)
    before = customer.stage
    details: dict[str, object] = {"via": "chat"}
    if amount is not None:
        details["amount"] = amount
    outcomes.record_deal(
        turn.session,
        customer,
        when=turn.now,
        stages=stages,
        now=turn.now,
        actor_id=turn.user.id,
        source=turn.source,
        details=details,
    )
    money = _yuan(amount) if amount is not None else ""
    await progress_log.record(
        turn.session,
        now=turn.now,
        customer=customer,
        rep_id=turn.user.id,
        kind="deal",
        note=money,
    )
    moved = (
        f"阶段：{stages.label(before)} → {stages.label(customer.stage)}"
        if customer.stage != before
        else f"阶段：{stages.label(customer.stage)}"
    )
    await turn.reply(f"已记录「{customer.name}」成交{f' {money}' if money else ''}。{moved}。")


async def stage(turn: Turn, args: str) -> None:
    """阶段 <客户> <阶段>"""
    stages = stages_of(turn.services)
    options = f"可选阶段：{stages.options_text()}"
    head, _, last = args.strip().rpartition(" ")
    if not args.strip():
        await turn.reply(f"用法：阶段 <客户> <阶段>，例如「阶段 富阳区人民医院 试用」。{options}")
        return
    if not head.strip():  # only a customer: say where it stands
        customer = await customer_named(turn, args)
        if customer is not None:
            await turn.reply(
                f"「{customer.name}」目前是「{stages.label(customer.stage)}」阶段。"
                f"修改请回复「阶段 {customer.name} <阶段>」。{options}"
            )
        return
    key = stages.find(last)
    if key is None:
        await turn.reply(f"没有「{last}」这个阶段。{options}")
        return
    customer = await customer_named(turn, head)
    if customer is None:
        return
    before = customer.stage
    if before == key:
        await turn.reply(f"「{customer.name}」已经是「{stages.label(key)}」阶段。")
        return
    outcomes.set_stage(
        turn.session, customer, key, now=turn.now, actor_id=turn.user.id, source=turn.source, reason="chat"
    )
    change = f"{stages.label(before)} → {stages.label(key)}"
    await progress_log.record(
        turn.session, now=turn.now, customer=customer, rep_id=turn.user.id, kind="stage", progress=change
    )
    await turn.reply(
        f"已将「{customer.name}」的阶段改为「{stages.label(key)}」（原为「{stages.label(before)}」）。"
    )


async def my_customers(turn: Turn, args: str) -> None:
    """我的客户: the user's active customers, least recently updated first."""
    stages = stages_of(turn.services)
    owned = (Customer.owner_id == turn.user.id) & (Customer.status == CustomerStatus.ACTIVE)
    total = (await turn.session.execute(select(func.count()).where(owned))).scalar_one()
    if not total:
        await turn.reply("你名下还没有客户。新客户请回复「新建客户」。")
        return
    since = func.coalesce(Customer.last_update_at, Customer.created_at)
    rows = (
        await turn.session.execute(
            select(Customer.name, Customer.stage, Customer.last_update_at, Customer.last_deal_at)
            .where(owned)
            .order_by(since, Customer.id)
            .limit(MY_CUSTOMERS_SHOWN)
        )
    ).all()
    stale_hours = turn.services.settings.alerts.stale_hours
    lines = [f"你名下共 {total} 家客户（最久未更新的在前）："]
    for name, key, updated, dealt in rows:
        if updated is None:
            fresh = "从未记录进展 ⚠️"
        else:
            hours = (turn.now - updated).total_seconds() / 3600
            fresh = f"{age(hours)}前更新" + (" ⚠️" if hours > stale_hours else "")
        deal_note = f"，最近成交 {turn.local(dealt):%m-%d}" if dealt else ""
        lines.append(f"· {name}（{stages.label(key)}，{fresh}{deal_note}）")
    if total > len(rows):
        lines.append(f"  …另有 {total - len(rows)} 家")
    lines.append("查看详情：客户 <名称>；改阶段：阶段 <客户> <阶段>；记成交：成交 <客户> [金额]")
    await turn.reply("\n".join(lines))


def setup(registry: Registry) -> None:
    group = "客户"
    registry.command(Command(("成交",), deal, "记录客户成交：成交 <客户> [金额]", group=group))
    registry.command(Command(("阶段",), stage, "查看或修改客户阶段：阶段 <客户> <阶段>", group=group))
    registry.command(
        Command(("我的客户",), my_customers, "我名下的客户、阶段和更新情况", exact=True, group=group)
    )
