"""The ``customer`` field type: the rep types a name, we find one of their customers."""

from __future__ import annotations

from typing import Any

from core.messages import Message, Text
from domain.customers import pick, search
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.answers import Value
from handlers.forms.fields import FieldError, Parsed, _require_text
from handlers.forms.spec import FieldSpec
from handlers.registry import Registry


class CustomerField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        text = _require_text(turn, "客户名称")
        matches = await search(turn.session, turn.user, text)
        customer = pick(matches)
        if customer is not None:
            return Parsed({"customer_id": customer.id, "name": customer.name}, f"客户：{customer.name}")
        if not matches:
            raise FieldError(f"没有找到{quoted(text)}，请检查名称，或先回复「取消」再「新建客户」")
        names = "、".join(m.customer.name for m in matches[:5])
        if len(matches) == 1:  # a weak resemblance is not a match
            raise FieldError(f"没有找到{quoted(text)}。相近的客户：{names}，请输入更完整的名称")
        raise FieldError(f"找到多家相近的客户：{names}。请输入更完整的名称")

    def display(self, spec: FieldSpec, value: Any) -> str:
        return value.get("name", "") if isinstance(value, dict) else str(value)


class CustomerValue(Value):
    """A ``customer`` answer: the customer picked."""

    customer_id: int
    name: str = ""


def setup(registry: Registry) -> None:
    registry.field_type("customer", CustomerField())
