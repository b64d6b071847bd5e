"""Signing in to the board: the one-time link from `看板`, and signing out.

DingTalk 免登 and WeCom OAuth2 live in ``platform_login.py``; every path ends in
:func:`security.open_session` and a redirect to the page asked for."""

from __future__ import annotations

from aiohttp import web

from bot.web.board.render import BASE, bot_of, home_of, message
from bot.web.board.security import check_csrf, open_session, scope_for_user
from domain.board import links

PROBLEMS = {
    "unknown": "这个登录链接无效。",
    "used": "这个登录链接已经用过了，每个链接只能用一次。",
    "expired": "这个登录链接已过期。",
    "inactive": "你的账号已停用，无法登录看板。",
}


def safe_next(path: str) -> str:
    """Only paths on the board itself (no open redirect)."""
    if path.startswith(f"{BASE}/") and not path.startswith("//") and "\\" not in path and "\n" not in path:
        return path
    return ""


async def link_login(request: web.Request) -> web.Response:
    token = request.query.get("t", "")
    bot = bot_of(request)
    async with bot.db.transaction() as session:
        redeemed = await links.redeem(session, now=bot.clock.now(), token=token)
    if redeemed.user is None:
        lines = [PROBLEMS.get(redeemed.problem, PROBLEMS["unknown"])]
        if redeemed.problem != "inactive":
            minutes = bot.settings.board.link_minutes
            lines.append(f"请在与机器人的聊天中重新发送「看板」获取新链接（{minutes} 分钟内有效）。")
        raise message(request, "无法登录", lines, status=403)
    await open_session(request, redeemed.user, bot.clock.now())
    target = safe_next(redeemed.next_path) or home_of(await scope_for_user(bot, redeemed.user))
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    if not await check_csrf(request, str(form.get("csrf", ""))):
        raise message(request, "操作未执行", ["页面已过期，请刷新后再试。"], status=403)
    from aiohttp_session import get_session

    (await get_session(request)).invalidate()
    raise message(request, "已退出", ["你已退出看板。"], login_help=True)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", link_login)
    app.router.add_post("/logout", logout)
