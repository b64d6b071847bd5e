"""How typed customer names are matched in chat: short forms, picks that are remembered, aliases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from bot.testing import BotHarness
from core.events import CardActionEvent
from storage.models import CustomerAlias, User, Visit
from tests.flows.kit import add_customer, audit_actions, one, org, rows, visit_fields


async def set_region(bot: BotHarness, handle: str, region: str) -> None:
    async with bot.session() as session:
        await session.execute(update(User).where(User.console_id == handle).values(region=region))
        await session.commit()


async def test_short_forms_open_the_customer(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "富阳区人民医院", "wanglei", region="杭州市富阳区")
        await add_customer(bot, "富阳区中医院", "wanglei", region="杭州市富阳区")
        await add_customer(bot, "杭州和睦医院", "wanglei", region="杭州市拱墅区")
        await add_customer(bot, "浙江大学医学院附属邵逸夫医院", "wanglei")
        await add_customer(bot, "浙江省人民医院", "wanglei")
        await add_customer(bot, "广东省人民医院", "wanglei", region="广州市越秀区")
        await set_region(bot, "wanglei", "浙江")
        for typed, name in (
            ("富阳", "富阳区人民医院"),
            ("和睦", "杭州和睦医院"),
            ("浙大邵逸夫", "浙江大学医学院附属邵逸夫医院"),
            ("省人民医院", "浙江省人民医院"),
            ("富阳中医院", "富阳区中医院"),
        ):
            r = await bot.send("wanglei", f"客户 {typed}")
            assert r[-1].startswith(f"【客户档案】{name}"), (typed, r)
        await set_region(bot, "wanglei", "广东")
        r = await bot.send("wanglei", "客户 省人医")
        assert r[-1].startswith("【客户档案】广东省人民医院"), r


async def test_a_typo_is_offered_and_the_pick_is_remembered_for_the_team(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "宁波李惠利医院", "wanglei", shared=True)
        r = await bot.send("wanglei", "客户 李慧利")
        assert "没有完全对上“李慧利”，你要找的是「宁波李惠利医院」吗？" in r[-1], r
        assert "请输入更完整的名称" not in r[-1]
        r = await bot.send("wanglei", "1")
        assert any("已记住：“李慧利”就是「宁波李惠利医院」" in x for x in r), r
        assert r[-1].startswith("【客户档案】宁波李惠利医院"), r
        alias = (await rows(bot, CustomerAlias))[0]
        assert (alias.alias, alias.source) == ("李慧利", "pick")
        # a colleague now gets it straight away
        r = await bot.send("zhangting", "客户 李慧利")
        assert r[-1].startswith("【客户档案】宁波李惠利医院"), r


async def test_two_close_candidates_are_asked_and_none_of_them_is_fine(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "复旦大学附属中山医院", "wanglei", region="上海市徐汇区")
        await add_customer(bot, "厦门大学附属中山医院", "wanglei", region="厦门市思明区")
        r = await bot.send("wanglei", "客户 中山医院")
        assert "“中山医院”对应多家客户" in r[-1] and "回复" in r[-1], r
        number = "1" if "1. 厦门大学附属中山医院" in r[-1] else "2"
        r = await bot.send("wanglei", number)
        assert r[-1].startswith("【客户档案】厦门大学附属中山医院"), r
        assert not any("已记住" in x for x in r)  # two fitted: the choice is this rep's, not the team's
        assert await rows(bot, CustomerAlias) == []
        r = await bot.send("wanglei", "客户 中山医院")
        r = await bot.send("wanglei", "3")  # 都不是
        assert "请输入客户全称" in r[-1], r


async def test_different_ordinal_or_store_is_not_opened(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第三人民医院", "wanglei")
        await add_customer(bot, "永辉超市福州台江店", "wanglei", region="福州市台江区")
        for typed in ("杭州一院", "永辉鼓楼店"):
            r = await bot.send("wanglei", f"客户 {typed}")
            assert f"没有找到你可以查看的客户“{typed}”" in r[-1], r


async def test_add_alias_and_see_it_on_the_profile(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "杭州市第三人民医院", "wanglei")
        r = await bot.send("wanglei", "添加别名 杭州市第一人民医院 湖滨医院")
        assert "以后输入“湖滨医院”就是「杭州市第一人民医院」" in r[-1], r
        r = await bot.send("wanglei", "客户 湖滨医院")
        assert r[-1].startswith("【客户档案】杭州市第一人民医院") and "别名：湖滨医院" in r[-1], r
        r = await bot.send("wanglei", "添加别名 杭州市第三人民医院 湖滨医院")
        assert "已经是客户「杭州市第一人民医院」的名称或别名" in r[-1], r
        r = await bot.send("wanglei", "添加别名 杭州市第三人民医院 杭州一院")
        assert "客户「杭州市第一人民医院」" in r[-1], r
        r = await bot.send("zhangting", "添加别名 杭州市第三人民医院 三院")
        assert "没有找到" in r[-1] or "没有权限" in r[-1], r
        assert len(await rows(bot, CustomerAlias)) == 1
        assert "customer.alias_add" in await audit_actions(bot)
        r = await bot.send("wanglei", "添加别名 杭州市第一人民医院")
        assert "用法：添加别名" in r[-1]


async def test_form_commands_offer_candidates_in_the_customer_question(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "宁波李惠利医院", "wanglei")
        r = await bot.send("wanglei", "添加关键人 李慧利")
        assert "没有完全对上“李慧利”，是这家吗？" in r[-1] and "宁波李惠利医院" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "客户：宁波李惠利医院" in "\n".join(r), r
        r = await bot.send("wanglei", "取消")
        r = await bot.send("wanglei", "客户个性标签")
        r = await bot.send("wanglei", "李慧丽医院")
        assert "宁波李惠利医院" in r[-1], r
        r = await bot.send("wanglei", "2")  # 都不是
        assert "好的，请输入客户的完整名称" in r[0] and "哪家客户" in r[-1], r
        r = await bot.send("wanglei", "宁波李惠利医院")
        assert "客户：宁波李惠利医院" in "\n".join(r), r
        await bot.send("wanglei", "取消")
        # several fit: the choice is answered, not remembered for the team
        await add_customer(bot, "复旦大学附属中山医院", "wanglei", region="上海市徐汇区")
        await add_customer(bot, "厦门大学附属中山医院", "wanglei", region="厦门市思明区")
        await bot.send("wanglei", "客户个性标签")
        r = await bot.send("wanglei", "中山医院")
        assert "“中山医院”对应多家客户" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "客户：" in r[0] and "已记住" not in r[0], r
        assert [a.alias for a in await rows(bot, CustomerAlias)] == ["李慧利"]


async def test_visit_application_with_a_typo_offers_the_customer_and_remembers(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "宁波李惠利医院", "wanglei")
        r = await bot.approval("wanglei", "AP-1", "submitted", visit_fields("李慧利"))
        assert "拜访申请里的「李慧利」没有完全对上，是这家吗？" in r[-1] and "1. 宁波李惠利医院" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert any("【拜访简报】宁波李惠利医院" in x for x in r), r
        assert [a.alias for a in await rows(bot, CustomerAlias)] == ["李慧利"]
        assert (await one(bot, Visit)).customer_id is not None


async def test_a_pick_keeps_the_rest_of_the_command(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "宁波李惠利医院", "wanglei")
        r = await bot.send("wanglei", "添加别名 李慧利 李院")
        assert "你要找的是「宁波李惠利医院」吗？" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "以后输入“李院”就是「宁波李惠利医院」" in r[-1], r
        assert sorted(a.alias for a in await rows(bot, CustomerAlias)) == ["李慧利", "李院"]


async def test_without_a_region_the_reps_own_customers_tell_the_province(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "浙江省人民医院", "zhangting", shared=True)
        await add_customer(bot, "广东省人民医院", "zhangting", shared=True, region="广州市越秀区")
        r = await bot.send("wanglei", "客户 省人民医院")  # no region, no customers: ask
        assert "对应多家客户" in r[-1], r
        await add_customer(bot, "富阳区人民医院", "wanglei", region="杭州市富阳区")
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        r = await bot.send("wanglei", "客户 省人民医院")
        assert r[-1].startswith("【客户档案】浙江省人民医院"), r


async def test_a_forged_or_foreign_pick_card_opens_nothing(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "宁波李惠利医院", "wanglei")
        await bot.send("wanglei", "客户 李慧利")
        choice = bot.last_choice("wanglei")
        assert choice is not None and choice.token.startswith("cpick:")
        for n, token in enumerate((choice.token, "cpick:1:x:y", "cpick:1:1:0:3:nope")):
            before = len(bot.texts_to("zhangting"))
            click = CardActionEvent(
                channel="console", event_id=f"forged-{n}", sender_id="zhangting", card_id=token, values=["1"]
            )
            await bot.submit(click)
            answer = bot.texts_to("zhangting")[before:]
            assert answer == ["这张卡片已失效，请重新输入命令。"], answer
        assert await rows(bot, CustomerAlias) == []


async def test_a_wrong_alias_can_be_removed(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "杭州市第三人民医院", "wanglei")
        await bot.send("wanglei", "添加别名 杭州市第一人民医院 湖滨医院")
        r = await bot.send("zhangting", "删除别名 湖滨医院")  # not hers to change
        assert "没有找到别名“湖滨医院”" in r[-1], r
        r = await bot.send("wanglei", "删除别名 湖滨医院")
        assert "已删除别名“湖滨医院”（「杭州市第一人民医院」）" in r[-1], r
        r = await bot.send("wanglei", "客户 湖滨医院")
        assert "没有找到你可以查看的客户“湖滨医院”" in r[-1], r
        r = await bot.send("wanglei", "添加别名 杭州市第三人民医院 湖滨医院")
        assert "以后输入“湖滨医院”就是「杭州市第三人民医院」" in r[-1], r
        r = await bot.send("wanglei", "客户 湖滨医院")
        assert r[-1].startswith("【客户档案】杭州市第三人民医院"), r
        assert "customer.alias_remove" in await audit_actions(bot)
