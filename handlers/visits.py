"""Visit applications (approval events) → a planned visit linked to its customer, and a prefilled brief."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from core.events import ApprovalEvent, CardActionEvent, TextEvent
from core.messages import Choice, Message, Text
from domain import visits
from domain.access import can_edit
from domain.audit import snapshot
from domain.customers import Match, pick, search
from domain.identity.store import remember_pick
from domain.numerals import all_digits, typed_number
from domain.wording import quoted
from handlers.context import Turn
from handlers.flowkit import start_form, view_of
from handlers.forms.answers import Answers, Value
from handlers.forms.engine import FormResult
from handlers.forms.fields import FieldError, Parsed
from handlers.forms.spec import FieldSpec
from handlers.profile_text import brief_text, visit_window
from handlers.registry import Registry
from storage.models import ConversationState, Customer, FormStatus, Visit, VisitStatus

log = logging.getLogger(__name__)

VISIT_FIELDS = ("customer_id", "status", "customer_text", "purpose", "planned_start", "planned_end")
NEW = "新建客户"
NEW_WORDS = {NEW, "新建", "都不是", "都不是，新建客户"}
CLOSED = {"refused": "被拒绝", "withdrawn": "已撤回", "deleted": "已删除"}


def _candidates(matches: list[Match]) -> list[dict[str, Any]]:
    return [{"id": m.customer.id, "name": m.customer.name} for m in matches[:5]]


class VisitCustomerField:
    """Which customer a visit application meant: one of the candidates, another name, or 新建客户."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    def ask_in_context(self, spec: FieldSpec, prompt: str, token: str, ctx: dict[str, Any]) -> Message:
        names = [c["name"] for c in ctx.get("candidates", [])]
        typed = ctx.get("typed", "")
        if not typed:
            head = "拜访申请里没有填写客户。"
        elif len(names) == 1:
            head = f"拜访申请里的「{typed}」没有完全对上，是这家吗？"
        elif names:
            head = f"拜访申请里的「{typed}」不能确定是哪一家。"
        else:
            head = f"没有找到拜访申请里的「{typed}」。"
        options = [*names, f"都不是，{NEW}" if names else NEW]
        # The first line is the card's title on platforms that draw cards: keep it short.
        return Choice(prompt=f"{prompt}\n{head}", options=options, token=token)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        candidates: list[dict[str, Any]] = ctx.get("candidates", [])
        event = turn.event
        if isinstance(event, CardActionEvent):
            answer = event.values[0] if event.values else ""
        elif isinstance(event, TextEvent):
            answer = event.text.strip()
        else:
            raise FieldError("请回复编号或客户名称")
        if all_digits(answer):
            n = typed_number(answer)
            if n is not None and 1 <= n <= len(candidates):
                chosen = candidates[n - 1]
                await _remember(turn, ctx, chosen)
                return Parsed(
                    {"customer_id": chosen["id"], "name": chosen["name"]}, f"客户：{chosen['name']}"
                )
            if n == len(candidates) + 1:
                return Parsed({"new": True})
            raise FieldError(f"{quoted(answer)}不是可选项，请回复 1–{len(candidates) + 1} 中的编号")
        if answer in NEW_WORDS:
            return Parsed({"new": True})
        for chosen in candidates:
            if answer == chosen["name"]:
                await _remember(turn, ctx, chosen)
                return Parsed(
                    {"customer_id": chosen["id"], "name": chosen["name"]}, f"客户：{chosen['name']}"
                )
        matches = await search(turn.session, turn.user, answer)
        customer = pick(matches)
        if customer is not None:
            return Parsed({"customer_id": customer.id, "name": customer.name}, f"客户：{customer.name}")
        if matches:
            update = {"candidates": _candidates(matches), "typed": answer, "learn": matches[0].learn}
            raise FieldError(f"{quoted(answer)}对应多家客户，请选择", update)
        raise FieldError(f"没有找到你可以查看的客户{quoted(answer)}", {"candidates": []})

    def display(self, spec: FieldSpec, value: Any) -> str:
        return NEW if value.get("new") else str(value.get("name", ""))


