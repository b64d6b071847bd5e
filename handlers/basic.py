"""帮助 / 继续 / 取消 and other commands every user has."""

from __future__ import annotations

from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry

# People who work with customers see every command; product and finance see their own first.
FIELD_ROLES = frozenset({"rep", "manager", "admin"})
DESK_NOTES = {
    "product": "客户反复提到的需求达到提醒条件时，我会主动发给你。",
    "finance": "每季度的返利结果算好后，我会主动发给你。",
}


def _help_text(turn: Turn, registry: Registry, *, everything: bool = False) -> str:
    roles = turn.user.roles
    desk = not (roles & FIELD_ROLES) and not everything
    groups: dict[str, list[str]] = {}
    for command in registry.commands:
        if command.hidden:
            continue
        if command.roles and not (roles & command.roles):
            continue
        if desk and not command.roles and command.group != "常用":
            continue
        groups.setdefault(command.group, []).append(f"· {command.names[0]} — {command.help}")
    lines = ["我能帮你做这些（直接发消息即可）："]
    for group, items in groups.items():
        lines.append(f"\n【{group}】")
        lines.extend(items)
    if desk:
        lines.extend(["", *(note for role, note in DESK_NOTES.items() if role in roles)])
        lines.append("查客户、记录拜访等销售用的命令，回复「帮助 全部」查看。")
    else:
        lines.append(
            "\n填写表单时：回复「返回」改上一项，「跳过」跳过选填项，「取消」暂停（「继续」接着填），"
            "「放弃」不再填写。"
        )
    return "\n".join(lines)


GREETINGS = (
    "你好",
    "您好",
    "你好呀",
    "在吗",
    "在么",
    "在不在",
    "嗨",
    "哈喽",
    "hi",
    "hello",
    "早",
    "早上好",
    "下午好",
)

# What each role is most likely to want right now, most useful first (command, what it does).
SUGGESTIONS: tuple[tuple[str, str, str], ...] = (
    ("rep", "我的待跟进", "看看哪些客户该跟进了"),
    ("rep", "新建客户", "登记一家新客户"),
    ("manager", "待跟进客户", "看团队超时未跟进的客户"),
    ("manager", "健康指标", "看动作规范率、线索转化率和数据鲜度"),
    ("product", "需求主题", "看客户反复提到的需求"),
    ("admin", "人员列表", "查看和管理同事"),
)


async def _greeting(turn: Turn) -> str:
    forms = turn.services.forms
    lines = [f"{turn.user.name}，你好！我是动作流助手。现在可以："]
    waiting = await forms.resumable(turn.session, turn.user.id)
    if waiting is not None:
        lines.append(f"· 回复「继续」接着填写「{waiting}」")
    seen: set[str] = set()
    for role, command, what in SUGGESTIONS:
        if role in turn.user.roles and command not in seen and len(lines) < 4:
            seen.add(command)
            lines.append(f"· 回复「{command}」{what}")
    if len(lines) == 1:  # nothing to suggest (finance): no colon left hanging before nothing
        lines[0] = f"{turn.user.name}，你好！我是动作流助手。"
        lines += [note for role, note in DESK_NOTES.items() if role in turn.user.roles]
    lines.append("回复「帮助」查看全部功能。")
    return "\n".join(lines)


def setup(registry: Registry) -> None:
    async def greet(turn: Turn, args: str) -> None:
        await turn.reply(await _greeting(turn))

    async def help_(turn: Turn, args: str) -> None:
        await turn.reply(_help_text(turn, registry, everything=args.strip() in ("全部", "all")))

    async def resume(turn: Turn, args: str) -> None:
        forms = turn.services.forms
        state = await forms.active(turn.session, turn.user.id)
        if state is not None:  # already filling one: the router asks its question again
            await turn.reply(f"继续填写「{forms.spec(state.form).title}」{forms.about(state)}：")
            return
        if not await forms.resume(turn):
            await turn.reply("没有可以继续的表单。")

    async def cancel(turn: Turn, args: str) -> None:
        await turn.reply("当前没有进行中的表单。")

    async def discard(turn: Turn, args: str) -> None:
        if not await turn.services.forms.discard_paused(turn):
            await turn.reply("没有暂停中的表单可以放弃。")

    registry.command(Command(("帮助", "help", "?", "？"), help_, "查看可用命令", in_form=True))
    registry.command(Command(GREETINGS, greet, "打招呼", exact=True, hidden=True))
    registry.command(Command(("继续",), resume, "继续填写上次未完成的表单", in_form=True, exact=True))
    registry.command(
        Command(("取消", "跳过", "返回"), cancel, "退出/跳过/返回（填表时）", exact=True, hidden=True)
    )
    registry.command(Command(("放弃",), discard, "放弃暂停中的表单，不再提醒", exact=True, hidden=True))
