"""Outcomes from real events: the manager's numbers on data created only through imports and chat.

No demo seeder and no hand-set deal or stage fields: customers come from the customer import, orders
from the orders import (the path `actionflow import orders`, `rebates run --orders` and the nightly
ERP pull share), deals and stages from 成交 / 阶段 / the visit report.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.customers import _options
from bot.testing import BotHarness
from domain import orders as erp
from domain.customer_import import OwnerDirectory, apply, plan, read_table
from domain.twins import load_index
from scheduler.rebate_job import import_into
from storage.models import AuditLog, Customer, Order, User
from tests.flows.kit import one, org, rows

CUSTOMERS_CSV = """客户名称,客户类型,负责人,关键人1角色组,关键人1姓名,关键人1职务,关键人2角色组,关键人2姓名,关键人2职务
富阳区人民医院,二级医院,张婷,采购科,刘建国,采购科主任,设备科,孙丽,设备科科长
桐庐县人民医院,二级医院,张婷,采购科,吴海涛,采购科主任,设备科,陈静,设备科科长
"""
LEADS_CSV = """客户名称,客户类型,负责人
杭州和睦医院,民营医院,王磊
临安区中医院,二级医院,王磊
"""


async def import_customers(bot: BotHarness, path: Path) -> list[Customer]:
    """What `actionflow import customers FILE` does, on the harness's clock."""
    now = bot.clock.now()
    async with bot.session() as session:
        people = list((await session.execute(select(User))).scalars())
        result = plan(
            read_table(path),
            directory=OwnerDirectory(people),
            default_owner=None,
            existing=await load_index(session),
            options=_options(bot.settings),
            today=now.date(),
            similar_threshold=bot.settings.flows.duplicate_threshold,
        )
        assert not result.problems, result.problems
        return await apply(session, now=now, rows=result.rows, source="test:import customers")


async def import_orders(bot: BotHarness, path: Path) -> erp.ImportResult:
    """What `actionflow import orders FILE` does (same function), on the harness's clock."""
    parsed, problems = erp.read_lenient(path)
    async with bot.session() as session:
        return await import_into(
            bot.app, session, parsed, bot.clock.now(), problems=problems, source=f"test:{path.name}"
        )


def day(bot: BotHarness, days_ago: int = 0) -> str:
    return (bot.clock.now().astimezone(bot.app.services.tz).date() - timedelta(days=days_ago)).isoformat()


ROSTER_CSV = """name,roles,supervisor,team,console_id,status
李强,manager,,杭州一组,liqiang,active
王磊,rep,李强,杭州一组,wanglei,active
张婷,rep,李强,杭州一组,zhangting,active
"""


async def import_people(bot: BotHarness, path: Path) -> None:
    """What `actionflow import users FILE` does."""
    from domain.roster.files import read_roster
    from domain.roster.importer import import_roster

    async with bot.session() as session:
        await import_roster(session, read_roster(path), now=bot.clock.now(), source="test:import users")


