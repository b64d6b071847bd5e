"""Signing in to the board: the `看板` one-time link, DingTalk 免登, WeCom OAuth2; and what is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, expect

from emulators.dingtalk.emulator import DingTalkEmulator
from emulators.wecom.server import WeComEmulator
from storage.models import AuditLog
from tests.web.board.kit import base, board_bot, link_for, org


async def test_the_link_opens_a_session_once(
    tmp_path: Path, desktop: BrowserContext, browser: Browser
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        link = await link_for(bot, "liqiang")
        page = await desktop.new_page()
        await page.goto(link)
        await expect(page.locator("h1")).to_contain_text("团队总览")
        await expect(page.locator("header")).to_contain_text("李强 · 主管")
        # Used once: the same link in another browser gets a clear refusal and no session.
        other = await browser.new_context()
        again = await other.new_page()
        response = await again.goto(link)
        assert response is not None and response.status == 403
        await expect(again.locator("main")).to_contain_text("这个登录链接已经用过了")
        response = await again.goto(base(bot) + "/board/customers")
        assert response is not None and response.status == 401
        await expect(again.locator("main")).to_contain_text("请先登录")
        await other.close()


async def test_an_expired_or_made_up_link_opens_nothing(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        link = await link_for(bot, "wanglei")
        bot.clock.advance(timedelta(minutes=11))
        page = await desktop.new_page()
        response = await page.goto(link)
        assert response is not None and response.status == 403
        await expect(page.locator("main")).to_contain_text("这个登录链接已过期")
        response = await page.goto(base(bot) + "/board/login?t=made-up-token")
        assert response is not None and response.status == 403
        await expect(page.locator("main")).to_contain_text("这个登录链接无效")
        response = await page.goto(base(bot) + "/board/")
        assert response is not None and response.status == 401


async def test_a_forged_cookie_is_not_a_session(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        page = await desktop.new_page()
        await page.goto(await link_for(bot, "admin"))
        cookies = await desktop.cookies()
        [cookie] = [c for c in cookies if c["name"] == "actionflow_board"]
        forged = cookie["value"][:-6] + ("AAAAAA" if not cookie["value"].endswith("AAAAAA") else "BBBBBB")
        await desktop.clear_cookies()
        await desktop.add_cookies([{**cookie, "value": forged}])
        response = await page.goto(base(bot) + "/board/system")
        assert response is not None and response.status == 401
        await expect(page.locator("main")).to_contain_text("请先登录")


async def test_dingtalk_micro_app_free_login(tmp_path: Path, desktop: BrowserContext) -> None:
    with DingTalkEmulator() as emu:
        creds = emu.credentials
        async with board_bot(
            tmp_path, dingtalk={**creds, "enabled": False}, board={"dingtalk_corp_id": "dingcorpemu"}
        ) as bot:
            await org(bot)
            async with bot.session() as session:
                user = await session.get(type(await bot.user("liqiang")), (await bot.user("liqiang")).id)
                assert user is not None
                user.dingtalk_staff_id = "staff-liqiang"
            # The DingTalk client: requestAuthCode hands the page a code the emulator issued for him.
            code = emu.state.issue_auth_code("staff-liqiang")
            await desktop.add_init_script(
                "window.dd = {ready: function (f) { f(); }, runtime: {permission: {requestAuthCode:"
                " function (o) { window.__corp = o.corpId; o.onSuccess({code: '" + code + "'}); }}}};"
            )
            page = await desktop.new_page()
            await page.goto(base(bot) + "/board/login/dingtalk?corpId=$CORPID$&next=/board/reviews")
            await expect(page.locator("h1")).to_contain_text("竞对审核")
            await expect(page.locator("header")).to_contain_text("李强")
            assert emu.state.calls.get("getuserinfo") == 1
            # The code was single use: posting it again signs nobody in.
            other = await desktop.browser.new_context()  # type: ignore[union-attr]
            await other.add_init_script(
                "window.dd = {ready: function (f) { f(); }, runtime: {permission: {requestAuthCode:"
                " function (o) { o.onSuccess({code: '" + code + "'}); }}}};"
            )
            page2 = await other.new_page()
            await page2.goto(base(bot) + "/board/login/dingtalk")
            await expect(page2.locator("main")).to_contain_text("钉钉授权已失效")
            await other.close()
            # Outside the DingTalk client, the bot's own copy of the JSAPI loads (no CDN) and the page
            # explains how to sign in instead.
            plain = await desktop.browser.new_context()  # type: ignore[union-attr]
            page3 = await plain.new_page()
            await page3.goto(base(bot) + "/board/login/dingtalk")
            kind = await page3.evaluate("typeof (window.dd && window.dd.runtime.permission.requestAuthCode)")
            assert kind == "function"
            await plain.close()


async def test_wecom_oauth_snsapi_base_login(tmp_path: Path, desktop: BrowserContext) -> None:
    with WeComEmulator() as emu:
        async with board_bot(
            tmp_path,
            wecom={
                "corp_id": emu.corp_id,
                "secret": emu.secret,
                "agent_id": emu.agent_id,
                "api_base": emu.base_url,
            },
            board={"wecom_oauth_base": emu.base_url},
        ) as bot:
            await org(bot)
            async with bot.session() as session:
                from storage.models import User

                user = await session.get(User, (await bot.user("zhaogang")).id)
                assert user is not None
                user.wecom_userid = "ZhaoGang"
            page = await desktop.new_page()
            emu.sign_in(None)
            await page.goto(base(bot) + "/board/login/wecom?next=/board/customers")
            await expect(page.locator("body")).to_contain_text("请在企业微信客户端打开")
            emu.sign_in("ZhaoGang")
            await page.goto(base(bot) + "/board/login/wecom?next=/board/customers")
            await expect(page.locator("h1")).to_contain_text("客户")
            await expect(page.locator("header")).to_contain_text("赵刚")
            authorize = [r for r in emu.requests if r.path == "oauth2/authorize"][-1]
            assert authorize.query["scope"] == "snsapi_base"
            assert authorize.query["redirect_uri"].endswith("/board/login/wecom/callback")
            # A callback with a state this browser never got is refused.
            emu.sign_in("ZhaoGang")
            response = await page.goto(base(bot) + "/board/login/wecom/callback?code=abc&state=forged")
            assert response is not None and response.status == 403
            await expect(page.locator("main")).to_contain_text("登录请求已失效")


async def test_the_link_is_audited_and_says_how_long_it_lasts(tmp_path: Path) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        replies = await bot.send("wanglei", "看板")
        assert "10 分钟内有效，只能用一次" in replies[-1]
        async with bot.session() as session:
            from sqlalchemy import select

            actions = (await session.execute(select(AuditLog.action))).scalars().all()
        assert "board.link" in actions
        assert "可以打开的页面" in (await bot.send("wanglei", "看板 不存在的页"))[-1]


async def test_a_session_ends_after_board_session_hours(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path, board={"session_hours": 12}) as bot:
        await org(bot)
        page = await desktop.new_page()
        await page.goto(await link_for(bot, "liqiang"))
        bot.clock.advance(timedelta(hours=11))
        response = await page.goto(base(bot) + "/board/customers")
        assert response is not None and response.status == 200
        bot.clock.advance(timedelta(hours=2))
        response = await page.goto(base(bot) + "/board/customers")
        assert response is not None and response.status == 401
        await expect(page.locator("main")).to_contain_text("登录已失效或尚未登录")


async def test_without_the_web_server_the_command_says_so(tmp_path: Path) -> None:
    from bot.testing import BotHarness

    async with BotHarness(tmp_path) as bot:  # web.listen is "" in tests unless a test asks for it
        await org(bot)
        replies = await bot.send("liqiang", "看板")
        assert replies[-1] == "看板还没有开启，请联系管理员开启。"
