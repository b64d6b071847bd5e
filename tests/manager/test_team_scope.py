"""健康指标 and 需求主题 by role: a manager sees their own team (security.manager_scope = "team", the
default), admins and the product team the whole company; "company" restores company-wide figures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.testing import BotHarness, make_settings
from storage.models import Demand
from tests.flows.kit import org


async def seed(bot: BotHarness) -> None:
    await org(bot)
    now = bot.clock.now()
    async with bot.session() as session:
        for handle, quote, key in (
            ("wanglei", "清洗后器械还有血渍", "cleaning"),
            ("sunyue", "二组客户说夜班没人会用", "training"),
        ):
            rep = await bot.user(handle)
            session.add(
                Demand(
                    rep_id=rep.id,
                    text=quote,
                    cluster_key=key,
                    cluster_label={"cleaning": "清洗质量", "training": "操作培训"}[key],
                    created_at=now - timedelta(days=1),
                )
            )


@pytest.mark.parametrize("scope", ["team", "company"])
async def test_manager_sees_own_team_by_default(tmp_path: Path, db_url: str, scope: str) -> None:
    settings = make_settings(tmp_path, db_url=db_url, security={"manager_scope": scope})
    async with BotHarness(tmp_path, settings=settings) as bot:
        await seed(bot)
        themes = (await bot.send("liqiang", "需求主题"))[-1]
        health = (await bot.send("liqiang", "健康指标"))[-1]
        admin_themes = (await bot.send("admin", "需求主题"))[-1]
        admin_health = (await bot.send("admin", "健康指标"))[-1]
    assert "清洗后器械还有血渍" in themes
    assert "的需求主题（满 5 次推送给产品部）：" in admin_themes.splitlines()[0]
    assert "二组客户说夜班没人会用" in admin_themes and "（3 名销售" in admin_health
    if scope == "team":
        assert "二组" not in themes and "操作培训" not in themes and "你的团队" in themes
        assert "（2 名销售" in health and health.endswith("范围：你的团队")
    else:
        assert "二组客户说夜班没人会用" in themes and "（3 名销售" in health
