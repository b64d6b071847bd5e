"""The demand confirmation (需求确认单): the customer's words as a quote, scenario, tried solutions."""

from __future__ import annotations

from domain import demands
from domain.audit import snapshot
from domain.competitors import competition_keyword
from handlers.competitor import start_competitor
from handlers.completion import Audit, DeadlineMet, Progress, finish
from handlers.context import Turn
from handlers.forms.answers import Answers, QuoteValue
from handlers.forms.engine import FormEngine, FormResult
from handlers.forms.fields import NOTES_KEY
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


def scenario_options(forms: FormEngine) -> tuple[str, ...]:
    """The business scenarios a rep picks from in the demand confirmation (config/forms.toml); none when
    the company's forms offer no such choice."""
    options = [
        option
        for spec in forms.forms.values()
        if spec.on_complete == "demand_confirmation"
        for field in spec.fields
        if field.key == "scenario"
        for option in field.options
    ]
    return tuple(dict.fromkeys(options))


class DemandAnswers(Answers):
    quote: QuoteValue | None = None
    scenario: str = ""
    scenario_other: str = ""
    tried_solutions: str = ""
    failure_reason: str = ""


async def complete_demand(turn: Turn, result: FormResult) -> None:
    ctx, answers = result.context, result.typed(DemandAnswers)
    customer = await turn.session.get(Customer, int(ctx.get("customer_id") or 0))
    visit_id = int(ctx["visit_id"]) if ctx.get("visit_id") else None
    quote = answers.quote or QuoteValue()
    scenario = answers.scenario
    notes = result.answers.get(NOTES_KEY, {})  # what the rep wrote beyond a choice
    if answers.scenario_other:
        scenario = f"{scenario}：{answers.scenario_other}"
    elif notes.get("scenario"):  # a paragraph that named the scenario
        scenario = f"{scenario}：{notes['scenario']}"
    demand = await demands.record(
        turn.session,
        now=turn.now,
        rep_id=turn.user.id,
        customer_id=customer.id if customer else None,
        visit_id=visit_id,
        quote_id=quote.quote_id,
        text=quote.text,
        scenario=scenario,
        tried_solutions=answers.tried_solutions,
        failure_reason=answers.failure_reason,
    )
    await finish(
        turn,
        audit=[Audit("demand.create", "demand", demand.id, after=snapshot(demand, DEMAND_FIELDS))],
        progress=Progress(customer, "demand", scenario, quote.text[:80], visit_id) if customer else None,
        deadline=DeadlineMet("demand_confirmation", "visit", visit_id) if visit_id is not None else None,
        reply=lambda due: f"需求确认单已提交{due}。客户原话已存档，不可修改。",
    )
    if quote.quote_id:
        await turn.reply(offer(int(quote.quote_id), quote.text))
    keyword = competition_keyword(quote.text, turn.services.settings.flows.competitor_keywords)
    if keyword and customer is not None:
        await start_competitor(
            turn,
            customer=customer,
            visit_id=visit_id,
            source="quote",
            text=quote.text,
            reason=f"客户原话提到「{keyword}」",
        )


def setup(registry: Registry) -> None:
    registry.completer("demand_confirmation", complete_demand, answers=DemandAnswers)
