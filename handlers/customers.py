"""新建客户 / 添加关键人 / 客户 <名称>: customer profiles with their decision chain."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from core.events import CardActionEvent
from core.messages import Choice, Message, Text
from domain import profiles
from domain.access import can_edit, knows_owner
from domain.audit import snapshot
from domain.profiles import KeyPersonInput
from domain.safe_text import BadText, clean_name
from domain.twins import NameIndex, exact_twins, load_index
from handlers.commands import Command
from handlers.completion import Audit, Progress, finish
from handlers.context import Turn
from handlers.customer_field import CustomerValue
from handlers.flowkit import (
    customer_form_args,
    editable_customer,
    find_customer,
    not_found,
    not_found_text,
    start_form,
    view_of,
)
from handlers.forms.answers import Answers
from handlers.forms.engine import FormResult, ReaskError
from handlers.forms.fields import ConfirmField, FieldError, Parsed, TextField
from handlers.forms.spec import FieldSpec
from handlers.profile_text import profile_text
from handlers.registry import Registry
from storage.models import Customer, User

PENDING = "similar_pending"
CUSTOMER_FIELDS = (
    "name",
    "kind",
    "grade",
    "region",
    "owner_id",
    "shared",
    "profile_complete",
    "lead_created_at",
)
KEEP, DIFFERENT = "是，另一家，继续新建", "不是，是同一家"


async def _owner_names(turn: Turn, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await turn.session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows}


async def name_index(turn: Turn) -> NameIndex:
    """All customer names, kept between turns and topped up with customers added since (any process)."""
    cached = turn.services.extras.get("customer_name_index")
    index = await load_index(turn.session, since=cached if isinstance(cached, NameIndex) else None)
    turn.services.extras["customer_name_index"] = index
    return index


OTHER_TEAM = "已有同名客户（其他团队）"


def _twin_line(twin: dict[str, Any]) -> str:
    if twin.get("other_team"):
        return f"· {OTHER_TEAM}"
    return f"· {twin['name']}" + (f"（负责人 {twin['owner']}）" if twin.get("owner") else "")


class CustomerNameField:
    """A new customer's name: refuses a certain twin, asks to confirm a probable one."""

    _text = TextField()

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    def ask_in_context(self, spec: FieldSpec, prompt: str, token: str, ctx: dict[str, Any]) -> Message:
        pending = ctx.get(PENDING)
        if not pending:
            return Text(text=prompt)
        lines = "\n".join(_twin_line(t) for t in pending["twins"])
        return Choice(
            prompt=f"已有名称相近的客户：\n{lines}\n「{pending['name']}」是另一家新客户吗？",
            options=[KEEP, DIFFERENT],
            token=token,
            note="也可以直接输入其他名称。",
        )

    @staticmethod
    def _answer(turn: Turn) -> str:
        event = turn.event
        if isinstance(event, CardActionEvent):
            return event.values[0] if event.values else ""
        return getattr(event, "text", "").strip()

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        pending = ctx.get(PENDING)
        if pending:
            answer = self._answer(turn).rstrip("。.!！")
            if answer in {"1", KEEP, pending["name"]} or answer in ConfirmField.YES:
                return Parsed(pending["name"], f"好的，新建「{pending['name']}」。")
            if answer in {"2", DIFFERENT} or answer in ConfirmField.NO:
                raise FieldError(
                    "好的，不重复建档。可以用「客户 名称」查看已有客户；"
                    "如要新建别的客户，请输入名称（不建了回复「放弃」）",
                    {PENDING: None},
                )
        parsed = await self._text.parse(turn, spec, ctx)
        try:
            name = clean_name(str(parsed.value), what="客户名称")
        except BadText as exc:
            raise FieldError(str(exc), {PENDING: None}) from None
        exact = await exact_twins(turn.session, name)
        if exact:
            twin = exact[0]
            if not await knows_owner(turn.session, turn.user, twin):
                raise FieldError(
                    f"{OTHER_TEAM}，不能重复建档。如需跟进，请联系主管共享给你或转给你",
                    {PENDING: None},
                )
            owner = (await _owner_names(turn, {twin.owner_id} if twin.owner_id else set())).values()
            who = f"（负责人 {next(iter(owner))}）" if owner else ""
            visible = await can_edit(turn.session, turn.user, twin)
            hint = f"可以用「客户 {twin.name}」查看" if visible else "如需跟进，请联系主管共享给你或转给你"
            raise FieldError(f"已有客户「{twin.name}」{who}，不能重复建档。{hint}", {PENDING: None})
        index = await name_index(turn)
        twins = index.similar(name, turn.services.settings.flows.duplicate_threshold)[:3]
        if twins:
            rows = {
                c.id: c
                for c in (
                    await turn.session.execute(
                        select(Customer).where(Customer.id.in_([t.customer_id for t in twins]))
                    )
                ).scalars()
            }
            owners = await _owner_names(turn, {c.owner_id for c in rows.values() if c.owner_id})
            listed = []
            for t in twins:
                row = rows.get(t.customer_id)
                if row is None:
                    continue
                if await knows_owner(turn.session, turn.user, row):
                    listed.append(
                        {"id": t.customer_id, "name": t.name, "owner": owners.get(row.owner_id or 0, "")}
                    )
                else:  # another team's customer: its name, but neither its owner nor its id
                    listed.append({"id": 0, "name": t.name, "owner": "", "other_team": True})
            raise FieldError(
                "这个名称和已有客户很像，为避免重复建档请确认", {PENDING: {"name": name, "twins": listed}}
            )
        return Parsed(name, parsed.echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value)


class KeyPersonAnswers(Answers):
    role_group: str = "其他"
    name: str = ""
    title: str = ""
    last_contact: str | None = None


