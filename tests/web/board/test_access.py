"""Access on the board is the chat's: a guessed or copied URL of something the viewer may not see
(another team's customer, photo, audio, PDF; a page for another role) answers 404."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from storage.models import Demand, RebateResult
from tests.web.board.kit import base, board_bot, customer, files_of, org, sign_in


async def status_of(page: Page, url: str) -> int:
    """The HTTP status of a GET made by the signed-in page (its cookie goes along)."""
    return int(await page.evaluate("async (u) => (await fetch(u)).status", url))


async def test_another_teams_customer_and_its_files_are_not_found(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        ours = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        theirs = await customer(bot, "宁波市中医院", "sunyue", hours_since_update=5)
        our_files = await files_of(bot, ours, "wanglei", tmp_path)
        their_files = await files_of(bot, theirs, "sunyue", tmp_path)

        page = await sign_in(bot, desktop, "liqiang")
        assert await status_of(page, f"/board/customers/{ours}") == 200
        for url in our_files.values():
            assert await status_of(page, url) == 200, url
        response = await page.goto(base(bot) + f"/board/customers/{theirs}")
        assert response is not None and response.status == 404
        await expect(page.locator("main")).to_contain_text("没有这个页面，或你没有查看权限")
        for url in their_files.values():
            assert await status_of(page, url) == 404, url
        assert await status_of(page, "/board/customers/999999") == 404  # unknown: the same answer
        assert await status_of(page, "/board/customers/abc") == 404
        # Odd digits (², Arabic-Indic, a run too long for any row) are not found, never a server error.
        for odd in ("%C2%B2", "%D9%A3", "1" * 40):
            assert await status_of(page, f"/board/customers/{odd}") == 404, odd
        for query in ("owner=%C2%B2", "page=%C2%B2", "page=" + "9" * 5000, "owner=" + "1" * 40):
            assert await status_of(page, f"/board/customers?{query}") == 200, query
        assert await status_of(page, "/board/system") == 404  # admins only
        assert await status_of(page, "/board/rebates") == 404  # finance
        await page.goto(base(bot) + "/board/customers")
        await expect(page.locator("main")).not_to_contain_text("宁波市中医院")

        # The customer page shows the photo, plays the audio and links the PDF.
        await page.goto(base(bot) + f"/board/customers/{ours}")
        await expect(page.locator(f"img[src='{our_files['photo']}']")).to_be_visible()
        await expect(page.locator(f"audio[src='{our_files['audio']}']")).to_be_attached()
        await expect(page.locator(f"a[href='{our_files['pdf']}']")).to_be_visible()
        pdf = await page.evaluate(
            "async (u) => (await fetch(u)).headers.get('content-type')", our_files["pdf"]
        )
        assert pdf == "application/pdf"


async def test_a_rep_sees_only_their_own(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        mine = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        colleague = await customer(bot, "浙大二院", "zhangting", hours_since_update=5)
        files = await files_of(bot, colleague, "zhangting", tmp_path)
        page = await sign_in(bot, desktop, "wanglei")
        await expect(page.locator("h1")).to_contain_text("我的数据")
        assert await status_of(page, f"/board/customers/{mine}") == 200
        assert await status_of(page, f"/board/customers/{colleague}") == 404
        for url in files.values():
            assert await status_of(page, url) == 404
        assert await status_of(page, "/board/themes") == 404


async def test_product_sees_themes_and_finance_rebates_only(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        cid = await customer(bot, "杭州市第一人民医院", "wanglei", hours_since_update=5)
        files = await files_of(bot, cid, "wanglei", tmp_path)
        quote_id = int(files["audio"].split("/")[3])
        rep = await bot.user("wanglei")
        async with bot.session() as session:
            session.add(
                Demand(
                    customer_id=cid,
                    rep_id=rep.id,
                    quote_id=quote_id,
                    text="希望设备能远程报修",
                    cluster_key="remote-service",
                    cluster_label="远程售后",
                    created_at=bot.clock.now(),
                )
            )
            session.add(
                RebateResult(
                    period="2026Q3",
                    customer_id=cid,
                    inputs={"contract_amount": "100000", "new_hospitals": "1"},
                    formula="contract_amount * 0.03 + new_hospitals * 5000",
                    formula_version="v1",
                    amount=Decimal("8000.00"),
                    computed_at=bot.clock.now(),
                )
            )
        page = await sign_in(bot, desktop, "chanpin")
        await expect(page.locator("h1")).to_contain_text("需求主题")
        await page.get_by_role("link", name="远程售后").click()
        await expect(page.locator("main")).to_contain_text("价格还要再谈")
        assert await status_of(page, files["audio"]) == 200  # the quote's audio, through the theme
        assert await status_of(page, files["photo"]) == 404
        assert await status_of(page, f"/board/customers/{cid}") == 404
        assert await status_of(page, "/board/rebates") == 404

        money = await desktop.browser.new_context()  # type: ignore[union-attr]
        page = await sign_in(bot, money, "caiwu")
        await expect(page.locator("h1")).to_contain_text("返利 2026Q3")
        await expect(page.locator("table")).to_contain_text("8,000.00")
        assert await status_of(page, "/board/rebates.xlsx?period=2026Q3") == 200
        assert await status_of(page, "/board/themes") == 404
        assert await status_of(page, files["audio"]) == 404
        await money.close()
