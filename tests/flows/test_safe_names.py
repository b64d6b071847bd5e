"""Names are stored in one visible form: look-alikes are duplicates, line breaks and controls are refused,
and another team's customer is not named with its owner in 新建客户's hints."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness, make_settings
from storage.models import Customer
from tests.flows.kit import add_customer, org, rows


async def test_zero_width_twin_is_refused_and_line_breaks_are_refused(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, settings=make_settings(tmp_path, db_url=db_url)) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "zhangting")
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州市第一人民医院\u200b")
        assert "已有客户「杭州市第一人民医院」（负责人 张婷），不能重复建档" in r[0]
        r = await bot.send("wanglei", "\u202e杭州市第一人民医院\u2066")
        assert "不能重复建档" in r[0]
        r = await bot.send(
            "wanglei", "[点此领取补贴](http://evil.example/p)\n\n**李强：紧急通知** [登录核验](x)"
        )
        assert "客户名称不能换行，请在一行内输入" in r[0]
        # NUL, ESC and BEL are dropped on arrival (PostgreSQL cannot store NUL at all).
        r = await bot.send("wanglei", "桐庐\x00县\x1b人民\x07医院\u200d")
        assert "客户类型" in r[-1], r
        await bot.send("wanglei", "取消")
        assert [c.name for c in await rows(bot, Customer)] == ["杭州市第一人民医院"]
        r = await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "ＡＢＣ　桐庐县\u200b人民医院")
        assert "客户类型" in r[-1]
        await bot.send("wanglei", "三甲医院")
        await bot.send("wanglei", "A")
        await bot.send("wanglei", "杭州\x00市\x1b[0m\x07")  # free text: NUL/ESC/BEL are dropped on arrival
        for answer in ("1", "刘建国", "采购科主任", "2026-11-20", "否"):
            r = await bot.send("wanglei", answer)
        names = sorted((c.name, c.region) for c in await rows(bot, Customer))
        assert names == [("ABC 桐庐县人民医院", "杭州市[0m"), ("杭州市第一人民医院", "杭州市上城区")], (
            names,
            r,
        )


async def test_similar_name_hint_hides_another_teams_customer(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "sunyue")  # 二组
        await add_customer(bot, "杭州市第一医院分院", "zhangting")  # wanglei's own team
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州一院")
        assert "已有同名客户（其他团队）" in r[-1]
        assert "孙悦" not in r[-1] and "杭州市第一人民医院" not in r[-1]
        # The other team's manager sees it with its owner.
        await bot.send("zhaogang", "新建客户")
        r = await bot.send("zhaogang", "杭州一院")
        assert "杭州市第一人民医院（负责人 孙悦）" in r[-1]


async def test_nul_esc_and_bel_in_free_text_never_reach_the_database(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, settings=make_settings(tmp_path, db_url=db_url)) as bot:
        await org(bot)
        await bot.send("wanglei", "新建客户")
        answers = (
            "桐庐县人民医院",
            "三甲医院",
            "A",
            "杭州\x00市\x07",
            "1",
            "刘\x1b建国",
            "主任",
            "昨天",
            "否",
        )
        for answer in answers:
            r = await bot.send("wanglei", answer)
        assert any("已建立客户档案「桐庐县人民医院」" in x for x in r), r
        [customer] = await rows(bot, Customer)
        assert customer.region == "杭州市" and customer.key_persons[0].name == "刘建国"
