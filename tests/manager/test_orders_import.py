"""`actionflow import orders FILE [--dry-run]`: validated, all or nothing, and each signed order is a deal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.testing import BotHarness
from storage.models import AuditLog, Customer, Order
from tests.manager.helpers import MONDAY_8, customer, team

HEADER = "订单号,客户名称,订单日期,金额,已签约,终端医院"


async def _setup(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8, jobs=False) as bot:
        u = await team(bot)
        await customer(
            bot, "富阳区人民医院", u["zhangting"], updated_hours_ago=1, deal_days_ago=None, stage="lead"
        )
        await customer(
            bot, "杭州康联医疗", u["wanglei"], updated_hours_ago=1, deal_days_ago=None, stage="repurchase"
        )


async def _read(db: Path) -> tuple[list[Order], dict[str, Customer], list[AuditLog]]:
    from sqlalchemy import select

    from storage.db import Database

    database = Database(f"sqlite+aiosqlite:///{db}")
    try:
        async with database.read() as s:
            orders = list((await s.execute(select(Order).order_by(Order.external_id))).scalars())
            customers = {c.name: c for c in (await s.execute(select(Customer))).scalars()}
            audits = list(
                (await s.execute(select(AuditLog).where(AuditLog.action == "deal.record"))).scalars()
            )
    finally:
        await database.dispose()
    return orders, customers, audits


def test_import_orders_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "bot.db"
    asyncio.run(_setup(tmp_path))
    config = tmp_path / "actionflow.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n[app]\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "orders.csv"
    good.write_bytes(
        "\n".join(
            [
                HEADER,
                "SO-1,富阳区人民医院,2025/10/08,99000,是,",
                "SO-2,富阳区人民医院,2025-11-03,1000.50,是,",
                "SO-3,杭州康联医疗,2025-11-04,5000,是,桐庐县人民医院",
                "SO-4,杭州康联医疗,2025-11-05,7000,否,",
            ]
        ).encode("gbk")  # an ERP export from a Chinese Windows machine
    )
    base = ["--config", str(config), "import", "orders"]
    assert main([*base, str(good), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dry run: would import 4 order(s) (4 new, 0 changed, 3 signed)")
    assert "1 moved to the won stage" in out and "won: 富阳区人民医院" in out
    orders, customers, _ = asyncio.run(_read(db))
    assert orders == [] and customers["富阳区人民医院"].stage == "lead"

    assert main([*base, str(good)]) == 0
    assert capsys.readouterr().out.startswith("imported 4 order(s) (4 new, 0 changed, 3 signed)")
    orders, customers, audits = asyncio.run(_read(db))
    fuyang, kanglian = customers["富阳区人民医院"], customers["杭州康联医疗"]
    assert len(orders) == 4 and fuyang.stage == "contract"
    assert fuyang.first_order_at is not None and fuyang.last_deal_at is not None
    assert fuyang.first_order_at.date().isoformat() == "2025-10-08"
    assert fuyang.last_deal_at.date().isoformat() == "2025-11-03"
    assert kanglian.stage == "repurchase"  # already past the won stage: kept
    assert kanglian.last_deal_at is not None and kanglian.last_deal_at.date().isoformat() == "2025-11-04"
    assert len(audits) == 2 and audits[0].source_event == "cli:import orders orders.csv"

    # Importing the same file again changes nothing and records no new deal.
    assert main([*base, str(good)]) == 0
    assert "(0 new, 0 changed, 3 signed); deal dates changed for 0 customer(s)" in capsys.readouterr().out
    assert len(asyncio.run(_read(db))[2]) == 2

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\n".join(
            [
                HEADER,
                "SO-9,富阳区人民医院,2025-12-01,100,是,",  # fine, but not imported with the others
                "SO-10,富阳医院分部,2025-12-01,100,是,",
                "SO-11,富阳区人民医院,3/12/2025,100,是,",
                "SO-9,富阳区人民医院,2025-12-01,100,是,",
                "SO-12,富阳区人民医院,2025-12-01,abc,是,",
            ]
        ),
        encoding="utf-8",
    )
    assert main([*base, str(bad)]) == 1
    err = capsys.readouterr().err
    assert "4 problem(s) in bad.csv; nothing imported:" in err
    for expected in (
        "bad.csv line 3: customer '富阳医院分部' is not a customer in ActionFlow",
        "bad.csv line 4: order_date '3/12/2025' is ambiguous",
        "bad.csv line 5: order_no SO-9 appears twice (also bad.csv line 2)",
        "bad.csv line 6: amount 'abc' is not an amount",
    ):
        assert expected in err
    assert len(asyncio.run(_read(db))[0]) == 4
