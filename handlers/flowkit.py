"""Small helpers the sales-flow modules share: starting forms, finding customers, building views."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import TextEvent
from core.messages import Choice
from domain import customer_view
from domain.access import can_edit
from domain.customers import Match, pick, search
from domain.stages import Stages, load_stages
from domain.wording import duration, quoted
from handlers.context import Services, Turn
from storage.models import ConversationState, Customer, Deadline, User, UserStatus


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
        stage_labels=stages_of(services).labels,
    )


def stages_of(services: Services) -> Stages:
    """The ``[stages]`` of the forms file, read once per process."""
    cached = services.extras.get("stages")
    if isinstance(cached, Stages):
        return cached
    stages = load_stages(services.settings.forms.path)
    services.extras["stages"] = stages
    return stages


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
    return (await customer_form_args(turn, args)).get("prefill", {})


OFFER = "customer_offer"  # form context: candidates offered for what the rep typed


def offer_of(text: str, matches: list[Match]) -> dict[str, Any]:
    return {
        "typed": text,
        "learn": bool(matches) and matches[0].learn,  # one candidate offered: remember a confirmation
        "candidates": [{"id": m.customer.id, "name": m.customer.name} for m in matches[:5]],
    }


async def customer_form_args(turn: Turn, args: str) -> dict[str, Any]:
    """``prefill`` (the one customer the argument names) or ``context`` (the candidates the form's
    customer question offers, 回复 1/2) for :func:`start_form`."""
    if not args.strip():
        return {}
    customer, matches = await find_customer(turn, args)
    if customer is not None:
        return {"prefill": {"customer": customer_answer(customer)}}
    if matches:
        return {"context": {OFFER: offer_of(args, matches)}}
    await turn.reply(not_found_text(args, matches))
    return {}


PICK_CARD = "cpick:"
_EVENT_ID_ROOM = 80  # card tokens travel through the platforms' callbacks: short and ASCII


def pick_choice(turn: Turn, start: int, text: str, matches: list[Match]) -> Choice | None:
    """The card that offers the candidates for the customer named at ``start`` in the turn's message
    (回复 1/2). Choosing re-runs that message (read back from the inbox by its event id) with the
    chosen customer's name in place, so a command's other arguments (「成交 富阳 5000」) survive. None
    when the event id is too long to carry."""
    event_id = turn.event.event_id
    if len(event_id) > _EVENT_ID_ROOM or not event_id.isascii():
        return None
    ids = ",".join(str(m.customer.id) for m in matches[:5])
    names = [m.customer.name for m in matches[:5]]
    if len(names) == 1:
        prompt = f"没有完全对上{quoted(text)}，你要找的是「{names[0]}」吗？"
    else:
        prompt = f"{quoted(text)}对应多家客户，你要找的是哪一家？"
    learn = "1" if matches[0].learn else "0"
    token = f"{PICK_CARD}{learn}:{ids}:{start}:{len(text)}:{event_id}"
    note = "只列出了前 5 家，也可以输入更完整的名称。" if len(names) >= 5 else ""
    return Choice(prompt=prompt, options=[*names, "都不是"], token=token, note=note)


async def not_found(turn: Turn, text: str, matches: list[Match]) -> None:
    """Answer a command whose customer argument named no single customer: offer the candidates
    (the rep's pick re-runs the command and is remembered), or say that none fits."""
    event = turn.event
    message = event.text.strip() if isinstance(event, TextEvent) else ""
    start = message.rfind(text) if text else -1
    card = pick_choice(turn, start, text, matches) if matches and start > 0 else None
    await turn.reply(card if card is not None else not_found_text(text, matches))


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
    return boss if boss is not None and boss.status == UserStatus.ACTIVE else None


def candidates_text(matches: list[Match], limit: int = 5) -> str:
    return "、".join(m.customer.name for m in matches[:limit])


def not_found_text(text: str, matches: list[Match]) -> str:
    """Why ``text`` named no single customer the user may see, with the near misses."""
    head = f"没有找到你可以查看的客户{quoted(text)}。"
    if not matches:
        return head
    return f"{head}你要找的可能是：{candidates_text(matches)}。"


def due_note(row: Deadline | None, tz: Any) -> str:
    """「（按时完成）」 or how late, for a deadline just completed."""
    if row is None or row.on_time is None:
        return ""
    if row.on_time:
        return "（按时完成）"
    late = (row.done_at or row.due_at) - row.due_at
    span = duration(int(late.total_seconds() // 60))
    return f"（已超时 {span}，截止时间 {row.due_at.astimezone(tz).strftime('%m-%d %H:%M')}）"
