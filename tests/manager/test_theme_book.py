"""The theme book: the product department keeps, renames, merges and splits themes in chat; the edits are
audited and steer where later demands go (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.testing import BotHarness
from domain import theme_book
from domain.clustering import Clusterer, load_book
from domain.demand_scan import cluster_pending
from storage.models import AuditLog, Demand, DemandCluster
from tests.manager.helpers import MONDAY_8, customer, demand, get, team

ACADEMIC = ["希望你们赞助科室的学术年会", "学术会议能不能给两个名额", "请专家来做一场学术讲座"]


async def keys(bot: BotHarness) -> dict[str, str]:
    return {r.text: r.cluster_key for r in await get(bot, Demand)}


async def test_product_keeps_a_discovered_cluster_and_later_quotes_join_it(
    db_url: str, tmp_path: Path
) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        for text in ACADEMIC:
            await demand(bot, u["wanglei"], c, text, "其他")
        await demand(bot, u["zhangting"], c, "价格太高了，预算批不下来", "采购成本高")
        await demand(bot, u["zhangting"], c, "灭菌以后器械变形了", "合规风险")

        listing = (await bot.send("chenchen", "需求主题"))[-1]
        assert "1. " in listing and "（自动发现，可改名保留）" in listing and "场景：" in listing
        number = next(
            line.split(".")[0] for line in listing.splitlines() if "学术" in line and "自动发现" in line
        )
        reply = (await bot.send("chenchen", f"主题改名 {number} 学术会议支持"))[-1]
        assert "改名为「学术会议支持」" in reply
        book = {r.label: r for r in await get(bot, DemandCluster)}
        kept = book["学术会议支持"]
        assert kept.kind == "kept" and set(kept.examples) == set(ACADEMIC)
        assert {r.cluster_label for r in await get(bot, Demand) if "学术" in r.text} == {"学术会议支持"}

        # A later quote worded like the examples joins the kept theme, under its new name.
        await demand(bot, u["zhangting"], c, "学术年会的展位今年还能给我们留一个吗", "其他", hours_ago=0.5)
        assert "学术会议支持：4 次" in (await bot.send("chenchen", "需求主题"))[-1]
        assert (await keys(bot))["学术年会的展位今年还能给我们留一个吗"] == kept.key
        quotes = (await bot.send("chenchen", "需求主题 学术会议支持"))[-1]
        assert (
            "「学术会议支持」近 7 天的需求（4 条）" in quotes
            and "— 张婷 · 杭州市第一人民医院 · 场景：其他" in quotes
        )

        # Renaming to a name another theme has is refused, naming that theme; nothing changes.
        refused = (await bot.send("chenchen", "主题改名 学术会议支持 价格与采购成本"))[-1]
        assert "已有主题叫「价格与采购成本」" in refused and "主题合并" in refused
        assert (await get(bot, DemandCluster, key=kept.key))[0].label == "学术会议支持"
        assert "用法：主题改名" in (await bot.send("chenchen", "主题改名 3"))[-1]
        assert (
            "没有找到主题「不存在的主题」" in (await bot.send("chenchen", "主题改名 不存在的主题 新名"))[-1]
        )
        assert "只对" in (await bot.send("wanglei", "主题改名 1 随便"))[-1]  # reps cannot edit themes

        actions = [(a.action, a.actor_id) for a in await get(bot, AuditLog, entity_type="demand_theme")]
        assert actions == [("theme.rename", u["product"].id)]


async def test_merge_and_split_move_quotes_and_steer_later_ones(db_url: str, tmp_path: Path) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        for text in ACADEMIC:
            await demand(bot, u["wanglei"], c, text, "其他")
        await demand(bot, u["wanglei"], c, "价格太高了，预算批不下来", "采购成本高")
        await demand(bot, u["wanglei"], c, "今年试用装能不能多给一点", "采购成本高")
        await demand(bot, u["wanglei"], c, "能不能降点价，别家便宜两成", "采购成本高")

        # Merge: the price theme absorbs the discovered cluster of the 试用装 quote.
        sample = next(r for r in await get(bot, Demand) if "试用装" in r.text)
        assert sample.cluster_key == ""  # not clustered yet
        await bot.send("chenchen", "需求主题")
        sample = next(r for r in await get(bot, Demand) if "试用装" in r.text)
        source = sample.cluster_label
        reply = (await bot.send("chenchen", f"主题合并 {source} 价格与采购成本"))[-1]
        assert f"已把「{source}」并入「价格与采购成本」" in reply and "1 条" in reply
        assert (await keys(bot))["今年试用装能不能多给一点"] == "price"
        merged = (await get(bot, DemandCluster, key=sample.cluster_key))[0]
        assert merged.merged_into == "price"
        assert (
            "不能把主题合并到它自己"
            in (await bot.send("chenchen", "主题合并 价格与采购成本 价格与采购成本"))[-1]
        )

        # Split: quotes of 价格 that mention 降 go to a new theme; later ones with that word follow.
        reply = (await bot.send("chenchen", "主题拆分 价格与采购成本 降 降价诉求"))[-1]
        assert "拆出「降价诉求」（1 条）" in reply
        new = (await get(bot, DemandCluster, label="降价诉求"))[0]
        assert new.kind == "kept" and new.keywords == ["降"]
        assert (await keys(bot))["能不能降点价，别家便宜两成"] == new.key
        assert "没有提到「赠品」" in (await bot.send("chenchen", "主题拆分 价格与采购成本 赠品 赠品"))[-1]
        await demand(bot, u["zhangting"], c, "价格能再降一些吗", "采购成本高", hours_ago=0.5)
        await bot.send("chenchen", "需求主题")
        assert (await keys(bot))["价格能再降一些吗"] == new.key

        actions = [a.action for a in await get(bot, AuditLog, entity_type="demand_theme")]
        assert actions == ["theme.merge", "theme.split"]

        # Findable under the rep's scenario.
        listed = (await bot.send("chenchen", "需求主题 采购成本高"))[-1]
        assert "场景为「采购成本高」的需求共 4 条（近 7 天 4 条），最早一条在 11月23日（今天）。" in listed
        assert "价格能再降一些吗" in listed
        assert "学术" not in listed


@pytest.mark.parametrize("named_first", [False, True], ids=["discovered", "kept"])
async def test_a_cluster_merged_into_a_dictionary_theme_sends_its_later_quotes_there(
    db_url: str, tmp_path: Path, named_first: bool
) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        for text in ACADEMIC:
            await demand(bot, u["wanglei"], c, text, "其他")
        await demand(bot, u["zhangting"], c, "能不能派人来培训一下护士怎么用", "其他")
        await demand(bot, u["zhangting"], c, "远程会诊的时候画面老是卡", "其他")
        await bot.send("chenchen", "需求主题")
        source = "学术"
        if named_first:  # named (kept) first, then merged
            await bot.send("chenchen", "主题改名 学术 学术会议支持")
            source = "学术会议支持"
        reply = (await bot.send("chenchen", f"主题合并 {source} 产品培训与使用指导"))[-1]
        assert "并入「产品培训与使用指导」，移过去 3 条需求" in reply

        # The hourly scan: a quote naming the cluster's word lands in the dictionary theme.
        named = "学术年会的展位今年还能给我们留一个吗"
        await demand(bot, u["zhangting"], c, named, "其他", hours_ago=0)
        await bot.advance(timedelta(hours=1))
        assert (await keys(bot))[named] == "training"
        # 需求主题's scan: a quote worded like the cluster's quotes, without its word, lands there too.
        alike = "科室想办个研讨会，你们能出点支持吗"
        await demand(bot, u["zhangting"], c, alike, "其他", hours_ago=0.5)
        listing = (await bot.send("chenchen", "需求主题"))[-1]
        assert (await keys(bot))[alike] == "training"
        assert "1. 产品培训与使用指导：6 次" in listing and "2. 远程、会诊：1 次" in listing
        assert not [line for line in listing.splitlines() if line[:1].isdigit() and "学术" in line]


async def test_a_scenario_lists_its_quotes_of_any_age_a_page_at_a_time(db_url: str, tmp_path: Path) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        oldest = "上次的货等了快三周"
        await demand(bot, u["wanglei"], c, oldest, "交付延迟", hours_ago=24 * 30)
        for day in range(1, 12):  # 11 more, 1 to 11 days old: 12 in all, 7 of them in the last 7 days
            await demand(bot, u["zhangting"], c, f"第{day}批货又晚到了", "交付延迟", hours_ago=24 * day - 1)
        await demand(bot, u["zhangting"], c, "价格太高了", "采购成本高")

        first = (await bot.send("chenchen", "需求主题 交付延迟"))[-1]
        assert first.startswith(
            "场景为「交付延迟」的需求共 12 条（近 7 天 7 条），最早一条在 10月24日（30 天前）。\n"
            "第 1–10 条，新的在前：\n· 11月22日 「第1批货又晚到了」— 张婷 · 杭州市第一人民医院\n"
        )
        assert "场景：" not in first  # the first line names the scenario
        assert "第10批货" in first and "第11批货" not in first and oldest not in first
        assert first.endswith("还有 2 条更早的，发「需求主题 交付延迟 2」看下一页。")
        second = (await bot.send("chenchen", "需求主题 交付延迟 2"))[-1]
        assert "第 11–12 条，新的在前：" in second and "第11批货" in second
        assert f"· 10月24日 「{oldest}」— 王磊" in second and "还有" not in second
        past = "场景为「交付延迟」的需求共 12 条，只有 2 页，请发「需求主题 交付延迟 2」查看最后一页。"
        assert await bot.send("chenchen", "需求主题 交付延迟 3") == [past]
        # A page number of thousands of digits (more than int() reads), full-width digits, and ², which
        # str.isdigit() accepts and int() refuses: answers, not apologies.
        assert await bot.send("chenchen", "需求主题 交付延迟 " + "9" * 5000) == [past]
        assert await bot.send("chenchen", "需求主题 交付延迟 ２") == [second]
        assert await bot.send("chenchen", "需求主题 交付延迟 ²") == [
            "没有找到主题「交付延迟 ²」，请先发「需求主题」查看名称或编号。"
        ]
        assert await bot.send("chenchen", "需求主题 " + "9" * 5000) == [
            "没有这个编号的主题，请先发「需求主题」查看编号。"
        ]
        assert "· 11月15日 「第8批货又晚到了」" in first  # 8 days old: the 7-day list alone missed it
        # A scenario the form offers that nobody filed yet, and a manager's own team's view.
        assert (await bot.send("chenchen", "需求主题 售后响应慢"))[-1] == "还没有场景为「售后响应慢」的需求。"
        team_view = (await bot.send("liqiang", "需求主题 交付延迟"))[-1]
        assert team_view.startswith(
            "你的团队中，场景为「交付延迟」的需求共 12 条（近 7 天 7 条），最早一条在 "
        )
        team_past = (await bot.send("liqiang", "需求主题 交付延迟 3"))[-1]
        assert team_past == f"你的团队中，{past}"
        assert (await bot.send("liqiang", "需求主题 售后响应慢"))[
            -1
        ] == "你的团队中还没有场景为「售后响应慢」的需求。"


async def test_a_theme_cannot_take_a_scenarios_name(db_url: str, tmp_path: Path) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        for text in ACADEMIC:
            await demand(bot, u["wanglei"], c, text, "其他")
        await demand(bot, u["wanglei"], c, "价格太高了", "采购成本高")
        await demand(bot, u["wanglei"], c, "设备用了十年该换了", "其他：设备老化")
        await bot.send("chenchen", "需求主题")
        before = {r.key: r.label for r in await get(bot, DemandCluster)}

        # An option of the demand form (filed or not) and a scenario a rep typed under 其他.
        for name in ("采购成本高", "售后响应慢", "其他：设备老化"):
            refused = (await bot.send("chenchen", f"主题改名 学术 {name}"))[-1]
            assert refused == (
                f"「{name}」已是业务场景的名称（发「需求主题 {name}」会列出该场景的需求），"
                "主题不能与它重名，请换一个名称。"
            )
        refused = (await bot.send("chenchen", "主题拆分 学术 讲座 交付延迟"))[-1]
        assert "「交付延迟」已是业务场景的名称" in refused
        assert {r.key: r.label for r in await get(bot, DemandCluster)} == before
        assert not await get(bot, AuditLog, entity_type="demand_theme")
        # 需求主题 <场景> still lists the scenario's quotes.
        assert "「价格太高了」" in (await bot.send("chenchen", "需求主题 采购成本高"))[-1]

        # A theme named so before such names were refused: the scenario's list points to it.
        async with bot.session() as s:
            row = await s.get(DemandCluster, next(k for k, label in before.items() if "学术" in label))
            assert row is not None
            row.label = "采购成本高"
        listed = (await bot.send("chenchen", "需求主题 采购成本高"))[-1]
        assert listed.endswith("另有主题也叫「采购成本高」，请发「需求主题 1」查看。")
        assert "学术" in (await bot.send("chenchen", "需求主题 1"))[-1]
        # … also when it is named after a form option nobody has filed a demand under.
        async with bot.session() as s:
            row = await s.get(DemandCluster, row.key)
            assert row is not None
            row.label = "售后响应慢"
        assert await bot.send("chenchen", "需求主题 售后响应慢") == [
            "还没有场景为「售后响应慢」的需求。\n另有主题也叫「售后响应慢」，请发「需求主题 1」查看。"
        ]


async def test_domain_functions_refuse_clearly(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        await demand(bot, u["wanglei"], c, "价格太高了", "采购成本高")
        now = bot.clock.now()
        async with bot.app.db.transaction() as s:
            await cluster_pending(s, Clusterer(load_book()), now)
            rows = await theme_book.themes_in_window(s, now - timedelta(days=7), now)
            price = await theme_book.find(s, "1", rows)
            assert price.key == "price"
            for bad, why in [
                ("", "不能为空"),
                ("长" * 41, "太长"),
                ("交付与配送时效", "已有主题叫「交付与配送时效」"),
            ]:
                with pytest.raises(theme_book.ThemeError, match=why):
                    await theme_book.rename(s, price, bad, actor_id=None, now=now)
            with pytest.raises(theme_book.ThemeError, match="没有编号 9"):
                await theme_book.find(s, "9", rows)
            with pytest.raises(theme_book.ThemeError, match="都提到了"):
                await theme_book.split(s, price, "价格", "价格2", actor_id=None, now=now)
            with pytest.raises(theme_book.ThemeError, match="不要带逗号"):
                await theme_book.split(s, price, "价格，太高", "价格2", actor_id=None, now=now)


async def test_a_theme_only_old_demands_name_can_still_be_listed_and_renamed(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        async with bot.session() as s:  # a dictionary theme since removed from the TOML
            s.add(
                Demand(
                    rep_id=u["wanglei"].id,
                    text="旧的需求",
                    scenario="其他",
                    cluster_key="legacy",
                    cluster_label="旧主题",
                    created_at=bot.clock.now() - timedelta(hours=2),
                )
            )
        listing = (await bot.send("chenchen", "需求主题"))[-1]
        assert "1. 旧主题：1 次" in listing
        assert "改名为「新主题」" in (await bot.send("chenchen", "主题改名 1 新主题"))[-1]
        assert [r.cluster_label for r in await get(bot, Demand)] == ["新主题"]
        assert "没有编号 5 的主题" in (await bot.send("chenchen", "主题改名 5 别的"))[-1]


async def test_a_kept_themes_examples_compete_with_the_dictionarys(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        now = bot.clock.now()
        async with bot.app.db.transaction() as s:
            s.add(
                DemandCluster(
                    key="k-academic",
                    label="学术会议支持",
                    kind="kept",
                    created_at=now,
                    updated_at=now,
                    examples=[f"{ACADEMIC[i % 3]}（第{i}次）" for i in range(30)],
                    keywords=[],
                    merged_into="",
                )
            )
            await s.flush()
            view = await theme_book.view(s, load_book())
        kept = view.book.themes[0]
        # Matched against its 10 most recent quotes, as many as a dictionary theme has.
        assert (kept.key, kept.keywords) == ("k-academic", ())
        assert kept.examples == tuple(f"{ACADEMIC[i % 3]}（第{i}次）" for i in range(10))
        assert "k-academic" in view.book.always  # applies whatever the dictionary's fit
