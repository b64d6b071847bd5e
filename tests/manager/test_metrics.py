"""The three health metrics on hand-built data, and `actionflow metrics --json`."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.testing import BotHarness, make_settings
from domain.metrics import compute
from tests.manager.helpers import MONDAY_8, customer, deadline, team, update, visit


async def build(bot: BotHarness) -> None:
    u = await team(bot)
    await bot.add_user("idle", "闲置", supervisor="liqiang")  # a rep who never recorded anything
    now = bot.clock.now()
    c = await customer(bot, "杭州市中医院", u["wanglei"], updated_hours_ago=1)
    v = await visit(bot, u["wanglei"], c)
    # Compliance window: due in (now − 7 d, now]. 3 done on time, 1 late, 1 still pending → 3/5.
    specs = [
        ("demand_confirmation", 1, "done", True),
        ("visit_report", 2, "done", True),
        ("competitor_analysis", 3, "done", True),
        ("demand_confirmation", 4, "done", False),
        ("visit_report", 5, "pending", None),
    ]
    for i, (kind, days, status, on_time) in enumerate(specs):
        await deadline(
            bot,
            kind,
            "visit",
            v.id + 100 * i,
            u["wanglei"],
            now - timedelta(days=days),
            status=status,
            on_time=on_time,
        )
    await deadline(
        bot, "visit_report", "visit", 900, u["wanglei"], now - timedelta(days=2), status="cancelled"
    )
    await deadline(bot, "visit_report", "visit", 901, u["wanglei"], now - timedelta(days=9))  # outside window
    await deadline(bot, "visit_report", "visit", 902, u["wanglei"], now + timedelta(hours=1))  # not yet due
    await deadline(bot, "visit_report", "visit", 903, u["wanglei"], now - timedelta(days=1), required=False)
    # Conversion: the cohort of valid leads created in the window that reached a first order within
    # metrics.conversion_days (90) of becoming a lead.
    leads = [  # (lead days ago, first order days ago or None, valid)
        (1, 0.5, True),
        (2, None, True),
        (3, 1, True),
        (6, None, True),
        (5, 2, False),  # current: 2/4
        (8, 7.5, True),
        (9, None, True),
        (10, None, True),
        (12, 3, True),  # previous: 2/4 (a cohort: ordered 9 days after it became a lead)
        (4, 30, True),  # ordered 30 days ago, a lead record only since 4: never a lead, left out
    ]
    for i, (lead, order, valid) in enumerate(leads):
        await customer(
            bot,
            f"线索{i}",
            u["zhangting"],
            updated_hours_ago=1,
            lead_days_ago=lead,
            first_order_at=None if order is None else now - timedelta(days=order),
            is_valid_lead=valid,
        )
    # Freshness: 王磊 2 h, 张婷 5 h, 闲置 never → median of (2, 5, ∞) = 5 h.
    await update(bot, c, u["wanglei"], hours_ago=2)
    await update(bot, c, u["wanglei"], hours_ago=30)
    await update(bot, c, u["zhangting"], hours_ago=5)
    await update(bot, c, u["zhangting"], hours_ago=1, valid=False)


async def test_metrics_on_hand_built_data(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        await build(bot)
        async with bot.app.db.read() as s:
            m = await compute(s, bot.clock.now(), bot.settings.metrics)
    assert (m.compliance_on_time, m.compliance_due, m.compliance) == (3, 5, 0.6)
    assert m.compliance_healthy is False
    assert (m.converted, m.leads, m.conversion) == (2, 4, 0.5)
    assert (m.previous_converted, m.previous_leads, m.previous_conversion) == (2, 4, 0.5)
    assert m.conversion_change == pytest.approx(0.0) and m.conversion_healthy is False
    assert m.conversion_days == 90
    assert m.freshness_hours == pytest.approx(5.0) and m.reps == 3 and m.reps_without_updates == 1
    assert m.freshness_healthy is False


async def test_lead_conversion_counts_only_orders_within_the_cohort_days(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8, metrics={"conversion_days": 5}) as bot:
        await build(bot)
        async with bot.app.db.read() as s:
            m = await compute(s, bot.clock.now(), bot.settings.metrics)
    # The lead of 12 days ago ordered 9 days later: beyond 5 days, not converted.
    assert (m.previous_converted, m.previous_leads) == (1, 4)
    assert (m.converted, m.leads) == (2, 4) and m.conversion_change == pytest.approx(1.0)


def test_metrics_cli_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def setup() -> None:
        async with BotHarness(tmp_path, start=MONDAY_8) as bot:
            await build(bot)

    asyncio.run(setup())
    settings = make_settings(tmp_path)
    config = tmp_path / "actionflow.toml"
    config.write_text(f'[database]\nurl = "{settings.database.url}"\n[metrics]\ncompliance_target = 0.5\n')
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), "metrics", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # Real time now is long after the hand-built window: nothing is due in the last 7 days.
    assert data["compliance_target"] == 0.5 and data["reps"] == 3 and data["reps_without_updates"] == 1
    assert set(data) >= {
        "compliance",
        "conversion",
        "conversion_change",
        "freshness_hours",
        "freshness_healthy",
    }
    assert main(["--config", str(config), "metrics"]) == 0
    assert "过程数据鲜度" in capsys.readouterr().out
