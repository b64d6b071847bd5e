"""Small helpers the sales-flow modules share: starting forms, finding customers, building views."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import customer_view
from domain.access import can_edit
from domain.customers import Match, pick, search
from domain.wording import quoted
from handlers.context import Services, Turn
from storage.models import ConversationState, Customer, Deadline, User


def today(services: Services) -> date:
    return services.clock.now().astimezone(services.tz).date()


async def start_form(
    turn: Turn,
    form: str,
    *,
    context: dict[str, Any] | None = None,
    prefill: dict[str, Any] | None = None,
    chained: bool = False,
) -> ConversationState:
    """Open ``form`` for the turn's user. Started from a completer it follows the completing form
    directly (see ``FormEngine.start``); ``chained`` drops the "queued" notice when it has to wait."""
    return await turn.services.forms.start(
        turn.session,
        now=turn.now,
        user=turn.user,
        form_name=form,
        channel=turn.event.channel,
        context=context,
        prefill=prefill,
        turn=turn,
        announce_queue=not chained,
    )


async def view_of(
    session: AsyncSession, services: Services, customer: Customer
) -> customer_view.CustomerView:
    flows = services.settings.flows
    return await customer_view.gather(
        session,
        customer,
        today=today(services),
        stale_days=services.settings.alerts.key_person_stale_days,
        updates=flows.brief_updates,
        demands=flows.brief_demands,
        competitors=flows.brief_competitors,
    )


async def find_customer(turn: Turn, text: str) -> tuple[Customer | None, list[Match]]:
    """The one customer ``text`` names among those the user may see, else the candidates."""
    matches = await search(turn.session, turn.user, text)
    return pick(matches), matches


def customer_answer(customer: Customer) -> dict[str, Any]:
    """A ``customer`` field's value, for prefilling forms."""
    return {"customer_id": customer.id, "name": customer.name}


async def customer_prefill(turn: Turn, args: str) -> dict[str, Any]:
    """The ``customer`` answer a command's argument names (「试用反馈 杭州一院」), to prefill its form.
    An argument that names no single customer is answered with why (and the near misses) before the
    form asks for the customer itself."""
    if not args.strip():
        return {}
    customer, matches = await find_customer(turn, args)
    if customer is None:
        await turn.reply(not_found_text(args, matches))
        return {}
    return {"customer": customer_answer(customer)}


async def editable_customer(turn: Turn, value: Any) -> Customer | None:
    """The customer a ``customer`` answer (``CustomerValue`` or its dict) names, if the user may still
    change it."""
    customer_id = getattr(value, "customer_id", None)
    if customer_id is None and isinstance(value, dict):
        customer_id = value.get("customer_id")
    if customer_id is None:
        return None
    customer = await turn.session.get(Customer, int(customer_id))
    if customer is None or not await can_edit(turn.session, turn.user, customer):
        return None
    return customer


async def supervisor_of(session: AsyncSession, user: User) -> User | None:
    if user.supervisor_id is None:
        return None
    boss = await session.get(User, user.supervisor_id)
    return boss if boss is not None and boss.status == "active" else None


def candidates_text(matches: list[Match], limit: int = 5) -> str:
    return "、".join(m.customer.name for m in matches[:limit])


def not_found_text(text: str, matches: list[Match]) -> str:
    """Why ``text`` named no single customer the user may see, with the near misses."""
    head = f"没有找到你可以查看的客户{quoted(text)}。"
    if not matches:
        return head
    return f"{head}相近的客户：{candidates_text(matches)}，请输入更完整的名称。"


def due_note(row: Deadline | None, tz: Any) -> str:
    """「（按时完成）」 or how late, for a deadline just completed."""
    if row is None or row.on_time is None:
        return ""
    if row.on_time:
        return "（按时完成）"
    late = (row.done_at or row.due_at) - row.due_at
    minutes = int(late.total_seconds() // 60)
    span = f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{max(minutes, 1)} 分钟"
    return f"（已超时 {span}，截止时间 {row.due_at.astimezone(tz).strftime('%m-%d %H:%M')}）"
