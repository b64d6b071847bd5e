"""Customer names: the pick card a command's customer argument may need, and 添加别名 / 别名."""

from __future__ import annotations

from sqlalchemy import select

from core.events import CardActionEvent
from domain.access import can_edit, visible_owner_ids
from domain.identity.parse import flat
from domain.identity.store import AliasRefused, add_alias, aliases_of, remember_pick, remove_alias
from domain.numerals import typed_number
from domain.wording import quoted
from handlers.commands import Command
from handlers.context import Turn
from handlers.flowkit import PICK_CARD, find_customer, not_found
from handlers.registry import Registry
from storage.models import Customer, CustomerAlias, InboundEvent


def _split_alias_args(args: str) -> tuple[str, str] | None:
    """「添加别名 富阳区人民医院 富阳」: the alias is the last word, the customer everything before."""
    parts = args.split()
    if len(parts) < 2:
        return None
    return " ".join(parts[:-1]), parts[-1]


async def add_alias_command(turn: Turn, args: str) -> None:
    split = _split_alias_args(args)
    if split is None:
        await turn.reply("用法：添加别名 <客户> <别名>，例如「添加别名 富阳区人民医院 富阳」。")
        return
    name, alias = split
    customer, matches = await find_customer(turn, name)
    if customer is None:
        await not_found(turn, name, matches)
        return
    if not await can_edit(turn.session, turn.user, customer):
        await turn.reply(f"你没有权限修改「{customer.name}」的档案。")
        return
    try:
        row = await add_alias(
            turn.session, customer=customer, alias=alias, now=turn.now, user=turn.user, source="manual"
        )
    except AliasRefused as exc:
        await turn.reply(exc.reason)
        return
    if row is None:
        await turn.reply(f"{quoted(alias)}已经是「{customer.name}」的名称或别名了。")
        return
    turn.audit("customer.alias_add", "customer", customer.id, after={"alias": row.alias})
    names = "、".join(await aliases_of(turn.session, customer.id))
    await turn.reply(
        f"已添加：以后输入{quoted(alias)}就是「{customer.name}」，全团队通用。\n现有别名：{names}"
    )


async def remove_alias_command(turn: Turn, args: str) -> None:
    alias = args.strip()
    if not alias:
        await turn.reply("用法：删除别名 <别名>，例如「删除别名 富阳」。")
        return
    row = await owner_row(turn, alias)
    if row is None:
        await turn.reply(f"没有找到别名{quoted(alias)}。")
        return
    customer = await turn.session.get(Customer, row.customer_id)
    if customer is None or not await can_edit(turn.session, turn.user, customer):
        await turn.reply(f"没有找到别名{quoted(alias)}。")
        return
    await remove_alias(turn.session, alias)
    turn.audit("customer.alias_remove", "customer", customer.id, before={"alias": row.alias})
    await turn.reply(f"已删除别名{quoted(row.alias)}（「{customer.name}」）。")


async def owner_row(turn: Turn, alias: str) -> CustomerAlias | None:
    stmt = select(CustomerAlias).where(CustomerAlias.normalized == flat(alias))
    return (await turn.session.execute(stmt)).scalar_one_or_none()


async def pick_card(turn: Turn, registry: Registry) -> None:
    """A click (or 回复 N) on the card that offered candidates for a command's customer argument."""
    event = turn.event
    assert isinstance(event, CardActionEvent)
    try:
        _, rest = event.card_id.split(":", 1)
        learn, ids_text, start_text, size_text, event_id = rest.split(":", 4)
        ids = [int(i) for i in ids_text.split(",") if i]
        start, size = int(start_text), int(size_text)
    except ValueError:
        await turn.reply("这张卡片已失效，请重新输入命令。")
        return
    inbound = await turn.session.get(InboundEvent, (event.channel, event_id))
    message = str(inbound.payload.get("text", "")).strip() if inbound is not None else ""
    if not message or inbound is None or inbound.user_key != event.user_key:
        await turn.reply("这张卡片已失效，请重新输入命令。")
        return
    typed = message[start : start + size]
    value = event.values[0] if event.values else ""
    chosen: Customer | None = None
    number = typed_number(value)
    if number is not None and 1 <= number <= len(ids):
        chosen = await turn.session.get(Customer, ids[number - 1])
    else:
        for cid in ids:
            candidate = await turn.session.get(Customer, cid)
            if candidate is not None and candidate.name == value:
                chosen = candidate
    if chosen is None:
        await turn.reply(f"好的。请输入客户全称，例如「{message[:start].strip()} 客户全称」。")
        return
    owners = await visible_owner_ids(turn.session, turn.user)
    if owners is not None and not chosen.shared and chosen.owner_id not in owners:
        await turn.reply("你没有权限查看这家客户。")
        return
    if learn == "1" and await remember_pick(
        turn.session, typed=typed, customer=chosen, user=turn.user, now=turn.now
    ):
        await turn.reply(f"已记住：{quoted(typed)}就是「{chosen.name}」，下次不用再选。")
    match = registry.commands.match(f"{message[:start].rstrip()} {chosen.name} {message[start + size :]}")
    if match is not None:
        await match[0].run(turn, match[1])


def setup(registry: Registry) -> None:
    async def on_pick(turn: Turn) -> None:
        await pick_card(turn, registry)

    registry.card(PICK_CARD, on_pick, newest_only=True)
    registry.command(
        Command(
            ("添加别名",),
            add_alias_command,
            "为客户添加别名（全团队通用）：添加别名 <客户> <别名>",
            group="客户",
        )
    )
    registry.command(
        Command(
            ("删除别名",),
            remove_alias_command,
            "删除记错的别名：删除别名 <别名>",
            group="客户",
        )
    )
