"""Customers' quotes on the board read as they do in chat: the ledger's view (the platform's text when it
came with one, 转写可能不准, the rep's 销售更正 with the author, 已被改动 for a tampered row), the scenario, and a
quote recorded again after 返回 marked as replaced — never shown as a correction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PIL import Image
from playwright.async_api import Browser, BrowserContext, Locator, expect
from sqlalchemy import select, text

from bot.testing import BotHarness
from core.speech import Transcript
from speech.ledger import QuoteLedger, verify_chain
from storage.models import Demand, Quote, QuoteAnnotation
from tests.flows.kit import ScriptedTranscriber, add_customer, scripted_note, visit_fields
from tests.speech.test_ledger import drop_guards
from tests.web.board.conftest import DESKTOP
from tests.web.board.kit import base, board_bot, org, sign_in

HOSPITAL = "杭州市第一人民医院"
LOCAL = "我们颗是最头疼的是气泄包的面均坚融性问题。"  # the local model's homophones
MISHEARD = "我们科室最头疼的是采购成本，预算只有去年的八成。"  # a local text that says something else
PLATFORM = "我们科室最头疼的是器械包的灭菌兼容性问题"  # the platform's recognition: the quote's text
FIXED = "我们科室最头疼的是器械包灭菌兼容性的问题"


async def up_to_the_quote(bot: BotHarness, tmp_path: Path) -> int:
    """王磊's visit to the hospital, its report done, the demand form waiting for the customer's words."""
    cid = await add_customer(bot, HOSPITAL, "wanglei")
    await bot.approval("wanglei", "AP-1", "submitted", visit_fields(HOSPITAL))
    await bot.advance(timedelta(hours=2))
    Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "door.jpg")
    await bot.photo("wanglei", tmp_path / "door.jpg")
    await bot.send("wanglei", "确定预算范围")
    await bot.send("wanglei", "无")
    r = await bot.send("wanglei", "否")
    assert "发送一段语音" in r[-1]
    return cid


async def quote_box(page: Locator, quote_id: int) -> Locator:
    box = page.locator(f".quote[data-quote='{quote_id}']")
    await expect(box).to_have_count(1)
    return box


async def test_a_corrected_doubtful_quote_reads_as_in_chat_on_the_customer_and_theme_pages(
    tmp_path: Path, db_url: str, browser: Browser, desktop: BrowserContext
) -> None:
    tr = ScriptedTranscriber()
    async with board_bot(tmp_path, transcriber=tr, quotes=QuoteLedger(), db_url=db_url) as bot:
        await org(bot)
        cid = await up_to_the_quote(bot, tmp_path)
        r = await bot.voice("wanglei", scripted_note(tmp_path, tr, "said", MISHEARD), recognition=PLATFORM)
        assert any("转写可能不准" in x for x in r)  # local and platform differ in 13 of 22 syllables
        await bot.send("wanglei", f"更正 {FIXED}")
        await bot.send("wanglei", "合规风险")
        r = await bot.send("wanglei", "无")
        assert any("需求确认单已提交" in x for x in r)
        await bot.advance(timedelta(hours=1))  # the hourly demand scan gives it a theme
        async with bot.session() as s:
            demand = (await s.execute(select(Demand))).scalar_one()
        assert demand.cluster_key and demand.quote_id == 1
        shown = f"“{PLATFORM}”（转写可能不准），销售更正（王磊）：“{FIXED}”"
        r = await bot.send("liqiang", f"客户 {HOSPITAL}")
        assert f"原话 #1 {shown}" in r[-1]  # chat, for comparison

        page = await sign_in(bot, desktop, "liqiang")
        await page.goto(base(bot) + f"/board/customers/{cid}")
        box = await quote_box(page.locator("main"), 1)
        await expect(box.locator("div").first).to_have_text(shown)
        await expect(box).to_contain_text("原话 #1 · 王磊")
        await expect(box).to_contain_text("场景：合规风险")
        await expect(page.locator("main")).not_to_contain_text("气泄包")  # not the local transcript
        # 最近进展: the demand's quote as the ledger shows it, not the copy taken when it was filed
        await expect(page.locator("main")).to_contain_text(f"王磊 · 合规风险 {shown}")

        product = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
        page = await sign_in(bot, product, "chanpin")
        await page.goto(base(bot) + f"/board/themes/{demand.cluster_key}")
        card = page.locator(".card", has=page.locator(".quote"))
        await expect(card.locator(".quote")).to_have_text(shown)
        await expect(card).to_contain_text("原话 #1 · 杭州市第一人民医院 · 王磊")
        await expect(card).to_contain_text("场景：合规风险")

        # Someone rewrites the quote's row behind the ledger's back: both pages say so, as chat does.
        await drop_guards(bot.app.db)
        async with bot.session() as s:
            await s.execute(text("UPDATE quotes SET platform_recognition = '价格可以接受，没有问题'"))
        await page.reload()
        await expect(card.locator(".quote")).to_contain_text(
            "“价格可以接受，没有问题”（⚠️ 已被改动，以账本原文为准"
        )
        page = await sign_in(bot, desktop, "liqiang")
        await page.goto(base(bot) + f"/board/customers/{cid}")
        box = await quote_box(page.locator("main"), 1)
        await expect(box).to_contain_text("已被改动，以账本原文为准")
        r = await bot.send("liqiang", f"客户 {HOSPITAL}")
        assert "已被改动，以账本原文为准" in next(x for x in r[-1].splitlines() if "原话 #1" in x)
        await product.close()


async def test_going_back_and_recording_again_is_not_shown_as_a_correction(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    """返回 over a recorded quote, then a new recording: the ledger keeps the first with a `superseded`
    note (「#2」), which the board used to print as 销售更正：“#2”. Nothing in the ledger is rewritten."""
    tr = ScriptedTranscriber()
    async with board_bot(tmp_path, transcriber=tr, quotes=QuoteLedger()) as bot:
        await org(bot)
        cid = await up_to_the_quote(bot, tmp_path)
        await bot.voice("wanglei", scripted_note(tmp_path, tr, "first", LOCAL))
        r = await bot.send("wanglei", "返回")
        assert "刚才的回答是“我们颗是最头疼的是气泄包" in r[0] and "““" not in r[0]  # quoted once
        assert "刚才那条原话（#1）会保留在账本里" in r[0]
        second = "我们颗是最头疼的是气泄包的灭菌兼容性问题。"
        r = await bot.voice("wanglei", scripted_note(tmp_path, tr, "again", second), recognition=PLATFORM)
        assert any("上一条原话 #1 仍保留在账本里" in x for x in r)
        await bot.send("wanglei", f"更正 {FIXED}")
        await bot.send("wanglei", "合规风险")
        await bot.send("wanglei", "无")

        page = await sign_in(bot, desktop, "liqiang")
        await page.goto(base(bot) + f"/board/customers/{cid}")
        main = page.locator("main")
        await expect(main).not_to_contain_text("“#2”")
        await expect(main.locator(".quote", has_text="销售更正")).to_have_count(1)
        first = await quote_box(main, 1)
        await expect(first.locator("div").first).to_have_text(f"“{LOCAL}”（已由原话 #2 取代，本条保留）")
        await expect(first).not_to_contain_text("场景")  # the demand was filed with #2
        again = await quote_box(main, 2)
        await expect(again.locator("div").first).to_have_text(f"“{PLATFORM}”，销售更正（王磊）：“{FIXED}”")
        await expect(again).to_contain_text("场景：合规风险")

        async with bot.session() as s:
            notes = (await s.execute(select(QuoteAnnotation).order_by(QuoteAnnotation.seq))).scalars().all()
            quotes = (await s.execute(select(Quote).order_by(Quote.seq))).scalars().all()
            report = await verify_chain(s)
        assert [(n.quote_id, n.kind, n.text) for n in notes] == [
            (1, "superseded", "#2"),
            (2, "correction", FIXED),
        ]
        assert [q.transcript for q in quotes] == [LOCAL, second]
        assert report.ok, report


async def test_a_quote_of_unknown_length_shows_no_seconds(tmp_path: Path, desktop: BrowserContext) -> None:
    """A platform-only note whose length the file did not give is recorded with 0 s: the board used to
    print 「0 秒」 under it."""
    async with board_bot(tmp_path, quotes=QuoteLedger()) as bot:
        await org(bot)
        cid = await add_customer(bot, HOSPITAL, "wanglei")
        rep = await bot.user("wanglei")
        async with bot.session() as s:
            for seconds in (0.0, 3.8):
                await QuoteLedger().record(
                    s,
                    now=bot.clock.now(),
                    transcript=Transcript(
                        text=PLATFORM,
                        language="zh",
                        duration_s=seconds,
                        model_name="whisper-base",
                        model_version="test",
                        audio_path="data/audio/x.wav",
                        audio_sha256="0" * 64,
                        audio_format="wav",
                    ),
                    rep_id=rep.id,
                    customer_id=cid,
                    visit_id=None,
                )
        page = await sign_in(bot, desktop, "liqiang")
        await page.goto(base(bot) + f"/board/customers/{cid}")
        main = page.locator("main")
        unknown, known = await quote_box(main, 1), await quote_box(main, 2)
        await expect(unknown.locator(".muted")).to_contain_text("原话 #1 · 王磊")
        await expect(unknown.locator(".muted")).not_to_contain_text("秒")
        await expect(known.locator(".muted")).to_contain_text(" · 4 秒")
