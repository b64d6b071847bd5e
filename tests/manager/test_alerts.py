"""Scheduled alerts fire once, at the right time, to the right people (BotHarness, ManualClock)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.testing import BotHarness
from storage.models import AlertLog, Demand, DemandCluster, JobRun, OutboxMessage
from tests.manager.helpers import MONDAY_8, customer, demand, get, key_person, team

STALE = "超时未跟进客户提醒"


def count(texts: list[str], needle: str) -> int:
    return sum(needle in t for t in texts)


async def test_stale_digest_runs_at_nine_once_per_day_grouped_by_rep(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        outsider = await bot.add_user("zhouyu", "周宇")  # a rep no manager is above
        await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        await customer(bot, "浙江省人民医院", u["wanglei"], updated_hours_ago=5)
        await customer(bot, "富阳区人民医院", u["zhangting"], updated_hours_ago=100)
        await customer(bot, "桐庐县人民医院", outsider, updated_hours_ago=None, lead_days_ago=30)
        await customer(bot, "已停用医院", u["zhangting"], updated_hours_ago=500, status="inactive")

        await bot.tick()  # 08:00: yesterday's 09:00 run is caught up once
        assert count(bot.texts_to("wanglei"), STALE) == 1
        await bot.advance(timedelta(minutes=59))  # 08:59
        assert count(bot.texts_to("wanglei"), STALE) == 1
        await bot.advance(timedelta(minutes=1))  # 09:00: today's run
        for _ in range(3):
            await bot.advance(timedelta(minutes=20))
        mine = [t for t in bot.texts_to("wanglei") if STALE in t]
        assert len(mine) == 2
        assert (
            "杭州市中医院" in mine[-1]
            and "浙江省人民医院" not in mine[-1]
            and "富阳区人民医院" not in mine[-1]
        )
        assert "61 小时未更新" in mine[-1]  # 60 h before 08:00, digest built at 09:00

        manager = [t for t in bot.texts_to("liqiang") if "超时未跟进客户" in t]
        assert len(manager) == 2
        assert "王磊（1 家）" in manager[-1] and "张婷（1 家）" in manager[-1] and "周宇" not in manager[-1]
        assert "已停用医院" not in manager[-1]
        group = [t for t in bot.group_texts("managers") if "超时未跟进客户" in t]
        assert len(group) == 2 and "周宇（1 家）" in group[-1] and "从未记录进展" in group[-1]

        await bot.advance(timedelta(days=1))  # Tuesday 10:00: one more each
        assert count(bot.texts_to("wanglei"), STALE) == 3


async def test_restart_between_due_time_and_run_sends_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    async with BotHarness(tmp_path, db_url=url, start=MONDAY_8) as first:
        u = await team(first)
        await customer(first, "杭州市中医院", u["wanglei"], updated_hours_ago=60)
        await first.tick()  # catch-up of Sunday's run
    # Down from 08:00 to 09:30: the 09:00 run is due while nothing runs.
    async with BotHarness(tmp_path, db_url=url, start=MONDAY_8 + timedelta(minutes=90)) as second:
        await second.tick()
        await second.advance(timedelta(minutes=5))
        assert count(second.texts_to("wanglei"), STALE) == 1
        runs = await get(second, JobRun, job="stale-customers")
        assert sorted(r.period for r in runs) == ["2026-11-22T09:00", "2026-11-23T09:00"]
        assert all(r.status == "done" for r in runs)

        # A process that claimed a run and died mid-way: after run_timeout the run is taken over, and
        # what it had already queued is not queued again (idempotency keys).
        async with second.session() as s:
            await s.execute(
                update(JobRun)
                .where(JobRun.job == "stale-customers", JobRun.period == "2026-11-23T09:00")
                .values(status="running", holder="dead", started_at=second.clock.now())
            )
        await second.advance(timedelta(minutes=5))
        assert (await get(second, JobRun, job="stale-customers", period="2026-11-23T09:00"))[
            0
        ].holder == "dead"
        await second.advance(timedelta(minutes=15))
        run = (await get(second, JobRun, job="stale-customers", period="2026-11-23T09:00"))[0]
        assert run.status == "done" and run.holder != "dead"
        assert count(second.texts_to("wanglei"), STALE) == 1
        rows = [
            r
            for r in await get(second, OutboxMessage)
            if r.idempotency_key.startswith("stale:2026-11-23T09:00")
        ]
        assert len(rows) == 2  # the rep and the manager, once each


async def test_weekly_zombie_list_with_share(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8 + timedelta(hours=1, minutes=5)) as bot:  # Mon 09:05
        u = await team(bot)
        await customer(bot, "建德市第一人民医院", u["wanglei"], updated_hours_ago=1, deal_days_ago=400)
        await customer(
            bot, "杭州和睦医院", u["wanglei"], updated_hours_ago=1, deal_days_ago=None, lead_days_ago=100
        )
        await customer(
            bot, "新线索医院", u["wanglei"], updated_hours_ago=1, deal_days_ago=None, lead_days_ago=10
        )
        await customer(bot, "浙江省人民医院", u["wanglei"], updated_hours_ago=1, deal_days_ago=10)
        await customer(bot, "余杭区人民医院", u["zhangting"], updated_hours_ago=1, deal_days_ago=5)
        await bot.tick()
        rep = [t for t in bot.texts_to("wanglei") if "僵尸客户周报" in t]
        assert len(rep) == 1
        assert "2 家客户超过 90 天无成交" in rep[0] and "50%（2/4）" in rep[0]
        assert rep[0].count("僵尸客户周报") == 1  # the title once, not repeated in the body
        assert "建德市第一人民医院（400 天无成交）" in rep[0] and "杭州和睦医院（从未成交）" in rep[0]
        assert "新线索医院" not in rep[0]
        assert rep[0].endswith("请回复「成交 <客户> [金额]」补记。")  # what the rep can do
        assert not [t for t in bot.texts_to("zhangting") if "僵尸客户周报" in t]
        manager = [t for t in bot.texts_to("liqiang") if "僵尸客户周报" in t]
        assert len(manager) == 1 and "王磊：2/4，占 50%" in manager[0] and "张婷：0/1，占 0%" in manager[0]
        await bot.advance(timedelta(days=3))
        assert len([t for t in bot.texts_to("wanglei") if "僵尸客户周报" in t]) == 1
        await bot.advance(timedelta(days=4))  # next Monday 09:05
        assert len([t for t in bot.texts_to("wanglei") if "僵尸客户周报" in t]) == 2


STERILE = [
    "器械包和我们的灭菌柜不兼容，每次都要返工",
    "消毒供应中心说灭菌后的包装破了",
    "环氧乙烷灭菌以后解析太久，周转不开",
    "希望做一个耐高温的灭菌标识贴",
    "供应室反映器械盒进不了灭菌篮筐",
]


async def test_demand_theme_alert_counts_only_quotes_no_earlier_alert_counted(
    db_url: str, tmp_path: Path
) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8 + timedelta(minutes=5)) as bot:  # Mon 08:05
        u = await team(bot)
        c1 = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        c2 = await customer(bot, "余杭区人民医院", u["zhangting"], updated_hours_ago=1)
        for i, text in enumerate(STERILE[:4]):
            await demand(
                bot, u["wanglei"] if i % 2 else u["zhangting"], c1 if i % 2 else c2, text, "合规风险"
            )
        await demand(bot, u["wanglei"], c1, "价格太高了，预算批不下来", "采购成本高")
        await demand(bot, u["wanglei"], c1, "希望你们赞助一下学术年会")
        await demand(bot, u["zhangting"], c2, "学术会议能不能给两个名额")
        await bot.tick()
        assert not [t for t in bot.group_texts("product") if "需求主题预警" in t]  # 4 < 5
        rows = await get(bot, Demand)
        assert all(r.cluster_key for r in rows)
        assert {r.cluster_key for r in rows if "灭菌" in r.text} == {"sterilization"}
        academic = {r.cluster_key for r in rows if "学术" in r.text}
        assert len(academic) == 1 and next(iter(academic)).startswith("d-")
        book = {c.key: c for c in await get(bot, DemandCluster)}
        assert book["sterilization"].kind == "theme"  # the dictionary seeds the book
        assert book[rows[-1].cluster_key].kind == "discovered"
        assert book[rows[-1].cluster_key].label == rows[-1].cluster_label

        await demand(bot, u["wanglei"], c1, STERILE[4], "其他", hours_ago=0)
        await bot.advance(timedelta(hours=1))  # 09:05: the hourly scan at 09:00
        alerts = [t for t in bot.group_texts("product") if "需求主题预警" in t]
        assert len(alerts) == 1
        assert "灭菌与清洗消毒兼容性" in alerts[0] and "新出现 5 次" in alerts[0]
        assert "「供应室反映器械盒进不了灭菌篮筐」— 王磊 · 杭州市第一人民医院 · 场景：其他" in alerts[0]
        assert "场景：合规风险" in alerts[0]  # the rep's chosen scenario is shown with each quote
        assert "王磊（3）" in alerts[0] and "张婷（2）" in alerts[0] and "余杭区人民医院" in alerts[0]
        # Four more: the five already alerted are not counted again, so 4 < 5 — no alert.
        for _ in range(4):
            await demand(bot, u["wanglei"], c1, "灭菌后器械变形了", "其他", hours_ago=0)
            await bot.advance(timedelta(hours=1))
        assert len([t for t in bot.group_texts("product") if "需求主题预警" in t]) == 1
        await demand(bot, u["zhangting"], c2, "灭菌湿包的问题还是没解决", "交付延迟", hours_ago=0)
        await bot.advance(timedelta(hours=1))
        alerts = [t for t in bot.group_texts("product") if "需求主题预警" in t]
        assert len(alerts) == 2 and "新出现 5 次" in alerts[1]
        assert "「灭菌湿包的问题还是没解决」— 张婷 · 余杭区人民医院 · 场景：交付延迟" in alerts[1]
        assert not any(text in alerts[1] for text in STERILE)  # never alerted twice
        await bot.advance(timedelta(days=3))
        assert len([t for t in bot.group_texts("product") if "需求主题预警" in t]) == 2
        logged = await get(bot, AlertLog, kind="demand_frequency")
        ids = [i for a in logged for i in a.payload["demand_ids"]]
        assert len(ids) == len(set(ids)) == 10
        stamped = [r for r in await get(bot, Demand) if r.alerted_at is not None]
        assert sorted(r.id for r in stamped) == sorted(ids)


async def test_key_person_reminders_once_each(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8 + timedelta(hours=2)) as bot:  # Mon 10:00
        u = await team(bot)
        c = await customer(bot, "萧山区第一人民医院", u["wanglei"], updated_hours_ago=1)
        today = date(2026, 11, 23)
        new = await key_person(bot, c, "张新", today - timedelta(days=3))
        await key_person(
            bot, c, "刘建国", today - timedelta(days=30), status="replaced", replaced_by_id=new.id
        )
        await key_person(bot, c, "孙丽", today - timedelta(days=75))
        await key_person(bot, c, "吴海涛", today - timedelta(days=5))
        await bot.tick()
        texts = [t for t in bot.texts_to("wanglei") if "关键人提醒" in t]
        assert len(texts) == 1
        assert "刘建国（采购科主任） 已更换，新的关键人是张新" in texts[0]
        assert "孙丽（采购科主任） 最近沟通：2026-09-09" in texts[0]
        assert "吴海涛" not in texts[0] and "张新（" not in texts[0]
        await bot.advance(timedelta(days=2))
        assert len([t for t in bot.texts_to("wanglei") if "关键人提醒" in t]) == 1
