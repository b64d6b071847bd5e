"""Visit applications: submitted → planned visit + brief; approved / refused / withdrawn; asking the rep."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.testing import BotHarness
from storage.models import (
    AuditLog,
    CompetitorAnalysis,
    ConversationState,
    Customer,
    Deadline,
    Demand,
    PersonalityTag,
    Visit,
)
from tests.flows.kit import TODAY, add_customer, one, org, rows, visit_fields


async def seed_history(bot: BotHarness, customer_id: int) -> None:
    now = bot.clock.now()
    wanglei = await bot.user("wanglei")
    async with bot.session() as s:
        s.add(
            PersonalityTag(
                customer_id=customer_id,
                tag="数据控型",
                basis="每次都要看对比数据",
                author_id=wanglei.id,
                created_at=now,
            )
        )
        s.add(
            Demand(
                customer_id=customer_id,
                rep_id=wanglei.id,
                text="器械包和我们的灭菌盒尺寸对不上",
                scenario="合规风险",
                tried_solutions="换过两家供应商",
                status="open",
                created_at=now,
            )
        )
        s.add(
            Demand(
                customer_id=customer_id,
                rep_id=wanglei.id,
                text="已经解决的老问题",
                status="addressed",
                created_at=now,
            )
        )
        s.add(
            CompetitorAnalysis(
                customer_id=customer_id,
                rep_id=wanglei.id,
                competitor="美敦力",
                price="9折",
                delivery_cycle="4周",
                weaknesses="售后响应慢",
                status="approved",
                review_comment="重点强调本地服务",
                created_at=now,
            )
        )


async def test_submitted_creates_a_visit_and_sends_the_brief(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        cid = await add_customer(
            bot,
            "杭州市第一人民医院",
            "wanglei",
            preferences="需提供3家同类医院使用案例",
            updates=[
                ("确定预算范围", "预算 80 万", 50),
                ("明确决策流程", "", 30),
                ("签署试用协议", "", 20),
                ("预约高层会谈", "", 2),
            ],
        )
        await seed_history(bot, cid)
        r = await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州一院", (14, 0), (15, 0)))
        brief = r[-1]
        assert brief.startswith("【拜访简报】杭州市第一人民医院")
        assert "拜访时间：11-23 14:00–15:00" in brief and "拜访事由：介绍新款骨科耗材" in brief
        # the last three updates, newest first; the oldest is left out
        assert brief.index("预约高层会谈") < brief.index("签署试用协议") < brief.index("明确决策流程")
        assert "确定预算范围" not in brief
        assert "采购科 刘建国（采购科主任） 最近沟通" in brief
        assert "设备科 孙丽（设备科科长） ⚠️ 已 75 天未联系" in brief and "可能已换人" in brief
        assert "数据控型 — 每次都要看对比数据（王磊）" in brief
        assert "决策者偏好：需提供3家同类医院使用案例" in brief
        assert "[合规风险] “器械包和我们的灭菌盒尺寸对不上” 已试：换过两家供应商" in brief
        assert "已经解决的老问题" not in brief
        assert "美敦力：报价 9折；交付 4周；短板 售后响应慢（主管已通过：重点强调本地服务）" in brief
        visit = await one(bot, Visit)
        assert (visit.customer_id, visit.status, visit.source_approval_id) == (cid, "planned", "AP-1")
        assert visit.planned_start == datetime.fromisoformat(f"{TODAY}T14:00:00+08:00")
        dues = {d.kind: d.due_at for d in await rows(bot, Deadline)}
        assert dues["demand_confirmation"] == datetime.fromisoformat(f"{TODAY}T15:30:00+08:00")
        assert dues["visit_report"] == datetime.fromisoformat("2026-11-24T15:00:00+08:00")
        assert [a.action for a in await rows(bot, AuditLog)] == ["visit.create", "visit.link"]

        # A redelivered submission (another platform event id) changes nothing and sends nothing.
        r = await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州一院", (14, 0), (15, 0)))
        assert r == [] and len(await rows(bot, Visit)) == 1

        r = await bot.approval("wanglei", "AP-1", "approved", visit_fields("杭州一院", (14, 0), (15, 0)))
        assert "拜访申请已通过：杭州市第一人民医院（11-23 14:00–15:00）" in r[-1]
        assert (await one(bot, Visit)).status == "approved"
        assert await bot.approval("wanglei", "AP-1", "approved", {}) == []


async def test_refused_and_withdrawn_cancel_the_visit(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "浙江省人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        r = await bot.approval("wanglei", "AP-1", "refused")
        assert "拜访申请被拒绝：杭州市第一人民医院（11-23 10:00–11:00），这次拜访已取消" in r[-1]
        await bot.approval("wanglei", "AP-2", "submitted", visit_fields("浙江省人民医院"))
        await bot.approval("wanglei", "AP-2", "approved")
        r = await bot.approval("wanglei", "AP-2", "withdrawn")
        assert "拜访申请已撤回：浙江省人民医院" in r[-1]
        visits = await rows(bot, Visit)
        assert [(v.status, v.status_note) for v in visits] == [
            ("cancelled", "审批被拒绝"),
            ("cancelled", "审批已撤回"),
        ]
        assert {d.status for d in await rows(bot, Deadline)} == {"cancelled"}
        # No report is started at the planned end of a cancelled visit.
        r = await bot.advance(__import__("datetime").timedelta(hours=3))
        assert not any("拜访报告" in x for x in r)


async def test_ambiguous_customer_asks_the_rep_to_choose(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "浙江大学医学院附属第一医院", "wanglei")
        second = await add_customer(bot, "浙江大学医学院附属第二医院", "wanglei")
        await add_customer(bot, "浙江大学医学院附属第二医院滨江院区", "sunyue")  # not visible to 王磊
        r = await bot.approval("wanglei", "AP-9", "submitted", visit_fields("浙江大学医学院附属医院"))
        assert "拜访申请里的「浙江大学医学院附属医院」不能确定是哪一家" in r[-1]
        choice = bot.last_choice("wanglei")
        assert choice is not None
        assert choice.options == [
            "浙江大学医学院附属第一医院",
            "浙江大学医学院附属第二医院",
            "都不是，新建客户",
        ]
        r = await bot.click("wanglei", "2")
        assert r[-1].startswith("【拜访简报】浙江大学医学院附属第二医院")
        assert (await one(bot, Visit)).customer_id == second


async def test_unknown_customer_offers_a_new_profile_then_sends_the_brief(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市中医院", "wanglei")
        r = await bot.approval("wanglei", "AP-3", "submitted", visit_fields("建德市第一人民医院"))
        assert "没有找到拜访申请里的「建德市第一人民医院」" in r[-1] and "1. 新建客户" in r[-1]
        # Typing another existing name links to it instead.
        r = await bot.send("wanglei", "不相干的名字")
        assert "没有找到你可以查看的客户“不相干的名字”" in r[0]
        r = await bot.send("wanglei", "新建客户")
        assert "先建立客户档案" in r[0] and "客户名称" in r[-1]
        await bot.send("wanglei", "建德市第一人民医院")
        await bot.send("wanglei", "二级医院")
        await bot.send("wanglei", "C")
        await bot.send("wanglei", "杭州市建德市")
        await bot.send("wanglei", "采购科")
        await bot.send("wanglei", "方明")
        await bot.send("wanglei", "采购科长")
        await bot.send("wanglei", "今天")
        r = await bot.send("wanglei", "否")
        assert any("已建立客户档案「建德市第一人民医院」" in x for x in r)
        assert r[-1].startswith("【拜访简报】建德市第一人民医院") and "决策链还缺 1 位关键人" in r[-1]
        customer = (await rows(bot, Customer))[-1]
        assert (await one(bot, Visit)).customer_id == customer.id


async def test_application_without_customer_or_times_asks_and_waits_for_visit_done(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "浙江省人民医院", "wanglei")
        r = await bot.approval("wanglei", "AP-5", "submitted", {"purpose": "回访"})
        assert r[-1].startswith("这次拜访的是哪家客户？（也可以直接输入名称）\n拜访申请里没有填写客户。")
        r = await bot.send("wanglei", "浙江省人民医院")
        assert r[-1].startswith("【拜访简报】浙江省人民医院") and "拜访时间：未填写" in r[-1]
        visit = await one(bot, Visit)
        assert visit.planned_end is None and await rows(bot, Deadline) == []
        r = await bot.send("wanglei", "拜访完成")  # no planned end: the rep's word ends it
        assert "「浙江省人民医院」的拜访已结束" in r[0]
        assert {d.kind for d in await rows(bot, Deadline)} == {"demand_confirmation", "visit_report"}


async def test_withdrawn_while_asking_closes_the_question(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await bot.approval("wanglei", "AP-4", "submitted", visit_fields("某某医院"))
        r = await bot.approval("wanglei", "AP-4", "withdrawn")
        assert any("不再需要选择客户" in x for x in r)
        state = await one(bot, ConversationState)
        assert state.status == "withdrawn"
        r = await bot.send("wanglei", "继续")
        assert "没有可以继续的表单" in r[-1]