async def test_manager_numbers_come_from_imports_and_chat_only(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url, jobs=False) as bot:
        (tmp_path / "users.csv").write_text(ROSTER_CSV, encoding="utf-8")
        await import_people(bot, tmp_path / "users.csv")
        (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
        await import_customers(bot, tmp_path / "customers.csv")
        await bot.advance(timedelta(days=100))
        r = await bot.send("liqiang", "僵尸客户")
        assert "富阳区人民医院（从未成交）" in r[-1] and "桐庐县人民医院（从未成交）" in r[-1]

        # Two new leads this week; orders arrive for one lead and one old customer.
        (tmp_path / "leads.csv").write_text(LEADS_CSV, encoding="utf-8")
        await import_customers(bot, tmp_path / "leads.csv")
        await bot.advance(timedelta(days=2))
        (tmp_path / "orders.csv").write_text(
            "订单号,客户名称,订单日期,金额,已签约\n"
            f"SO-1,富阳区人民医院,{day(bot, 1)},99000,是\n"
            f"SO-2,杭州和睦医院,{day(bot).replace('-', '/')},420000,是\n"
            f"SO-3,临安区中医院,{day(bot)},1000,否\n",
            encoding="utf-8",
        )
        result = await import_orders(bot, tmp_path / "orders.csv")
        assert (result.inserted, result.signed) == (3, 2)
        assert sorted(c.name for c in result.moved_to_won) == ["富阳区人民医院", "杭州和睦医院"]

        r = await bot.send("liqiang", "僵尸客户")
        assert "富阳区人民医院" not in r[-1] and "桐庐县人民医院（从未成交）" in r[-1]
        heping = await one(bot, Customer, Customer.name == "杭州和睦医院")
        linan = await one(bot, Customer, Customer.name == "临安区中医院")
        assert heping.stage == "contract" and heping.first_order_at is not None
        assert linan.stage == "lead" and linan.first_order_at is None  # an unsigned order is no deal
        r = await bot.send("wanglei", "客户 杭州和睦医院")
        assert "阶段：签约回款 · 最近成交" in r[-1] and "¥420,000.00（订单 SO-2）" in r[-1]

        r = await bot.send("liqiang", "健康指标")
        assert "线索转化率：50.0%（近 7 天新增线索 2 条，1 条在 90 天内签下首单）" in r[-1]
        assert (
            "较上期：与上期转化率相比的相对变化" in r[-1]
            and "上期：再往前 7 天的新增线索，转化率 —（0/0）" in r[-1]
        )

        # Reps record outcomes in chat: a deal clears 桐庐 from the zombie list; stages change.
        r = await bot.send("zhangting", "成交 桐庐县人民医院 5万")
        assert r[-1] == "已记录「桐庐县人民医院」成交 ¥50,000.00。阶段：线索 → 签约回款。"
        r = await bot.send("liqiang", "僵尸客户")
        assert "桐庐县人民医院" not in r[-1] and "0 家" in r[-1]
        r = await bot.send("wanglei", "阶段 临安区中医院 报价")
        assert r[-1].startswith("没有「报价」这个阶段。可选阶段：线索、需求诊断、方案呈现、试用")
        r = await bot.send("wanglei", "阶段 临安区中医院 试用")
        assert r[-1] == "已将「临安区中医院」的阶段改为「试用」（原为「线索」）。"
        r = await bot.send("liqiang", "健康指标")
        assert "线索转化率：50.0%" in r[-1]  # a stage is not a deal
        r = await bot.send("wanglei", "成交 临安区中医院")
        r = await bot.send("liqiang", "健康指标")
        assert "线索转化率：100.0%（近 7 天新增线索 2 条，2 条在 90 天内签下首单）" in r[-1]

        actions = [a.action for a in await rows(bot, AuditLog)]
        assert actions.count("deal.record") == 4 and actions.count("customer.stage") == 1
        chat_deal = [a for a in await rows(bot, AuditLog) if a.action == "deal.record" and a.actor_id]
        assert chat_deal[0].after is not None and chat_deal[0].after["amount"] == "50000"
        r = await bot.send("wanglei", "我的客户")
        assert r[-1].startswith("你名下共 2 家客户") and "临安区中医院（签约回款，" in r[-1]
        assert "杭州和睦医院（签约回款" in r[-1] and "最近成交" in r[-1]


async def test_orders_file_problems_all_in_one_round_and_nothing_imported(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
        await import_customers(bot, tmp_path / "customers.csv")
        bad = tmp_path / "bad.csv"
        bad.write_bytes(
            (
                "订单号,客户名称,订单日期,金额,已签约\n"
                "A-1,富阳区人民医院,2025/11/03,1000,是\n"
                "A-2,不存在的医院,2025-11-03,1000,是\n"
                "A-1,富阳区人民医院,2025-11-03,1000,是\n"
                "A-3,桐庐县人民医院,11/3/2025,1000,是\n"
                "A-4,桐庐县人民医院,2025-11-03,-5,是\n"
                "A-5,桐庐县人民医院,2025-11-03,一千,是\n"
            ).encode("gbk")
        )
        try:
            await import_orders(bot, bad)
            raise AssertionError("a file with problems was imported")
        except erp.OrderProblems as exc:
            problems = exc.problems
        assert [p.split(":")[0] for p in problems] == [f"bad.csv line {n}" for n in (3, 4, 5, 6, 7)]
        assert "customer '不存在的医院' is not a customer" in problems[0]
        assert "order_no A-1 appears twice (also bad.csv line 2)" in problems[1]
        assert "'11/3/2025' is ambiguous" in problems[2]
        assert "'-5' is negative" in problems[3] and "'一千' is not an amount" in problems[4]
        assert await rows(bot, Order) == []
        fuyang = await one(bot, Customer, Customer.name == "富阳区人民医院")
        assert fuyang.last_deal_at is None and fuyang.stage == "lead"


async def test_visit_report_progress_moves_the_stage_and_records_who_was_met(tmp_path: Path) -> None:
    from tests.flows.kit import add_customer, visit_fields

    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        cid = await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.advance(timedelta(hours=2))
        from PIL import Image

        Image.new("RGB", (64, 48), (10, 10, 10)).save(tmp_path / "p.jpg")
        await bot.photo("wanglei", tmp_path / "p.jpg")
        r = await bot.send("wanglei", "签署试用协议")
        assert "这次见到了哪些关键人" in r[-1]
        choice = bot.last_choice("wanglei")
        assert choice is not None and choice.options == [
            "采购科 刘建国（采购科主任）",
            "设备科 孙丽（设备科科长）",
            "都没见到",
        ]
        await bot.send("wanglei", "2")
        r = await bot.send("wanglei", "否")
        assert "已更新 孙丽 的最近沟通日期。" in r[0] and "客户阶段：方案呈现 → 试用。" in r[0]
        customer = await one(bot, Customer, Customer.id == cid)
        assert customer.stage == "trial"
        today = bot.clock.now().astimezone(bot.app.services.tz).date()
        by_name = {p.name: p.last_contact_on for p in customer.key_persons}
        assert by_name["孙丽"] == today and by_name["刘建国"] != today
        actions = [a.action for a in await rows(bot, AuditLog)]
        assert "customer.stage" in actions and "key_person.contact" in actions


def test_stages_are_data_and_a_broken_stages_table_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.main import main
    from config.settings import PACKAGE_DIR
    from domain.stages import StagesError, load_stages, parse_stages

    stages = load_stages(PACKAGE_DIR / "forms.toml")
    assert stages.won == "contract" and stages.from_progress == {"签署试用协议": "trial"}
    assert (
        stages.find("试用") == "trial"
        and stages.find("contract") == "contract"
        and stages.find("报价") is None
    )
    assert stages.before_won("trial") and not stages.before_won("repurchase")
    assert stages.find("签约") == "contract" and stages.find("4") == "trial" and stages.find("线") is None
    renamed = parse_stages({"labels": {"lead": "新线索", "won": "已签约"}, "won": "won", "from_progress": {}})
    assert renamed.options_text() == "新线索、已签约"
    with pytest.raises(StagesError) as exc:
        parse_stages(
            {"labels": {"lead": "线索"}, "won": "contract", "from_progress": {"签署试用协议": "trial"}}
        )
    assert exc.value.problems == [
        "stages.won: 'contract' is not a key of stages.labels",
        "stages.from_progress.签署试用协议: 'trial' is not a key of stages.labels",
    ]
    forms = tmp_path / "forms.toml"
    text = (PACKAGE_DIR / "forms.toml").read_text(encoding="utf-8")
    forms.write_text(text.replace('won = "contract"', 'won = "signed"'), encoding="utf-8")
    config = tmp_path / "actionflow.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n[forms]\npath = "{forms}"\n'
        f'[app]\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) == 2
    assert "stages.won: 'signed' is not a key of stages.labels" in capsys.readouterr().out


async def test_visit_report_skips_the_key_person_question_without_a_chain(tmp_path: Path) -> None:
    from PIL import Image

    from tests.flows.kit import add_customer, visit_fields

    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei", persons=())
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.advance(timedelta(hours=2))
        Image.new("RGB", (64, 48), (10, 10, 10)).save(tmp_path / "p.jpg")
        await bot.photo("wanglei", tmp_path / "p.jpg")
        r = await bot.send("wanglei", "确定预算范围")
        assert "比较其他厂家" in r[-1] and not any("关键人" in x for x in r)
        r = await bot.send("wanglei", "否")
        assert r[0].startswith("拜访报告已提交") and "客户阶段" not in r[0]
