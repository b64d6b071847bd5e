"""Who sees and changes which customers: a rep their own (and shared ones), a manager their team's."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from storage.models import PersonalityTag, Visit
from tests.flows.kit import add_customer, one, org, rows, visit_fields


async def test_a_rep_cannot_see_or_change_another_reps_customer(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "余杭区人民医院", "zhangting")
        await add_customer(bot, "杭州市中医院", "sunyue", shared=True)
        r = await bot.send("wanglei", "客户 余杭区人民医院")
        assert "没有找到你可以查看的客户" in r[-1]
        r = await bot.send("wanglei", "客户 杭州市中医院")  # shared: visible to everyone
        assert r[-1].startswith("【客户档案】杭州市中医院")
        # Tags: the customer picker only offers customers the rep may change.
        await bot.send("wanglei", "客户个性标签")
        r = await bot.send("wanglei", "余杭区人民医院")
        assert "没有找到“余杭区人民医院”" in r[0]
        await bot.send("wanglei", "取消")
        # Trial feedback and competitor analysis refuse it too.
        r = await bot.send("wanglei", "竞对分析 余杭区人民医院")
        assert "没有找到你可以查看的客户" in r[-1]
        r = await bot.send("wanglei", "拜访完成 余杭区人民医院")
        assert "没有找到你可以查看的客户" in r[-1]
        # A visit application naming it does not reveal it: the rep is asked instead.
        r = await bot.approval("wanglei", "AP-1", "submitted", visit_fields("余杭区人民医院"))
        # (杭州市第一人民医院 is a different hospital: it is not offered either)
        assert "没有找到拜访申请里的「余杭区人民医院」" in r[-1]
        choice = bot.last_choice("wanglei")
        assert choice is not None and choice.options == ["新建客户"]
        assert (await one(bot, Visit)).customer_id is None
        assert await rows(bot, PersonalityTag) == []


async def test_a_manager_sees_the_teams_customers_only(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "余杭区人民医院", "zhangting")
        await add_customer(bot, "萧山区第一人民医院", "sunyue")
        for name in ("杭州市第一人民医院", "余杭区人民医院"):
            r = await bot.send("liqiang", f"客户 {name}")
            assert r[-1].startswith(f"【客户档案】{name}")
        r = await bot.send("liqiang", "客户 萧山区第一人民医院")
        assert "没有找到你可以查看的客户" in r[-1]
        r = await bot.send("zhaogang", "客户 萧山区第一人民医院")
        assert "负责人 孙悦" in r[-1]
        # The manager may add tags to a team member's customer; the other manager may not.
        await bot.send("liqiang", "个性标签 余杭区人民医院")
        await bot.send("liqiang", "关系导向型")
        await bot.send("liqiang", "院长和我们老板是同学")
        r = await bot.send("liqiang", "跳过")
        assert "已为「余杭区人民医院」记录个性标签：关系导向型" in r[-1]
        r = await bot.send("zhaogang", "个性标签 余杭区人民医院")
        assert "哪家客户" in r[-1]  # not prefilled: he cannot pick it
        r = await bot.send("zhaogang", "余杭区人民医院")
        assert "没有找到“余杭区人民医院”" in r[0] and "负责人" not in r[0]
        # An admin sees everything.
        r = await bot.send("admin", "客户 萧山区第一人民医院")
        assert r[-1].startswith("【客户档案】萧山区第一人民医院")


async def test_nobody_can_edit_a_quote(tmp_path: Path) -> None:
    """There is no command that changes a quote, and the voice field refuses text."""
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        for attempt in ("修改原话 1 新内容", "编辑原话", "删除原话 1"):
            r = await bot.send("wanglei", attempt)
            assert "没听懂" in r[-1]