async def send_brief(turn: Turn, visit: Visit, customer: Customer) -> None:
    view = await view_of(turn.session, turn.services, customer)
    await turn.tell(turn.user, brief_text(view, visit, turn.services.tz))


async def link_visit(turn: Turn, visit: Visit, customer: Customer) -> None:
    """Attach the customer to the visit, then send the brief."""
    before = snapshot(visit, VISIT_FIELDS)
    visits.link(visit, customer.id, turn.now)
    turn.audit("visit.link", "visit", visit.id, before=before, after=snapshot(visit, VISIT_FIELDS))
    await send_brief(turn, visit, customer)


async def link_visit_by_id(turn: Turn, visit_id: int, customer: Customer) -> None:
    visit = await turn.session.get(Visit, visit_id)
    if visit is None or visit.status == VisitStatus.CANCELLED or visit.customer_id is not None:
        return
    await link_visit(turn, visit, customer)


async def _remember(turn: Turn, ctx: dict[str, Any], chosen: dict[str, Any]) -> None:
    """The one candidate offered for what the application said, confirmed: a team alias from now on."""
    if ctx.get("learn") and len(ctx.get("candidates", [])) == 1 and ctx.get("typed"):
        customer = await turn.session.get(Customer, int(chosen["id"]))
        if customer is not None:
            await remember_pick(
                turn.session, typed=ctx["typed"], customer=customer, user=turn.user, now=turn.now
            )


async def _ask_customer(turn: Turn, visit: Visit, matches: list[Match]) -> None:
    context = {
        "visit_id": visit.id,
        "typed": visit.customer_text,
        "candidates": _candidates(matches),
        "learn": bool(matches) and matches[0].learn,
    }
    await start_form(turn, "visit_customer", context=context)


async def _create(turn: Turn, event: ApprovalEvent) -> Visit:
    settings = turn.services.settings
    start, end = visits.planned_window(event.fields, turn.services.tz, settings.flows.default_visit_minutes)
    typed = event.fields.get("customer", "").strip()
    visit = await visits.create(
        turn.session,
        now=turn.now,
        rep_id=turn.user.id,
        customer_id=None,
        customer_text=typed,
        source_channel=event.channel,
        source_approval_id=event.approval_id,
        purpose=event.fields.get("purpose", "").strip(),
        start=start,
        end=end,
    )
    turn.audit("visit.create", "visit", visit.id, after=snapshot(visit, VISIT_FIELDS))
    await visits.schedule_deadlines(turn.session, now=turn.now, visit=visit, alerts=settings.alerts)
    matches = await search(turn.session, turn.user, typed) if typed else []
    customer = pick(matches)
    if customer is not None:
        await link_visit(turn, visit, customer)
    else:
        await _ask_customer(turn, visit, matches)
    return visit


async def _update_window(turn: Turn, visit: Visit, event: ApprovalEvent) -> None:
    """A redelivered or edited application: move the planned window if it changed (no second brief)."""
    if visit.status not in visits.OPEN_STATUSES or visit.report_started_at is not None:
        return
    settings = turn.services.settings
    start, end = visits.planned_window(event.fields, turn.services.tz, settings.flows.default_visit_minutes)
    if start is None or (start, end) == (visit.planned_start, visit.planned_end):
        return
    before = snapshot(visit, VISIT_FIELDS)
    visits.reschedule(visit, start, end, turn.now)
    turn.audit("visit.reschedule", "visit", visit.id, before=before, after=snapshot(visit, VISIT_FIELDS))
    await visits.schedule_deadlines(turn.session, now=turn.now, visit=visit, alerts=settings.alerts)


