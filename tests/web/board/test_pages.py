"""The board's pages in a real browser: the 48-hour filter, live updates from chat, reviews from the
board reaching the rep in chat, the phone width, JavaScript off, CSRF, exports, the system page."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from openpyxl import load_workbook
from playwright.async_api import Browser, BrowserContext, expect
from sqlalchemy import select

from storage.models import AuditLog, CompetitorAnalysis, Demand, DemandCluster, JobRun, JobRunStatus
from tests.web.board.conftest import PHONE
from tests.web.board.kit import base, board_bot, customer, org, pending_review, sign_in


async def test_the_48_hour_filter_lists_only_stale_customers_most_stale_first(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=60)
        await customer(bot, "浙大二院", "zhangting", hours_since_update=10)
        await customer(bot, "温州医科大学附属医院", "wanglei", hours_since_update=120)
        await customer(bot, "宁波市中医院", "sunyue", hours_since_update=200)  # 二组: not his
        page = await sign_in(bot, desktop, "liqiang", "客户")
        rows = page.locator(".table-only tr[data-customer]")
        await expect(rows).to_have_count(3)
        await page.get_by_label("超 48 小时未更新").check()
        await page.get_by_role("button", name="筛选").click()
        assert "stale=1" in page.url
        await expect(rows).to_have_count(2)
        names = await page.locator(".table-only tr[data-customer] td:first-child").all_inner_texts()
        assert names == ["温州医科大学附属医院", "杭州市第一人民医院"]
        await expect(page.locator("h1")).to_contain_text("共 2 家")


async def test_an_approval_in_chat_shows_on_the_open_page_without_reload(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        rid = await pending_review(bot, cid, "wanglei", "liqiang")
        page = await sign_in(bot, desktop, "liqiang", "审核")
        card = page.locator(f"[data-review='{rid}']")
        await expect(card).to_have_attribute("data-status", "pending_review")
        await page.wait_for_function("document.body.getAttribute('data-live-open') === '1'")
        await page.evaluate("window.__sameDocument = true")
        started = time.monotonic()
        replies = await bot.send("liqiang", f"审核 {rid} 通过")
        assert f"已通过竞对分析 #{rid}" in replies[-1]
        await expect(card).to_have_attribute("data-status", "approved", timeout=2000)
        assert time.monotonic() - started < 2.0
        assert await page.evaluate("window.__sameDocument === true")  # not reloaded


async def test_an_approval_on_the_board_reaches_the_rep_in_chat(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        rid = await pending_review(bot, cid, "wanglei", "liqiang")
        page = await sign_in(bot, desktop, "liqiang", "审核")
        card = page.locator(f"[data-review='{rid}']")
        await card.get_by_label("批注意见").fill("请补充对方的售后条款")
        await card.get_by_role("button", name="批注").click()
        await expect(page.locator(".flash")).to_contain_text(f"已批注竞对分析 #{rid}，已通知销售")
        await bot.settle()
        told = bot.texts_to("wanglei")
        assert any(
            f"主管 李强 批注了你对「杭州市第一人民医院」的竞对分析 #{rid}：请补充对方的售后条款" in t
            for t in told
        )
        await card.get_by_role("button", name="通过").click()
        await expect(page.locator(".flash")).to_contain_text(f"已通过竞对分析 #{rid}")
        await expect(card).to_have_attribute("data-status", "approved")
        await bot.settle()
        assert any(
            f"主管 李强 已通过你对「杭州市第一人民医院」的竞对分析 #{rid}。" in t
            for t in bot.texts_to("wanglei")
        )
        async with bot.session() as session:
            row = await session.get(CompetitorAnalysis, rid)
            assert (
                row is not None and row.status == "approved" and row.review_comment == "请补充对方的售后条款"
            )
            audit = (
                (await session.execute(select(AuditLog).where(AuditLog.entity_type == "competitor_analysis")))
                .scalars()
                .all()
            )
        assert [a.action for a in audit] == ["competitor.comment", "competitor.approve"]
        assert all(a.source_event.startswith("board:review-") for a in audit)


async def test_an_action_without_the_csrf_token_changes_nothing(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        rid = await pending_review(bot, cid, "wanglei", "liqiang")
        page = await sign_in(bot, desktop, "liqiang", "审核")
        status = await page.evaluate(
            """async (rid) => {
                 const r = await fetch('/board/reviews/' + rid, {method: 'POST',
                   headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'action=approve'});
                 return [r.status, await r.text()];
               }""",
            rid,
        )
        assert status[0] == 403 and "什么都没有改动" in status[1]
        async with bot.session() as session:
            row = await session.get(CompetitorAnalysis, rid)
            assert row is not None and row.status == "pending_review"
        assert not any("竞对分析" in t for t in bot.texts_to("wanglei"))


async def test_phone_width_has_no_sideways_scrolling(tmp_path: Path, phone: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(
            bot, "温州医科大学附属医院（一个很长的客户名称）", "wanglei", hours_since_update=70
        )
        await pending_review(bot, cid, "wanglei", "liqiang")
        page = await sign_in(bot, phone, "liqiang")
        for path in ("/board/", "/board/customers?stale=1", f"/board/customers/{cid}", "/board/reviews"):
            await page.goto(base(bot) + path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
        # On a phone the customers are cards, not the wide table.
        await page.goto(base(bot) + "/board/customers")
        await expect(page.locator(".cards-only a.cust")).to_have_count(1)
        await expect(page.locator(".table-only")).to_be_hidden()
        await page.goto(base(bot) + "/board/")
        await expect(page.locator("nav.tabs")).to_contain_text("客户")
        await expect(page.locator("div.chart svg").first).to_be_visible()  # ECharts drew, from the bot itself


async def test_without_javascript_pages_read_and_actions_say_they_need_it(
    tmp_path: Path, browser: Browser
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=60)
        await pending_review(bot, cid, "wanglei", "liqiang")
        context = await browser.new_context(java_script_enabled=False)
        page = await sign_in(bot, context, "liqiang", "审核")
        await expect(page.locator(".needs-js")).to_contain_text("需要开启 JavaScript")
        await expect(page.get_by_role("button", name="通过")).to_be_disabled()
        await page.goto(base(bot) + "/board/")
        await expect(page.locator("noscript").first).to_be_attached()
        await expect(page.locator(".kpi").first).to_contain_text("动作规范率")
        await page.goto(base(bot) + "/board/customers?stale=1")
        await expect(page.locator(".table-only tr[data-customer]")).to_have_count(1)
        await context.close()


async def test_the_customer_export_is_a_real_workbook_with_the_filter_applied(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=60)
        await customer(bot, "浙大二院", "zhangting", hours_since_update=10)
        page = await sign_in(bot, desktop, "liqiang", "待跟")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="导出 Excel").click()
        download = await info.value
        path = await download.path()
        data = await asyncio.to_thread(Path(path).read_bytes)
        book = load_workbook(io.BytesIO(data), read_only=True)
        rows = list(book.active.iter_rows(values_only=True))
        assert rows[0][:3] == ("客户", "负责人", "阶段")
        assert [r[0] for r in rows[1:]] == ["杭州市第一人民医院"]
        assert download.suggested_filename.endswith(".xlsx")
        await asyncio.sleep(0)


async def test_product_renames_a_theme_on_the_board(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        rep = await bot.user("wanglei")
        async with bot.session() as session:
            session.add(
                DemandCluster(
                    key="d-remote",
                    label="远程 报修",
                    kind="discovered",
                    created_at=bot.clock.now(),
                    updated_at=bot.clock.now(),
                    examples=[],
                    keywords=[],
                )
            )
            for text in ("希望设备能远程报修", "坏了能不能远程看一下"):
                session.add(
                    Demand(
                        customer_id=cid,
                        rep_id=rep.id,
                        text=text,
                        cluster_key="d-remote",
                        cluster_label="远程 报修",
                        created_at=bot.clock.now(),
                    )
                )
        page = await sign_in(bot, desktop, "chanpin")
        await page.goto(base(bot) + "/board/themes/d-remote")
        # A scenario's name (the demand form's options) is refused: 需求主题 <场景> would hide the theme.
        await page.get_by_label("主题名称").fill("售后响应慢")
        await page.get_by_role("button", name="改名").click()
        await expect(page.locator(".flash")).to_contain_text(
            "「售后响应慢」已是业务场景的名称（发「需求主题 售后响应慢」会列出该场景的需求），主题不能与它重名"
        )
        await expect(page.locator("h1")).to_contain_text("远程 报修")
        await page.get_by_label("主题名称").fill("远程售后")
        await page.get_by_role("button", name="改名").click()
        await expect(page.locator(".flash")).to_have_text(
            "已改名为「远程售后」，以后意思相同的需求也会归到这个主题。"
        )
        await expect(page.locator("h1")).to_contain_text("远程售后")
        async with bot.session() as session:
            row = await session.get(DemandCluster, "d-remote")
            assert row is not None and row.label == "远程售后" and row.kind == "kept"
            audit = (
                (await session.execute(select(AuditLog).where(AuditLog.entity_type == "demand_theme")))
                .scalars()
                .all()
            )
        assert [a.source_event.startswith("board:theme-") for a in audit] == [True]
        # A rep may not rename themes: the action is not there for them.
        other = await sign_in(bot, desktop, "wanglei")
        response = await other.request.post(base(bot) + "/board/themes/d-remote/rename", form={"name": "x"})
        assert response.status == 404


async def test_the_system_page_names_each_jobs_last_result_in_chinese(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        now = bot.clock.now()
        async with bot.session() as session:
            for job, status, error in (
                ("friday-reminder", JobRunStatus.SKIPPED, ""),
                ("monday-reminder", JobRunStatus.FAILED, "abandoned, too late to rerun"),
            ):
                session.add(
                    JobRun(
                        job=job,
                        period="2026-11-20T17:00",
                        status=status,
                        holder="t",
                        started_at=now,
                        finished_at=now,
                        error=error,
                    )
                )
        page = await sign_in(bot, desktop, "admin")
        await page.goto(base(bot) + "/board/system")
        skipped = page.locator("tr", has_text="friday-reminder")
        await expect(skipped).to_contain_text("已跳过")
        await expect(skipped).not_to_contain_text("skipped")
        await expect(page.locator("tr", has_text="monday-reminder")).to_contain_text(
            "失败 · abandoned, too late to rerun"
        )
