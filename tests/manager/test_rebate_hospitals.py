"""Rebates' new-hospital count compares institutions, not spellings, and lists what it cannot tell."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.testing import BotHarness
from domain.orders import OrderProblems, OrderRow, resolve_customers, upsert
from domain.rebate_formula import parse_formula
from domain.rebates import finance_summary, parse_period, run_period
from tests.manager.helpers import MONDAY_8, customer, team

FORMULA = parse_formula("contract_amount * 0.03 + new_hospitals * 5000")


def order(no: str, who: str, day: str, hospital: str, amount: str = "1000.00") -> OrderRow:
    return OrderRow(
        f"orders.csv line {no}", no, who, date.fromisoformat(day), Decimal(amount), True, hospital
    )


async def test_short_forms_and_campus_suffixes_are_the_old_hospital(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        await customer(bot, "杭州康联医疗", u["wanglei"], updated_hours_ago=1, deal_days_ago=None)
        await customer(
            bot,
            "富阳区人民医院",
            u["wanglei"],
            updated_hours_ago=1,
            deal_days_ago=None,
            region="杭州市富阳区",
        )
        # An old customer whose deals predate the quarter (its orders were never imported).
        await customer(
            bot,
            "杭州市第三人民医院",
            u["wanglei"],
            updated_hours_ago=1,
            deal_days_ago=None,
            first_order_at=datetime(2025, 6, 1, tzinfo=MONDAY_8.tzinfo),
        )
        rows = [
            order("1", "杭州康联医疗", "2025-12-20", "富阳区人民医院"),  # before Q1
            order("2", "杭州康联医疗", "2026-01-15", "富阳"),  # short form: not new
            order("3", "杭州康联医疗", "2026-01-16", "富阳区人民医院（总院）"),  # campus suffix: not new
            order("4", "杭州康联医疗", "2026-01-17", "杭州三院"),  # an old customer: not new
            order("5", "杭州康联医疗", "2026-02-01", "桐庐县人民医院"),  # new
            order("6", "杭州康联医疗", "2026-02-02", "桐庐县人民医院（总院）"),  # the same new one
            order("7", "杭州康联医疗", "2026-02-03", "富阳医院"),  # may be 富阳区人民医院: not sure
        ]
        async with bot.session() as s:
            await upsert(s, rows, bot.clock.now())
            run = await run_period(s, parse_period("2026Q1"), FORMULA, {}, bot.clock.now())
        (line,) = run.lines
        assert line.inputs["new_hospitals"] == Decimal(1)
        assert line.inputs["order_count"] == Decimal(6)
        assert run.unresolved == ["富阳医院"]
        text = finance_summary(run, "2026-04-01")
        assert "暂未计入新开医院数：富阳医院" in text and "添加别名" in text
        # Beyond the listed customers, finance is pointed at the board's table, not a command line.
        board = "https://board.example.com/board/rebates?period=2026Q1"
        listed = finance_summary(run, "2026-04-01", max_lines=0, details_url=board)
        assert f"…另有 1 家，完整明细在看板中查看：{board}" in listed and "actionflow" not in listed
        assert "可请管理员导出（actionflow rebates run --period 2026Q1）" in finance_summary(
            run, "2026-04-01", max_lines=0
        )


async def test_order_customers_resolve_short_forms_and_refuse_doubtful_ones(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        await customer(bot, "浙江大学医学院附属邵逸夫医院", u["wanglei"], updated_hours_ago=1)
        await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        async with bot.session() as s:
            found = await resolve_customers(s, [order("1", "浙大邵逸夫", "2026-01-02", "")])
            assert found["浙大邵逸夫"].name == "浙江大学医学院附属邵逸夫医院"
            with pytest.raises(OrderProblems) as err:
                await resolve_customers(
                    s,
                    [
                        order("2", "杭州三院", "2026-01-02", ""),
                        order("3", "邵一夫医院", "2026-01-02", ""),
                    ],
                )
        problems = err.value.problems
        assert "line 2: customer '杭州三院' is not a customer in ActionFlow" in problems[0]
        assert (
            "line 3: customer '邵一夫医院' is not certain (it may be: 浙江大学医学院附属邵逸夫医院)"
            in problems[1]
        )
