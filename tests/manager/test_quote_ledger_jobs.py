"""The quote ledger in the manager loop: the daily head sent to the admins and the log (and checkable
later with --head), and theme alerts that show the ledger's text with 销售更正 and 已被改动."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from bot.testing import BotHarness
from core.speech import Transcript
from domain.quotes import quote_text
from speech.ledger import QuoteLedger, annotate, verify_chain
from storage.models import Customer, Demand, Quote, User
from tests.manager.helpers import MONDAY_8, customer, team

HEAD = "客户原话账本每日校验"


def said(n: int, words: str, platform: str | None = None) -> Transcript:
    return Transcript(
        text=words,
        language="zh",
        duration_s=3.5,
        model_name="whisper-base",
        model_version="test",
        audio_path=f"data/audio/{n:02d}.amr",
        audio_sha256=f"{n:064x}",
        audio_format="amr-nb",
        platform_recognition=platform,
    )


async def quoted_demand(bot: BotHarness, rep: User, c: Customer, n: int, words: str, scenario: str) -> int:
    """A demand filed the way the form files it: a ledger quote and a copy of its text."""
    async with bot.session() as s:
        quote_id = await QuoteLedger().record(
            s, now=bot.clock.now(), transcript=said(n, words), rep_id=rep.id, customer_id=c.id, visit_id=None
        )
        quote = await s.get(Quote, quote_id)
        assert quote is not None
        s.add(
            Demand(
                customer_id=c.id,
                rep_id=rep.id,
                quote_id=quote_id,
                text=quote_text(quote.transcript, quote.platform_recognition)[0],
                scenario=scenario,
                created_at=bot.clock.now() - timedelta(hours=1),
            )
        )
        return quote_id


async def test_daily_head_goes_to_admins_and_the_log_and_checks_out_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8) as bot:  # Monday 08:00 local
        u = await team(bot)
        await bot.add_user("admin", "周敏", roles=("admin",))
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        await bot.advance(timedelta(days=1))  # nothing recorded yet: nothing to anchor
        assert not [t for t in bot.texts_to("admin") if HEAD in t]

        await quoted_demand(bot, u["wanglei"], c, 1, "器械包和灭菌柜不兼容", "合规风险")
        with caplog.at_level(logging.INFO, logger="actionflow.ledger"):
            await bot.advance(timedelta(days=1))  # Wednesday 08:00, after 07:50
        sent = [t for t in bot.texts_to("admin") if HEAD in t]
        assert len(sent) == 1 and "共 1 条原话、0 条更正和标注" in sent[0]
        head = re.search(r"今日链头：(\S+)", sent[0])
        assert head is not None and head.group(1).startswith("1.0.")
        assert any(getattr(r, "head", "") == head.group(1) for r in caplog.records)
        assert not [t for t in bot.texts_to("wanglei") if HEAD in t]  # admins only

        await bot.advance(timedelta(days=1))  # unchanged ledger: the same head is not sent again
        assert len([t for t in bot.texts_to("admin") if HEAD in t]) == 1

        async with bot.session() as s:
            await annotate(
                s, quote_id=1, text="器械包和灭菌柜不兼容。", now=bot.clock.now(), author_id=u["wanglei"].id
            )
        await bot.advance(timedelta(days=1))
        sent = [t for t in bot.texts_to("admin") if HEAD in t]
        assert len(sent) == 2 and "今日链头：1.1." in sent[1]

        # Someone deletes the correction (after dropping the guard): the chain alone cannot tell, the
        # head sent to the admins can.
        async with bot.session() as s:
            await s.execute(sql("DROP TRIGGER quote_annotations_no_delete"))
            await s.execute(sql("DELETE FROM quote_annotations"))
        newest = re.search(r"今日链头：(\S+)", sent[1])
        assert newest is not None
        async with bot.session() as s:
            assert (await verify_chain(s)).ok
            assert not (await verify_chain(s, head=newest.group(1))).ok


async def test_theme_alert_shows_the_ledger_text_corrections_and_changed_copies(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, start=MONDAY_8 + timedelta(minutes=5)) as bot:
        u = await team(bot)
        c = await customer(bot, "杭州市第一人民医院", u["wanglei"], updated_hours_ago=1)
        words = [
            "我们颗是最头疼的是器械包的灭菌兼容性问题",
            "消毒供应中心说灭菌后的包装破了",
            "环氧乙烷灭菌以后解析太久，周转不开",
            "希望做一个耐高温的灭菌标识贴",
            "供应室反映器械盒进不了灭菌篮筐",
        ]
        for n, w in enumerate(words, 1):
            await quoted_demand(bot, u["wanglei"], c, n, w, "合规风险")
        async with bot.session() as s:
            await annotate(
                s,
                quote_id=1,
                text="我们科室最头疼的是器械包的灭菌兼容性问题",
                now=bot.clock.now(),
                author_id=u["wanglei"].id,
            )
            await s.execute(sql("UPDATE demands SET text = '灭菌没有问题' WHERE quote_id = 2"))
        await bot.advance(timedelta(hours=1))  # the hourly scan
        alerts = [t for t in bot.group_texts("product") if "需求主题预警" in t]
        assert len(alerts) == 1
        assert (
            "「我们颗是最头疼的是器械包的灭菌兼容性问题」，销售更正（王磊）：「我们科室最头疼的是器械包的灭菌兼容性问题」"
            in alerts[0]
        )
        assert "「消毒供应中心说灭菌后的包装破了」（⚠️ 已被改动，以账本原文为准）" in alerts[0]
        assert "灭菌没有问题" not in alerts[0]
        async with bot.session() as s:
            await annotate(
                s,
                quote_id=5,
                text="供应室反映器械盒放不进灭菌篮筐",
                now=bot.clock.now(),
                author_id=u["wanglei"].id,
            )
        r = await bot.send("chenchen", "需求主题")
        assert (
            "例：「供应室反映器械盒进不了灭菌篮筐」，销售更正（王磊）：「供应室反映器械盒放不进灭菌篮筐」"
            in r[-1]
        )