class NewKeyPersonAnswers(KeyPersonAnswers):
    customer: CustomerValue | None = None


class CustomerAnswers(Answers):
    name: str
    kind: str = ""
    grade: str = ""
    region: str = ""
    key_persons: tuple[KeyPersonAnswers, ...] = ()


def _key_person(item: KeyPersonAnswers) -> KeyPersonInput:
    last = item.last_contact
    return KeyPersonInput(
        role_group=item.role_group,
        name=item.name,
        title=item.title,
        last_contact_on=date.fromisoformat(last) if last else None,
    )


def incomplete_reminder(customer: Customer) -> str:
    have = len(profiles.active_key_persons(customer))
    return (
        f"⚠️ 「{customer.name}」的决策链至少需要 {profiles.MIN_KEY_PERSONS} 位关键人，目前 {have} 位，"
        f"档案标记为不完整。请尽快回复「添加关键人 {customer.name}」补充。"
    )


async def complete_customer(turn: Turn, result: FormResult) -> None:
    answers = result.typed(CustomerAnswers)
    name = answers.name.strip()
    if await exact_twins(turn.session, name):  # created meanwhile by someone else
        raise ReaskError("name", f"刚刚已有人建立了「{name}」，不能重复建档，请换一个名称或回复「取消」")
    customer = await profiles.create_customer(
        turn.session,
        now=turn.now,
        name=name,
        owner_id=turn.user.id,
        kind=answers.kind,
        grade=answers.grade,
        region=answers.region,
        key_persons=[_key_person(item) for item in answers.key_persons],
    )
    audit = [Audit("customer.create", "customer", customer.id, after=snapshot(customer, CUSTOMER_FIELDS))]
    audit += [
        Audit("key_person.add", "key_person", p.id, after=profiles.key_person_snapshot(p))
        for p in customer.key_persons
    ]
    count = len(customer.key_persons)
    await finish(
        turn,
        audit=audit,
        progress=Progress(customer, "profile", note="新建客户档案"),
        reply=f"已建立客户档案「{customer.name}」（决策链 {count} 人）。回复「客户 {customer.name}」可查看。",
    )
    if not customer.profile_complete:
        await turn.reply(incomplete_reminder(customer))
    visit_id = result.context.get("link_visit_id")
    if visit_id:
        from handlers.visits import link_visit_by_id

        await link_visit_by_id(turn, int(visit_id), customer)


async def complete_key_person(turn: Turn, result: FormResult) -> None:
    answers = result.typed(NewKeyPersonAnswers)
    customer = await editable_customer(turn, answers.customer)
    if customer is None:
        await turn.reply("你没有权限修改这家客户的档案。")
        return
    was_complete = customer.profile_complete
    existing = profiles.same_person(customer, answers.name)
    before = profiles.key_person_snapshot(existing) if existing is not None else None
    person, created = await profiles.upsert_key_person(
        turn.session, now=turn.now, customer=customer, person=_key_person(answers)
    )
    action = "key_person.add" if created else "key_person.update"
    after = profiles.key_person_snapshot(person)
    audit = [Audit(action, "key_person", person.id, before=before, after=after)]
    if customer.profile_complete != was_complete:
        before, after = {"profile_complete": was_complete}, {"profile_complete": customer.profile_complete}
        audit.append(Audit("customer.update", "customer", customer.id, before=before, after=after))
    count = len(profiles.active_key_persons(customer))
    done = "，档案已完整" if customer.profile_complete and not was_complete else ""
    what = "新增关键人" if created else "更新关键人"
    if created:
        reply = f"已为「{customer.name}」添加关键人 {person.name}（决策链 {count} 人{done}）。"
    else:
        reply = (
            f"「{customer.name}」已有关键人 {person.name}，已更新其信息，"
            f"没有重复添加（决策链 {count} 人{done}）。"
        )
    await finish(
        turn,
        audit=audit,
        progress=Progress(customer, "profile", note=f"{what} {person.role_group} {person.name}"),
        reply=reply,
    )
    if not customer.profile_complete:
        await turn.reply(incomplete_reminder(customer))


async def new_customer(turn: Turn, args: str) -> None:
    await start_form(turn, "customer")


async def add_key_person(turn: Turn, args: str) -> None:
    await start_form(turn, "key_person", **await customer_form_args(turn, args))


async def lookup(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply("用法：客户 <名称>，例如「客户 杭州一院」。")
        return
    customer, matches = await find_customer(turn, args)
    if customer is None:
        if matches:
            await not_found(turn, args, matches)
        else:
            await turn.reply(not_found_text(args, []) + "新客户请回复「新建客户」。")
        return
    view = await view_of(turn.session, turn.services, customer)
    await turn.reply(profile_text(view, turn.services.tz))


def setup(registry: Registry) -> None:
    registry.field_type("customer_name", CustomerNameField())
    registry.completer("customer_profile", complete_customer, answers=CustomerAnswers)
    registry.completer("key_person", complete_key_person, answers=NewKeyPersonAnswers)
    group = "客户"
    registry.command(Command(("新建客户",), new_customer, "建立客户档案和决策链", exact=True, group=group))
    registry.command(
        Command(("添加关键人",), add_key_person, "为客户的决策链添加关键人（可跟客户名称）", group=group)
    )
    registry.command(
        Command(("客户",), lookup, "查看客户档案、决策链、个性标签和最近跟进：客户 <名称>", group=group)
    )
    # Inside a form a message starting with 客户 is usually an answer (客户说…), so the lookup that
    # works mid-form has its own name.
    registry.command(
        Command(("查客户",), lookup, "填表时也能查看客户档案：查客户 <名称>", in_form=True, group=group)
    )
