"""Rebates: the formula validator, hand-computed amounts to the fen, all-or-nothing order imports."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.cli.main import main
from bot.testing import BotHarness
from domain.rebate_formula import FormulaError, in_words, parse_formula
from storage.models import Customer, Order, RebateResult
from tests.manager.helpers import MONDAY_8, customer, get, team

SEED = "contract_amount * 0.03 + target_increment * 0.008 + new_hospitals * 5000"


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("__import__('os').system('x')", "only min, max may be called"),
        ("contract_amount.__class__", "attribute access"),
        ("contract_amount ** 100000", "'**'"),
        ("bonus * 2", "unknown name 'bonus'"),
        ("[contract_amount][0]", "lists"),
        ("'abc'", "only numbers"),
        ("contract_amount * ", "not a valid expression"),
        ("contract_amount > 5", "must give an amount"),
        ("max", "max must be called"),
        ("", "empty"),
    ],
)
def test_formula_validator_rejects_unsafe_or_unknown(formula: str, reason: str) -> None:
    with pytest.raises(FormulaError) as info:
        parse_formula(formula)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("contract_amount * 0.03", "合同金额 × 3%"),
        ("(contract_amount - target) * 0.1", "（合同金额 － 季度目标） × 10%"),
        (
            "min(contract_amount * 0.05, 20000) if order_count >= 3 else 0",
            "若 订单数 ≥ 3 则 取较小值（合同金额 × 5%，20000），否则 0",
        ),
        ("order_count * 200 + new_hospitals * 5000", "订单数 × 200 元 ＋ 新开医院数 × 5000 元"),
    ],
)
def test_finance_reads_the_formula_in_words(formula: str, words: str) -> None:
    parse_formula(formula)  # a formula finance is shown is one the validator accepts
    assert in_words(formula) == words


def test_formula_is_decimal_and_rounds_half_up_to_the_fen() -> None:
    f = parse_formula(SEED)
    zero = {"target": Decimal(0), "order_count": Decimal(1)}
    # 123,456.78 × 3 % = 3,703.7034 ; 20,000.55 × 0.8 % = 160.0044 ; 1 × 5,000 → 8,863.7078 → 8,863.71
    inputs = {
        **zero,
        "contract_amount": Decimal("123456.78"),
        "target_increment": Decimal("20000.55"),
        "new_hospitals": Decimal(1),
    }
    assert f.evaluate(inputs) == Decimal("8863.71")
    # 0.15 × 3 % = 0.0045 → half-up 0.01 (binary floats would give 0.0045000000000000005 or 0.0044999…)
    tiny = {
        **zero,
        "contract_amount": Decimal("0.15"),
        "target_increment": Decimal(0),
        "new_hospitals": Decimal(0),
    }
    assert f.evaluate(tiny) == Decimal("0.00")
    assert parse_formula("contract_amount * 0.03").evaluate(
        {**tiny, "contract_amount": Decimal("0.50")}
    ) == Decimal("0.02")
    assert parse_formula("min(contract_amount * 0.1, 1000) + (500 if new_hospitals > 0 else 0)").evaluate(
        {**inputs}
    ) == Decimal("1500.00")
    assert parse_formula(SEED).version == parse_formula(SEED.replace(" ", "")).version
    assert parse_formula(SEED).version != parse_formula(SEED.replace("0.008", "0.009")).version


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(
        "\n".join(["订单号,客户名称,订单日期,金额,已签约,终端医院", *rows]) + "\n", encoding="utf-8"
    )
    return path


async def _setup(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        u = await team(bot)
        await customer(bot, "杭州康联医疗", u["wanglei"], updated_hours_ago=1)
        await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)


async def _read(db: Path) -> tuple[list[RebateResult], list[Order]]:
    from sqlalchemy import select

    from storage.db import Database

    database = Database(f"sqlite+aiosqlite:///{db}")
    try:
        async with database.read() as s:
            results = list((await s.execute(select(RebateResult).order_by(RebateResult.amount))).scalars())
            orders = list((await s.execute(select(Order).order_by(Order.external_id))).scalars())
    finally:
        await database.dispose()
    return results, orders


def test_rebates_run_matches_hand_computed_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "bot.db"
    asyncio.run(_setup(tmp_path))
    orders = write_csv(
        tmp_path / "orders.csv",
        [
            "E-2025-9,杭州康联医疗,2025-12-20,50000.00,是,富阳区人民医院",  # before Q1: 富阳 is not new
            "E-1,杭州康联医疗,2026-01-15,300000.00,是,富阳区人民医院",
            "E-2,杭州康联医疗,2026-02-03,250000.50,是,桐庐县人民医院",  # new hospital
            'E-3,杭州康联医疗,2026/03/31,"100,000.00",yes,临安区中医院',  # new hospital
            "E-4,杭州康联医疗,2026-03-05,99999.99,否,建德市第一人民医院",  # not signed: ignored
            "E-5,杭州市第一人民医院,2026-02-10,12345.67,,",  # the hospital itself, new
            "E-6,杭州市第一人民医院,2026-04-01,88888.00,是,",  # Q2
        ],
    )
    config = tmp_path / "actionflow.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n[app]\ndata_dir = "{tmp_path / "data"}"\n'
        '[rebates]\nquarterly_targets = {"杭州康联医疗" = 600000}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert (
        main(["--config", str(config), "rebates", "run", "--period", "2026Q1", "--orders", str(orders)]) == 0
    )
    out = capsys.readouterr().out
    # 康联: contract 650,000.50; increment 50,000.50; 2 new hospitals
    #   650,000.50 × 0.03 = 19,500.015 ; 50,000.50 × 0.008 = 400.004 ; 2 × 5,000 = 10,000 → 29,900.019 → 29,900.02
    # 一院: 12,345.67 × 0.03 = 370.3701 ; no target ; 1 new hospital → 5,370.3701 → 5,370.37
    assert "29,900.02" in out and "5,370.37" in out and "35,270.39" in out
    assert "finance summary queued" in out

    assert (
        main(["--config", str(config), "rebates", "run", "--period", "2026Q1", "--orders", str(orders)]) == 0
    )
    capsys.readouterr()
    results, orders_stored = asyncio.run(_read(db))
    count = len(orders_stored)
    assert [r.amount for r in results] == [Decimal("5370.37"), Decimal("29900.02")]
    assert results[1].inputs["target_increment"] == "50000.50" and results[1].inputs["new_hospitals"] == "2"
    assert results[1].formula_version == parse_formula(SEED).version
    assert count == 7

    # A malformed file: every problem reported with its line, nothing applied.
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            "E-1,杭州康联医疗,2026-01-15,999999.00,是,",
            "E-7,杭州康联医疗,2026-13-01,100,是,",
            "E-8,不存在的医院,2026-01-02,100,是,",
            "E-9,杭州康联医疗,2026-01-02,12.345,是,",
        ],
    )
    assert main(["--config", str(config), "rebates", "run", "--period", "2026Q1", "--orders", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv line 3: order_date '2026-13-01' is not a date" in err
    assert "bad.csv line 5: amount '12.345'" in err
    # …and the unknown customer in the same round, not after the others are fixed.
    assert "bad.csv line 4: customer '不存在的医院' is not a customer in ActionFlow" in err
    results_after, orders_after = asyncio.run(_read(db))
    e1 = next(o for o in orders_after if o.external_id == "E-1")
    assert [r.amount for r in results_after] == [r.amount for r in results] and len(orders_after) == 7
    assert e1.amount == Decimal("300000.00")
    # Alone, the unknown customer is still refused.
    fixed = write_csv(tmp_path / "fixed.csv", ["E-8,不存在的医院,2026-01-02,100,是,"])
    assert (
        main(["--config", str(config), "rebates", "run", "--period", "2026Q1", "--orders", str(fixed)]) == 1
    )
    assert (
        "fixed.csv line 2: customer '不存在的医院' is not a customer in ActionFlow" in capsys.readouterr().err
    )


async def test_nightly_run_reads_the_drop_folder_and_tells_finance(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["order_no", "customer", "order_date", "amount"])
    ws.append(["X-1", "余杭区人民医院", "2026-10-08", 10000])
    wb.save(folder / "erp.xlsx")
    start = MONDAY_8 - timedelta(hours=7)  # Monday 01:00
    async with BotHarness(tmp_path, start=start, rebates={"orders_dir": str(folder)}) as bot:
        u = await team(bot)
        await customer(bot, "余杭区人民医院", u["zhangting"], updated_hours_ago=1)
        await bot.tick()  # Sunday 02:00 caught up
        await bot.advance(timedelta(hours=1))  # Monday 02:00
        await bot.advance(timedelta(hours=1))
        summaries = [t for t in bot.group_texts("finance") if "返利计算完成：2026Q4" in t]
        assert len(summaries) == 2
        # 10,000 × 3 % + new hospital 5,000 = 5,300.00
        assert "客户 1 家，返利合计 ¥5,300.00" in summaries[-1] and "较上次计算 +¥0.00" in summaries[-1]
        assert "返利 = 合同金额 × 3% ＋ 超出目标的金额 × 0.8% ＋ 新开医院数 × 5000 元" in summaries[-1]
        assert "contract_amount" not in summaries[-1]
        (result,) = await get(bot, RebateResult)
        assert result.period == "2026Q4" and result.amount == Decimal("5300.00")
        # The nightly pull imports through the same path as `import orders`: the order is a deal.
        (yuhang,) = await get(bot, Customer)
        assert yuhang.stage == "contract" and yuhang.first_order_at is not None
        assert yuhang.first_order_at.astimezone(bot.app.services.tz).date().isoformat() == "2026-10-08"
        (folder / "late.csv").write_text(
            "order_no,customer,order_date,amount\nX-2,余杭区人民医院,2026-11-40,1\n"
        )
        await bot.advance(timedelta(days=1))
        failed = [t for t in bot.group_texts("finance") if "返利计算失败" in t]
        assert len(failed) == 1 and "late.csv line 2: order_date '2026-11-40'" in failed[0]
