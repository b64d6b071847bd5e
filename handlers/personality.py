"""客户个性标签: tags with their basis and the decision-maker's preferences, shown to every later visitor."""

from __future__ import annotations

from domain import profiles
from handlers.commands import Command
from handlers.completion import Audit, Progress, finish
from handlers.context import Turn
from handlers.customer_field import CustomerValue
from handlers.flowkit import customer_form_args, editable_customer, start_form
from handlers.forms.answers import Answers
from handlers.forms.engine import FormResult
from handlers.registry import Registry


class TagAnswers(Answers):
    customer: CustomerValue | None = None
    tags: tuple[str, ...] = ()
    basis: str = ""
    preferences: str = ""


async def complete_tags(turn: Turn, result: FormResult) -> None:
    answers = result.typed(TagAnswers)
    customer = await editable_customer(turn, answers.customer)
    if customer is None:
        await turn.reply("你没有权限修改这家客户的档案。")
        return
    tags = list(answers.tags)
    basis = answers.basis.strip()
    audit: list[Audit] = []
    for tag in tags:
        row = await profiles.add_tag(
            turn.session, customer, tag=tag, basis=basis, author_id=turn.user.id, now=turn.now
        )
        after = {"customer_id": customer.id, "tag": tag, "basis": basis}
        audit.append(Audit("personality_tag.add", "personality_tag", row.id, after=after))
    preferences = answers.preferences.strip()
    if preferences and preferences != customer.preferences:
        before = {"preferences": customer.preferences}
        audit.append(
            Audit(
                "customer.update", "customer", customer.id, before=before, after={"preferences": preferences}
            )
        )
        profiles.set_preferences(customer, preferences)
    text = f"已为「{customer.name}」记录个性标签：{'、'.join(tags)}。之后拜访这家客户的同事都会在简报里看到。"
    if preferences:
        text += f"\n决策者偏好：{preferences}"
    progress = Progress(customer, "profile", note="个性标签：" + "、".join(tags))
    await finish(turn, audit=audit, progress=progress, reply=text)


async def start_tags(turn: Turn, args: str) -> None:
    await start_form(turn, "personality", **await customer_form_args(turn, args))


def setup(registry: Registry) -> None:
    registry.completer("personality_tags", complete_tags, answers=TagAnswers)
    registry.command(
        Command(
            ("客户个性标签", "个性标签"),
            start_tags,
            "记录决策者的个性标签和偏好（可跟客户名称）",
            group="客户",
        )
    )
