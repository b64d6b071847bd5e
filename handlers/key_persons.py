"""更新关键人 <客户> <姓名>: keep a decision-chain contact current (contact date, title, phone, replaced,
left); and the visit report's 「这次见到了哪些关键人」 (options: the customer's active chain)."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.events import CardActionEvent
from core.messages import Choice, Message, Text
from domain import profiles
from domain import progress as progress_log
from domain.numerals import typed_number
from domain.profiles import KeyPersonInput
from handlers.commands import Command
from handlers.context import Turn
from handlers.flowkit import start_form, today
from handlers.forms.answers import Answers
from handlers.forms.engine import FormResult
from handlers.forms.fields import FieldError, Parsed
from handlers.forms.spec import FieldSpec
from handlers.outcomes import customer_named
from handlers.registry import Registry
from storage.models import Customer, KeyPerson

CHANGES = ("today", "date", "title", "phone", "replaced", "left")
MET_KEY = "key_persons"  # form context: [{"id", "label"}] of the chain when the visit report started
NONE_MET = "都没见到"
_NONE_WORDS = {NONE_MET, "无", "没有", "都没有", "没见到", "否", "不", "0"}


def update_hint(customer_name: str, person_name: str) -> str:
    return f"更新关键人 {customer_name} {person_name}"


def chain_context(customer: Customer) -> list[dict[str, Any]]:
    """The active chain as the visit report's ``key_persons_met`` options."""
    return [
        {"id": p.id, "label": f"{p.role_group} {p.name}" + (f"（{p.title}）" if p.title else "")}
        for p in profiles.active_key_persons(customer)
    ]


