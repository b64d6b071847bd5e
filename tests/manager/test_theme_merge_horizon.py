"""A discovered cluster merged into a theme keeps pulling its look-alikes there while it is alive, as an
unmerged cluster would be, and a scan compares against a bounded number of them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.testing import BotHarness
from domain import theme_book
from domain.clustering import load_book
from storage.models import Demand, DemandCluster
from tests.manager.helpers import MONDAY_8, customer, demand, get, team

ACADEMIC = ["希望你们赞助科室的学术年会", "学术会议能不能给两个名额", "请专家来做一场学术讲座"]


def merged_row(key: str, label: str, at: datetime, texts: list[str]) -> DemandCluster:
    return DemandCluster(
        key=key,
        label=label,
        kind="discovered",
        created_at=at,
        updated_at=at,
        examples=texts,
        keywords=[],
        merged_into="training",
    )


async def test_a_merged_cluster_pulls_while_alive_and_its_horizon_renews_when_it_pulls(
    db_url: str, tmp_path: Path
) -> None:
    async with BotHarness(tmp_path, db_url=db_url, start=MONDAY_8) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        for text in ACADEMIC:
            await demand(bot, u["wanglei"], c, text, "其他")
        await bot.send("chenchen", "需求主题")
        assert "移过去 3 条需求" in (await bot.send("chenchen", "主题合并 学术 产品培训与使用指导"))[-1]
        merged = next(r for r in await get(bot, DemandCluster) if r.merged_into == "training")

        # 170 days later it still pulls, and pulling renews it: another 170 days on, it pulls again.
        for n, text in enumerate(["学术年会的展位今年还能给我们留一个吗", "今年的学术沙龙你们还赞助吗"]):
            await bot.advance(timedelta(days=170))
            await demand(bot, u["zhangting"], c, text, "其他", hours_ago=0)
            await bot.send("chenchen", "需求主题")
            assert {r.text: r.cluster_key for r in await get(bot, Demand)}[text] == "training", n
        row = next(r for r in await get(bot, DemandCluster) if r.key == merged.key)
        assert row.updated_at is not None and row.updated_at >= bot.clock.now() - timedelta(hours=1)

        # After 180 quiet days it has aged out as an unmerged cluster would: a new one forms.
        await bot.advance(timedelta(days=181))
        late = "学术年会今年还办吗"
        await demand(bot, u["zhangting"], c, late, "其他", hours_ago=0)
        await bot.send("chenchen", "需求主题")
        assert {r.text: r.cluster_key for r in await get(bot, Demand)}[late] != "training"


async def test_a_scan_compares_a_bounded_number_of_merged_clusters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(theme_book, "MERGED_PULLING", 3)
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:
        now = bot.clock.now()
        async with bot.app.db.transaction() as s:
            for i in range(5):  # d-0 is the least recently active, d-4 the most
                texts = [f"第{i}类需求的第{j}句话" for j in range(40)]
                s.add(merged_row(f"d-{i}", f"第{i}类", now - timedelta(days=5 - i), texts))
            s.add(merged_row("d-old", "旧的", now - timedelta(days=200), ["很久以前的需求"]))
            await s.flush()
            view = await theme_book.view(s, load_book(), now)
            monkeypatch.setattr(theme_book, "MERGED_PULLING", 10)
            roomier = await theme_book.view(s, load_book(), now)
        pulling = {k.key: len(k.texts) for k in view.kept}
        assert pulling == {"d-4": theme_book.KNOWN_MEMBERS, "d-3": 20, "d-2": 20}
        assert view.resolve("d-0") == "training"  # not compared, still redirected
        # With room for all: every active one, not the one quiet for 200 days.
        assert {k.key for k in roomier.kept} == {"d-0", "d-1", "d-2", "d-3", "d-4"}
