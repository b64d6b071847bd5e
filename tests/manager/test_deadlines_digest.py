"""Deadline reminders and escalation, the morning digest, and the managers' chat commands."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.testing import BotHarness
from domain import deadlines
from storage.models import CompetitorAnalysis, Deadline
from tests.manager.helpers import MONDAY_8, customer, deadline, demand, get, team, update, visit


async def test_reminder_at_due_time_then_supervisor_after_delay(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8, alerts={"overdue_supervisor_delay_minutes": 60}) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=1)
        v = await visit(bot, u["wanglei"], c)
        due = MONDAY_8 + timedelta(minutes=30)
        d = await deadline(bot, "demand_confirmation", "visit", v.id, u["wanglei"], due)
        done = await deadline(bot, "visit_report", "visit", v.id, u["wanglei"], due)
        async with bot.session() as s:
            await deadlines.complete(
                s, now=bot.clock.now(), kind="visit_report", entity_type="visit", entity_id=v.id
            )

        await bot.advance(timedelta(minutes=29))
        assert not [t for t in bot.texts_to("wanglei") if "待办提醒" in t]
        await bot.advance(timedelta(minutes=1))  # 08:30: due
        reminders = [t for t in bot.texts_to("wanglei") if "待办提醒" in t]
        assert (
            len(reminders) == 1 and "「杭州市中医院」的需求确认单（截止 11-23 08:30，已到期）" in reminders[0]
        )
        assert "拜访报告" not in reminders[0] and "回复「继续」接着填写" in reminders[0]
        await bot.advance(timedelta(minutes=59))  # 09:29
        assert not [t for t in bot.texts_to("liqiang") if "逾期未完成" in t]
        await bot.advance(timedelta(minutes=1))  # 09:30: 60 minutes late
        for _ in range(3):
            await bot.advance(timedelta(minutes=10))
        escalations = [t for t in bot.texts_to("liqiang") if "逾期未完成" in t]
        assert len(escalations) == 1 and "王磊：「杭州市中医院」的需求确认单，已逾期 1 小时" in escalations[0]
        assert len([t for t in bot.texts_to("wanglei") if "待办提醒" in t]) == 1
        # 我的待跟进 lists the overdue form beside the stale customers.
        mine = (await bot.send("wanglei", "我的待跟进"))[-1]
        assert "还有 1 项逾期未完成" in mine
        assert "· 「杭州市中医院」的需求确认单，已逾期 1 小时" in mine and "回复「继续」接着填写。" in mine
        (row,) = await get(bot, Deadline, id=d.id)
        assert row.reminded_at == due and row.escalated_at == due + timedelta(minutes=60)
        (untouched,) = await get(bot, Deadline, id=done.id)
        assert untouched.reminded_at is None and untouched.escalated_at is None


async def test_competitor_review_overdue_reminds_the_supervisor(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "浙江省人民医院", u["wanglei"], updated_hours_ago=1)
        async with bot.session() as s:
            ca = CompetitorAnalysis(
                customer_id=c.id, rep_id=u["wanglei"].id, status="pending_review", created_at=MONDAY_8
            )
            s.add(ca)
            await s.flush()
        await deadline(
            bot,
            "competitor_review",
            "competitor_analysis",
            ca.id,
            u["liqiang"],
            MONDAY_8 + timedelta(hours=24),
        )
        await bot.advance(timedelta(hours=23, minutes=59))
        assert not [t for t in bot.texts_to("liqiang") if "竞对分析待审核" in t]
        await bot.advance(timedelta(minutes=1))
        texts = [t for t in bot.texts_to("liqiang") if "竞对分析待审核" in t]
        assert len(texts) == 1 and "王磊 提交的「浙江省人民医院」竞对分析待审核" in texts[0]
        # A reviewer has no form to resume: the reminder says how to review instead.
        assert "继续" not in texts[0] and "回复「审核」查看待审核的竞对分析" in texts[0]
        await bot.advance(timedelta(hours=2))  # the manager has no supervisor: the managers group hears
        group = [t for t in bot.group_texts("managers") if "逾期未完成" in t]
        assert len(group) == 1 and "李强：王磊 提交的「浙江省人民医院」竞对分析待审核" in group[0]
        assert "已逾期 2 小时" in group[0]


async def test_morning_digest_at_half_past_eight(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        c1 = await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        c2 = await customer(bot, "余杭区人民医院", u["zhangting"], updated_hours_ago=3)
        await customer(bot, "富阳区人民医院", u["zhangting"], updated_hours_ago=60)
        for h in (
            9,
            12,
            14,
        ):  # yesterday (Sunday) local: 08:00 minus 9/12/14 hours → Sunday 23:00/20:00/18:00
            await update(bot, c1, u["wanglei"], hours_ago=h)
        await update(bot, c2, u["zhangting"], hours_ago=10)
        await update(bot, c2, u["zhangting"], hours_ago=11, valid=False)
        await update(bot, c2, u["zhangting"], hours_ago=40)  # Saturday: not yesterday
        await bot.tick()  # 08:00: Sunday's digest is caught up
        await bot.advance(timedelta(minutes=30))
        await bot.advance(timedelta(minutes=30))
        digests = [t for t in bot.group_texts("managers") if t.startswith("早报")]
        assert len(digests) == 2
        today = digests[-1]
        assert today.startswith("早报 · 11月23日（周一）")
        assert "昨日（11月22日）有效客户更新：共 4 条" in today
        assert "· 王磊：3 条 ✅" in today and "· 张婷：1 条" in today
        assert "完成 3 条以上的：王磊" in today
        assert "动作规范率：" in today and "线索转化率：" in today
        assert "过程数据鲜度：中位 10.0 小时（2 名销售，健康 ≤3.2 小时） ⚠️" in today
        assert "超 48 小时未更新客户：1 家（张婷 1）" in today


async def test_manager_commands_and_refusal(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        await bot.add_user("other_mgr", "孙经理", roles=("manager",))
        await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=60, deal_days_ago=200)
        await customer(bot, "萧山区第一人民医院", u["wanglei"], updated_hours_ago=30)
        await customer(bot, "富阳区人民医院", u["zhangting"], updated_hours_ago=80)
        c = await customer(bot, "余杭区人民医院", u["zhangting"], updated_hours_ago=1)
        for text in ("器械包和灭菌柜不兼容", "消毒供应中心说灭菌包装破损", "价格太贵了"):
            await demand(bot, u["zhangting"], c, text)

        reply = (await bot.send("liqiang", "待跟进客户"))[-1]
        assert (
            "共 2 家客户超过 48 小时未更新" in reply and "张婷（1 家）" in reply and "王磊（1 家）" in reply
        )
        reply = (await bot.send("liqiang", "待跟进客户 24小时"))[-1]
        assert "共 3 家客户超过 24 小时未更新" in reply and "萧山区第一人民医院" in reply
        assert "用法：待跟进客户" in (await bot.send("liqiang", "待跟进客户 abc"))[-1]
        reply = (await bot.send("other_mgr", "待跟进客户"))[-1]
        assert "没有超过 48 小时未更新的客户" in reply  # not his team

        refused = (await bot.send("wanglei", "待跟进客户"))[-1]
        assert "只对" in refused and "经理" in refused and "杭州市中医院" not in refused
        assert "只对" in (await bot.send("wanglei", "健康指标"))[-1]
        assert "只对" in (await bot.send("wanglei", "需求主题"))[-1]

        mine = (await bot.send("wanglei", "我的待跟进"))[-1]
        assert "你有 1 家客户超过 48 小时" in mine and "杭州市中医院" in mine and "富阳区人民医院" not in mine
        zombies = (await bot.send("liqiang", "僵尸客户"))[-1]
        assert "王磊：1/2，占 50%" in zombies and "杭州市中医院（200 天无成交）" in zombies
        metrics = (await bot.send("liqiang", "健康指标"))[-1]
        assert metrics.startswith("健康指标（近 7 天") and "健康 ≥92%" in metrics
        themes = (await bot.send("chenchen", "需求主题"))[-1]
        assert "1. 灭菌与清洗消毒兼容性：2 次" in themes and "2. 价格与采购成本：1 次" in themes


async def test_digests_list_the_first_customers_and_count_the_rest(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8, alerts={"digest_max_items": 1}) as bot:
        u = await team(bot)
        await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        await customer(bot, "建德市第一人民医院", u["wanglei"], updated_hours_ago=200, deal_days_ago=300)
        await customer(bot, "临安区中医院", u["wanglei"], updated_hours_ago=50, deal_days_ago=100)
        reply = (await bot.send("liqiang", "待跟进客户"))[-1]
        assert "王磊（3 家）" in reply and "建德市第一人民医院" in reply and "…另有 2 家" in reply
        assert "杭州市中医院" not in reply
        zombies = (await bot.send("liqiang", "僵尸客户"))[-1]
        assert "王磊：2/3，占 67%" in zombies and "建德市第一人民医院（300 天无成交）" in zombies
        assert "…另有 1 家" in zombies
