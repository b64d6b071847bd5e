"""The demand confirmation (需求确认单): the customer's words as a quote, scenario, tried solutions."""

from __future__ import annotations

from typing import Any

from domain import deadlines, demands
from domain import progress as progress_log
from domain.audit import snapshot
from domain.competitors import competition_keyword
from handlers.competitor import start_competitor
from handlers.context import Turn
from handlers.flowkit import due_note
from handlers.forms.engine import FormResult
from handlers.quotes import offer
from handlers.registry import Registry
from storage.models import Customer

DEMAND_FIELDS = (
    "customer_id",
    "visit_id",
    "quote_id",
    "text",
    "scenario",
    "tried_solutions",
    "failure_reason",
)


async def complete_demand(turn: Turn, result: FormResult) -> None:
    ctx, answers = result.context, result.answers
    customer = await turn.session.get(Customer, int(ctx.get("customer_id") or 0))
    visit_id = int(ctx["visit_id"]) if ctx.get("visit_id") else None
    raw_quote = answers.get("quote")
    quote: dict[str, Any] = raw_quote if isinstance(raw_quote, dict) else {}
    scenario = str(answers.get("scenario", ""))
    if answers.get("scenario_other"):
        scenario = f"{scenario}：{answers['scenario_other']}"
    demand = await demands.record(
        turn.session,
        now=turn.now,
        rep_id=turn.user.id,
        customer_id=customer.id if customer else None,
        visit_id=visit_id,
        quote_id=quote.get("quote_id"),
        text=str(quote.get("text", "")),
        scenario=scenario,
        tried_solutions=str(answers.get("tried_solutions", "")),
        failure_reason=str(answers.get("failure_reason", "")),
    )
    turn.audit(
        "demand.create",
        "demand",
        demand.id,
        after=snapshot(demand, DEMAND_FIELDS),
    )
    if customer is not None:
        await progress_log.record(
            turn.session,
            now=turn.now,
            customer=customer,
            rep_id=turn.user.id,
            kind="demand",
            progress=scenario,
            note=str(quote.get("text", ""))[:80],
            visit_id=visit_id,
        )
    row = None
    if visit_id is not None:
        row = await deadlines.complete(
            turn.session, now=turn.now, kind="demand_confirmation", entity_type="visit", entity_id=visit_id
        )
    await turn.reply(f"需求确认单已提交{due_note(row, turn.services.tz)}。客户原话已存档，不可修改。")
    if quote.get("quote_id"):
        await turn.reply(offer(int(quote["quote_id"]), str(quote.get("text", ""))))
    keyword = competition_keyword(
        str(quote.get("text", "")), turn.services.settings.flows.competitor_keywords
    )
    if keyword and customer is not None:
        await start_competitor(
            turn,
            customer=customer,
            visit_id=visit_id,
            source="quote",
            text=str(quote["text"]),
            reason=f"客户原话提到「{keyword}」",
        )


def setup(registry: Registry) -> None:
    registry.completer("demand_confirmation", complete_demand)
