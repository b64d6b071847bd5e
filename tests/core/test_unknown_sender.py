"""Unknown senders get a polite reply; admins are told once; nothing is stored under a wrong user."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.testing import BotHarness
from handlers.context import Turn
from storage.models import ConversationState, InboundEvent, PendingSender, User


async def test_unknown_sender_is_answered_and_admins_told_once(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("boss", "周敏", roles=("admin",))
        await bot.add_user("rep", "王磊")
        first = await bot.send("stranger", "你好，我是新来的销售")
        assert "还没有开通" in first[0] and "已通知管理员" in first[0]
        second = await bot.send("stranger", "在吗")
        assert "仍在等待管理员审核" in second[0]
        await bot.send("stranger", "新建客户")
        notices = [t for t in bot.texts_to("boss") if "新用户请求使用" in t]
        assert len(notices) == 1 and "你好，我是新来的销售" in notices[0]
        assert bot.texts_to("rep") == []
        async with bot.session() as s:
            pending = (await s.execute(select(PendingSender))).scalar_one()
            assert pending.message_count == 3 and pending.status == "pending"
            assert (await s.execute(select(func.count()).select_from(User))).scalar_one() == 2
            assert (await s.execute(select(func.count()).select_from(ConversationState))).scalar_one() == 0
            statuses = (await s.execute(select(InboundEvent.status))).scalars().all()
            assert set(statuses) == {"done"}


async def test_inactive_user_is_refused(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("gone", "离职者", status="inactive")
        replies = await bot.send("gone", "帮助")
        assert "已停用" in replies[0]


async def test_a_handler_crash_apologises_and_loses_nothing(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("rep")

        async def boom(turn: Turn, args: str) -> None:
            raise RuntimeError("bug")

        from handlers.commands import Command

        bot.app.registry.commands.add(Command(("爆炸",), boom, "crashes"))
        replies = await bot.send("rep", "爆炸")
        assert "出错了" in replies[0]
        async with bot.session() as s:
            row = (await s.execute(select(InboundEvent))).scalar_one()
            assert row.status == "failed" and "RuntimeError: bug" in row.error
        assert "我能帮你做这些" in (await bot.send("rep", "帮助"))[0]