async def _withdraw_link_question(turn: Turn, visit: Visit, why: str) -> None:
    stmt = select(ConversationState).where(
        ConversationState.user_id == turn.user.id,
        ConversationState.form == "visit_customer",
        ConversationState.status.in_((FormStatus.ACTIVE, FormStatus.QUEUED)),
    )
    for state in (await turn.session.execute(stmt)).scalars():
        if state.context.get("visit_id") == visit.id:
            await turn.services.forms.withdraw(
                turn.session,
                now=turn.now,
                user=turn.user,
                state=state,
                message=f"拜访申请{why}，不再需要选择客户。",
            )


def _label(visit: Visit, customer: Customer | None) -> str:
    return customer.name if customer is not None else (visit.customer_text or "未填写客户")


async def handle_approval(turn: Turn) -> None:
    event = turn.event
    if not isinstance(event, ApprovalEvent):
        return
    tz = turn.services.tz
    visit = await visits.by_approval(turn.session, event.channel, event.approval_id)
    if event.status in CLOSED:
        if visit is None or visit.status not in visits.OPEN_STATUSES:
            return
        if visit.report_started_at is not None:
            log.info("approval %s %s after the visit report started; kept", event.approval_id, event.status)
            return
        before = snapshot(visit, VISIT_FIELDS)
        visits.cancel(visit, turn.now, note=f"审批{CLOSED[event.status]}")
        turn.audit(
            f"visit.{event.status}", "visit", visit.id, before=before, after=snapshot(visit, VISIT_FIELDS)
        )
        await visits.cancel_deadlines(turn.session, visit)
        await _withdraw_link_question(turn, visit, CLOSED[event.status])
        customer = await turn.session.get(Customer, visit.customer_id) if visit.customer_id else None
        await turn.tell(
            turn.user,
            f"拜访申请{CLOSED[event.status]}：{_label(visit, customer)}（{visit_window(visit, tz)}），"
            "这次拜访已取消，不需要填写拜访报告。",
        )
        return
    if visit is None:
        visit = await _create(turn, event)
    elif event.status == "submitted":
        await _update_window(turn, visit, event)
    if event.status == "approved" and visit.status == VisitStatus.PLANNED:
        before = snapshot(visit, VISIT_FIELDS)
        visits.approve(visit, turn.now)
        turn.audit("visit.approved", "visit", visit.id, before=before, after=snapshot(visit, VISIT_FIELDS))
        customer = await turn.session.get(Customer, visit.customer_id) if visit.customer_id else None
        await turn.tell(
            turn.user,
            f"拜访申请已通过：{_label(visit, customer)}（{visit_window(visit, tz)}）。"
            "拜访结束后我会请你填写拜访报告。",
        )


class VisitCustomerValue(Value):
    """A ``visit_customer`` answer: an existing customer, or ``new`` (create one first)."""

    customer_id: int | None = None
    name: str = ""
    new: bool = False


class VisitCustomerAnswers(Answers):
    customer: VisitCustomerValue = VisitCustomerValue()


async def complete_visit_customer(turn: Turn, result: FormResult) -> None:
    visit = await turn.session.get(Visit, int(result.context.get("visit_id", 0)))
    if visit is None or visit.status == VisitStatus.CANCELLED:
        await turn.reply("这次拜访已经取消了，不需要再选择客户。")
        return
    answer = result.typed(VisitCustomerAnswers).customer
    if answer.new:
        await turn.reply("好的，先建立客户档案，完成后我会发送拜访简报。")
        await start_form(turn, "customer", context={"link_visit_id": visit.id}, chained=True)
        return
    customer = await turn.session.get(Customer, int(answer.customer_id or 0))
    if customer is None or not await can_edit(turn.session, turn.user, customer):
        await turn.reply("你没有权限查看这家客户。")
        return
    await link_visit(turn, visit, customer)


def setup(registry: Registry) -> None:
    if registry.approval_handler is not None:
        raise ValueError("an approval handler is already registered")
    registry.field_type("visit_customer", VisitCustomerField())
    registry.approval_handler = handle_approval
    registry.completer("visit_customer", complete_visit_customer, answers=VisitCustomerAnswers)
