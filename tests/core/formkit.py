"""A feature module for tests: starts the test forms and reports what a completed form held."""

from __future__ import annotations

import json

from handlers.commands import Command
from handlers.context import Turn
from handlers.forms.engine import FormResult, ReaskError
from handlers.registry import Registry

FORMKIT_MODULES = ("handlers.basic", "handlers.customer_field", "tests.core.formkit", "tests.shipped_types")


def setup(registry: Registry) -> None:
    async def start(form: str, turn: Turn) -> None:
        await turn.services.forms.start(
            turn.session, now=turn.now, user=turn.user, form_name=form, channel=turn.event.channel, turn=turn
        )

    async def start_all(turn: Turn, args: str) -> None:
        await start("alltypes", turn)

    async def start_short(turn: Turn, args: str) -> None:
        await start("short", turn)

    async def lookup(turn: Turn, args: str) -> None:
        await turn.reply(f"查询结果：{args}")

    async def done(turn: Turn, result: FormResult) -> None:
        await turn.reply("完成：" + json.dumps(result.answers, ensure_ascii=False, sort_keys=True))

    registry.command(Command(("测试表单",), start_all, "start the all-types form"))
    registry.command(Command(("短表单",), start_short, "start the short form"))
    registry.command(Command(("查询",), lookup, "a lookup allowed inside forms", in_form=True))
    registry.command(Command(("经理命令",), lookup, "manager only", roles=frozenset({"manager"})))

    async def short_done(turn: Turn, result: FormResult) -> None:
        """A first answer of 连续 chains another short form; 连续两个 chains two (the second announced);
        重问 chains one and then asks the first field again, which must drop the chained form."""
        await done(turn, result)
        first = str(result.answers.get("a", ""))
        for _ in range(2 if first == "连续两个" else 1 if first in {"连续", "重问"} else 0):
            await start("short", turn)
        if first == "重问":
            raise ReaskError("a", "第一题请换个说法")

    registry.completer("alltypes_done", done)
    registry.completer("short_done", short_done)