class KeyPersonsMetField:
    """Multi-select over the chain saved in the form context; the value is a list of key person ids."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    def ask_in_context(self, spec: FieldSpec, prompt: str, token: str, ctx: dict[str, Any]) -> Message:
        options = [str(p["label"]) for p in ctx.get(MET_KEY, [])]
        return Choice(prompt=prompt, options=[*options, NONE_MET], multi=True, token=token)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        people: list[dict[str, Any]] = list(ctx.get(MET_KEY, []))
        event = turn.event
        if isinstance(event, CardActionEvent):
            tokens = list(event.values)
        else:
            text = getattr(event, "text", "").strip()
            tokens = [t for t in text.replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if t]
        if not tokens:
            raise FieldError("请回复编号，可多选（如 1,3）；都没见到回复「无」")
        if all(t in _NONE_WORDS or t == str(len(people) + 1) for t in tokens):
            return Parsed([])
        picked: list[int] = []
        for tok in tokens:
            index = None
            number = typed_number(tok)
            if number is not None and 1 <= number <= len(people):
                index = number - 1
            else:
                hits = [i for i, p in enumerate(people) if tok in str(p["label"])]
                index = hits[0] if len(hits) == 1 else None
            if index is None:
                raise FieldError(f"「{tok}」不在名单里，请回复 1–{len(people) + 1} 中的编号")
            if people[index]["id"] not in picked:
                picked.append(int(people[index]["id"]))
        return Parsed(picked)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return f"{len(value)} 位" if value else NONE_MET


async def record_met(turn: Turn, customer: Customer, ids: list[int]) -> list[str]:
    """Today becomes the last contact of the key persons met; returns their names."""
    day = today(turn.services)
    names = []
    for person in customer.key_persons:
        if person.id not in ids:
            continue
        before = profiles.key_person_snapshot(person)
        if profiles.mark_contacted(person, day, turn.now):
            turn.audit(
                "key_person.contact",
                "key_person",
                person.id,
                before=before,
                after=profiles.key_person_snapshot(person),
            )
        names.append(person.name)
    return names


def _find_person(customer: Customer, name: str) -> KeyPerson | None:
    person = profiles.same_person(customer, name)
    if person is not None:
        return person
    hits = [p for p in profiles.active_key_persons(customer) if name and name in p.name]
    return hits[0] if len(hits) == 1 else None


def _chain_list(customer: Customer) -> str:
    people = profiles.active_key_persons(customer)
    if not people:
        return f"「{customer.name}」还没有关键人，可回复「添加关键人 {customer.name}」。"
    names = "、".join(p.name for p in people)
    return f"「{customer.name}」的关键人：{names}。"


async def update_key_person(turn: Turn, args: str) -> None:
    """更新关键人 <客户> <姓名>"""
    head, _, name = args.strip().rpartition(" ")
    if not head.strip() or not name:
        await turn.reply("用法：更新关键人 <客户> <姓名>，例如「更新关键人 富阳区人民医院 刘建国」。")
        return
    customer = await customer_named(turn, head)
    if customer is None:
        return
    person = _find_person(customer, name)
    if person is None:
        await turn.reply(f"没有找到关键人「{name}」。{_chain_list(customer)}")
        return
    context = {"customer_id": customer.id, "key_person_id": person.id, "name": person.name}
    await turn.reply(f"更新「{customer.name}」的关键人 {person.name}。")
    await start_form(turn, "key_person_update", context=context)


class UpdateAnswers(Answers):
    change: str
    contact_date: str | None = None
    title: str = ""
    phone: str = ""
    successor: str = ""
    successor_title: str = ""


async def complete_update(turn: Turn, result: FormResult) -> None:
    ctx, answers = result.context, result.typed(UpdateAnswers)
    person = await turn.session.get(KeyPerson, int(ctx.get("key_person_id") or 0))
    customer = await turn.session.get(Customer, int(ctx.get("customer_id") or 0))
    if person is None or customer is None:
        await turn.reply("找不到这位关键人，可能已被删除，未保存。")
        return
    before = profiles.key_person_snapshot(person)
    change = answers.change
    options = turn.services.forms.spec("key_person_update").field("change").options
    # The options mean, in this order: contacted today, on a date, new title, new phone, replaced, left
    # (a company may reword them in the forms file; the order is what counts).
    action = CHANGES[options.index(change)] if change in options[: len(CHANGES)] else ""
    now = turn.now
    reply = ""
    if action == "today":
        profiles.mark_contacted(person, today(turn.services), now)
        reply = f"已记录今天和 {person.name} 沟通过。"
    elif action == "date":
        day = date.fromisoformat(str(answers.contact_date))
        profiles.mark_contacted(person, day, now)
        reply = f"已记录 {day:%m-%d} 和 {person.name} 沟通过。"
    elif action == "title":
        profiles.set_title(person, answers.title, now)
        reply = f"{person.name} 的职务已改为「{person.title}」。"
    elif action == "phone":
        profiles.set_phone(person, answers.phone, now)
        reply = f"{person.name} 的电话已更新。"
    elif action == "replaced":
        successor_name = answers.successor.strip()
        if profiles.same_person(customer, successor_name) is person:
            await turn.reply("接任者和原关键人同名，未保存。")
            return
        successor, created = await profiles.upsert_key_person(
            turn.session,
            now=now,
            customer=customer,
            person=KeyPersonInput(
                role_group=person.role_group,
                name=successor_name,
                title=answers.successor_title or person.title,
            ),
        )
        if created:
            turn.audit(
                "key_person.add", "key_person", successor.id, after=profiles.key_person_snapshot(successor)
            )
        profiles.mark_replaced(person, successor, now)
        reply = f"已记录 {person.name} 由 {successor.name} 接任。记得尽快和 {successor.name} 建立联系。"
    elif action == "left":
        profiles.mark_left(person, now)
        reply = f"已记录 {person.name} 离职，决策链不再显示。"
    else:
        await turn.reply("没有识别出要更新的内容，未保存。")
        return
    complete = profiles.refresh_complete(customer)
    after = profiles.key_person_snapshot(person)
    if after != before:
        turn.audit("key_person.update", "key_person", person.id, before=before, after=after)
    await progress_log.record(
        turn.session,
        now=now,
        customer=customer,
        rep_id=turn.user.id,
        kind="profile",
        note=f"关键人 {person.name}：{change}",
    )
    if not complete:
        from handlers.customers import incomplete_reminder

        reply += "\n" + incomplete_reminder(customer)
    await turn.reply(reply)


def setup(registry: Registry) -> None:
    registry.field_type("key_persons_met", KeyPersonsMetField())
    registry.completer("key_person_update", complete_update, answers=UpdateAnswers)
    registry.command(
        Command(
            ("更新关键人",),
            update_key_person,
            "记录关键人的沟通日期、职务、电话、换人或离职：更新关键人 <客户> <姓名>",
            group="客户",
        )
    )
