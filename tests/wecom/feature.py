"""A feature module for the WeCom tests: an approval handler that answers with a visit brief, and
commands that send the message kinds a channel must carry (markdown, file, group posts, long text)."""

from __future__ import annotations

from pathlib import Path

from core.events import ApprovalEvent
from core.messages import File, Markdown
from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry
from tests.core.formkit import FORMKIT_MODULES

MODULES = (*FORMKIT_MODULES, "tests.wecom.feature")
REPORT = Path(__file__).resolve().parents[1] / "data" / "photo.jpg"

approvals: list[ApprovalEvent] = []


def setup(registry: Registry) -> None:
    async def on_approval(turn: Turn) -> None:
        event = turn.event
        assert isinstance(event, ApprovalEvent)
        approvals.append(event)
        if event.status != "submitted":
            await turn.reply(f"拜访申请 {event.approval_id} 状态：{event.status}")
            return
        f = event.fields
        await turn.reply(
            f"拜访简报：客户 {f.get('customer', '?')}；时间 {f.get('start', '?')} 至 {f.get('end', '?')}；"
            f"事由 {f.get('purpose', '?')}"
        )

    async def markdown(turn: Turn, args: str) -> None:
        await turn.reply(Markdown(title="本周进展", text="- 拜访 **3** 家\n- 新线索 2 条"))

    async def report(turn: Turn, args: str) -> None:
        await turn.reply(
            File(path=str(REPORT), name="现场照片.jpg", mime="image/jpeg", caption="这是现场照片")
        )

    async def to_group(turn: Turn, args: str) -> None:
        group, _, text = args.partition(" ")
        await turn.tell_group(group, text)

    async def long_text(turn: Turn, args: str) -> None:
        await turn.reply("\n".join(f"第{i}行：" + "很长的内容" * 20 for i in range(1, 41)))

    registry.approval_handler = on_approval
    registry.command(Command(("周报摘要",), markdown, "markdown reply"))
    registry.command(Command(("现场照片",), report, "file reply"))
    registry.command(Command(("群通知",), to_group, "post to a named group"))
    registry.command(Command(("长消息",), long_text, "a reply longer than one WeCom message"))
