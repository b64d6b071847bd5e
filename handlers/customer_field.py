"""The ``customer`` field type: the rep types a name, we find one of their customers.

A name the resolver is sure of is taken; otherwise the candidates are offered (回复 1/2) and the
rep's pick is remembered as a team alias for what they typed."""

from __future__ import annotations

from typing import Any

from core.events import CardActionEvent
from core.messages import Choice, Message, Text
from domain.customers import search
from domain.identity.store import remember_pick
from domain.numerals import all_digits, typed_number
from domain.wording import quoted
from handlers.context import Turn
from handlers.flowkit import OFFER, offer_of
from handlers.forms.answers import Value
from handlers.forms.fields import FieldError, Parsed, _require_text
from handlers.forms.spec import FieldSpec
from handlers.registry import Registry
from storage.models import Customer

NONE_OF_THEM = "都不是"


class CustomerField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    def ask_in_context(self, spec: FieldSpec, prompt: str, token: str, ctx: dict[str, Any]) -> Message:
        offer = ctx.get(OFFER)
        if not offer or not offer.get("candidates"):
            return Text(text=prompt)
        names = [c["name"] for c in offer["candidates"]]
        typed = offer.get("typed", "")
        if len(names) == 1:
            head = f"没有完全对上{quoted(typed)}，是这家吗？"
        else:
            head = f"{quoted(typed)}对应多家客户，请选择："
        return Choice(
            prompt=head, options=[*names, NONE_OF_THEM], token=token, note="也可以直接输入其他名称。"
        )

    async def _chosen(self, turn: Turn, offer: dict[str, Any]) -> dict[str, Any] | None:
        event = turn.event
        answer = (event.values[0] if event.values else "") if isinstance(event, CardActionEvent) else ""
        if not answer:
            answer = _require_text(turn, "客户名称")
        candidates: list[dict[str, Any]] = offer.get("candidates", [])
        number = typed_number(answer)
        if number is not None and 1 <= number <= len(candidates):
            return candidates[number - 1]
        return next((c for c in candidates if c["name"] == answer), None)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        offer = ctx.get(OFFER)
        if offer:
            chosen = await self._chosen(turn, offer)
            if chosen is not None:
                customer = await turn.session.get(Customer, int(chosen["id"]))
                if customer is not None:
                    learned = bool(offer.get("learn")) and await remember_pick(
                        turn.session,
                        typed=offer.get("typed", ""),
                        customer=customer,
                        user=turn.user,
                        now=turn.now,
                    )
                    note = f"（已记住：{quoted(offer['typed'])}就是这家）" if learned else ""
                    return Parsed(
                        {"customer_id": customer.id, "name": customer.name}, f"客户：{customer.name}{note}"
                    )
            number = _require_text(turn, "客户名称") if not isinstance(turn.event, CardActionEvent) else ""
            if isinstance(turn.event, CardActionEvent) and turn.event.values:
                number = turn.event.values[0]
            none_of_them = str(len(offer.get("candidates", [])) + 1)
            if number in {NONE_OF_THEM, none_of_them}:
                raise FieldError("好的，请输入客户的完整名称", {OFFER: None})
            if all_digits(number):
                raise FieldError(f"请回复 1–{len(offer.get('candidates', [])) + 1} 中的编号，或输入客户名称")
        text = _require_text(turn, "客户名称")
        matches = await search(turn.session, turn.user, text)
        if len(matches) == 1 and matches[0].exact:
            customer = matches[0].customer
            return Parsed({"customer_id": customer.id, "name": customer.name}, f"客户：{customer.name}")
        if not matches:
            raise FieldError(
                f"没有找到{quoted(text)}，请检查名称，或先回复「取消」再「新建客户」", {OFFER: None}
            )
        raise FieldError("需要确认是哪家客户", {OFFER: offer_of(text, matches)})

    def display(self, spec: FieldSpec, value: Any) -> str:
        return value.get("name", "") if isinstance(value, dict) else str(value)


class CustomerValue(Value):
    """A ``customer`` answer: the customer picked."""

    customer_id: int
    name: str = ""


def setup(registry: Registry) -> None:
    registry.field_type("customer", CustomerField())
