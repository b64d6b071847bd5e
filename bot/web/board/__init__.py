"""The supervisor's board (主管仪表盘): server-rendered pages under ``/board`` on the bot's web server.

``setup(app, bot)`` mounts a sub-application with its own session middleware (encrypted, signed,
expiring cookies), Jinja2 templates (bot/web/templates/board) and static files (bot/web/static, ECharts
included: nothing comes from a CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.web.board import actions, files, live, login, views
from bot.web.board.render import BASE, BOT_KEY, filters
from bot.web.board.security import COOKIE, max_age_s, session_key

if TYPE_CHECKING:
    from bot.app import Application

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def build_board(bot: Application) -> web.Application:
    board = web.Application()
    board[BOT_KEY] = bot
    settings = bot.settings
    secure = settings.web.public_url.startswith("https://")
    setup_sessions(
        board,
        EncryptedCookieStorage(
            session_key(settings),
            cookie_name=COOKIE,
            max_age=max_age_s(settings),
            path=BASE,
            httponly=True,
            secure=secure,
            samesite="Lax",
        ),
    )
    board.middlewares.append(security_headers)
    env = aiohttp_jinja2.setup(
        board,
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        filters=filters(ZoneInfo(settings.app.timezone)),
    )
    env.globals["static"] = lambda name: f"{BASE}/static/{name}"
    views.add_routes(board)
    files.add_routes(board)
    actions.add_routes(board)
    login.add_routes(board)
    live.add_routes(board, bot)
    from bot.web.board import platform_login

    platform_login.add_routes(board, bot)
    board.router.add_static("/static/", STATIC_DIR, append_version=False)
    return board


def setup(app: web.Application, bot: Application) -> None:
    app.add_subapp(BASE, build_board(bot))

    async def root(_request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{BASE}/")

    app.router.add_get("/", root)
