"""The ``person`` field type: pick a colleague from the offered list (a card, or its number) or by name.

A form run offers people through its context: ``context["people"][<field key>]`` is a list of
``{"id": …, "label": …}``; ``context["people_roles"][<field key>]`` limits who may be named (by role);
``context["people_exclude"]`` lists user ids that may not be picked. The answer is
``{"id": user id, "name": name}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.events import CardActionEvent
from core.messages import Choice, Message, Text
from domain.numerals import all_digits, typed_number
from domain.people import ROLE_LABELS, PeopleError, resolve_one
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.answers import Value
from handlers.forms.fields import FieldError, Parsed, _require_text
from handlers.forms.spec import FieldSpec
from storage.models import User, UserStatus

if TYPE_CHECKING:
    from handlers.registry import Registry


def offer(users: list[User]) -> list[dict[str, Any]]:
    """The people to show on the card, labelled so that two with one name can be told apart."""
    names = [u.name for u in users]
    out = []
    for u in users:
        text = f"{u.name}（{u.team}）" if u.team else u.name
        if names.count(u.name) > 1:
            text = f"{u.name}（#{u.id}{'，' + u.team if u.team else ''}）"
        out.append({"id": u.id, "label": text})
    return out


def _offered(context: dict[str, Any], key: str) -> list[dict[str, Any]]:
    people = context.get("people", {})
    return list(people.get(key, [])) if isinstance(people, dict) else []


class PersonField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    def ask_in_context(self, spec: FieldSpec, prompt: str, token: str, context: dict[str, Any]) -> Message:
        offered = _offered(context, spec.key)
        if not offered:
            return Text(text=prompt)
        return Choice(
            prompt=prompt,
            options=[str(o["label"]) for o in offered],
            token=token,
            note="也可以直接回复姓名。",
        )

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        offered = _offered(ctx, spec.key)
        event = turn.event
        if isinstance(event, CardActionEvent):
            answer = event.values[0] if event.values else ""
        else:
            answer = _require_text(turn, "姓名")
        user: User | None = None
        if all_digits(answer) and offered:
            n = typed_number(answer)
            if n is None or not 1 <= n <= len(offered):
                raise FieldError(f"{quoted(answer)}不是可选项，请回复 1–{len(offered)} 中的编号或姓名")
            user = await turn.session.get(User, int(offered[n - 1]["id"]))
            if user is None or user.status != UserStatus.ACTIVE:
                raise FieldError("这位同事已不在职，请另选一位")
        else:
            try:
                hint = "请回复上面的编号或同事的姓名" if offered else "请回复同事的姓名"
                user = await resolve_one(turn.session, answer, hint=hint)
            except PeopleError as exc:
                raise FieldError(str(exc)) from exc
        roles = ctx.get("people_roles", {}).get(spec.key, [])
        if roles and not (user.roles & set(roles)):
            wanted = "或".join(ROLE_LABELS.get(r, r) for r in roles)
            raise FieldError(f"{user.name} 不是{wanted}，请另选一位")
        if user.id in ctx.get("people_exclude", []):
            raise FieldError(f"这里不能选 {user.name}，请另选一位")
        return Parsed({"id": user.id, "name": user.name})

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value.get("name", "")) if isinstance(value, dict) else str(value or "")


class PersonValue(Value):
    """A ``person`` answer: the colleague picked."""

    id: int
    name: str = ""


def setup(registry: Registry) -> None:
    registry.field_type("person", PersonField())
