"""Rendering helpers shared by the board's pages: the template context, the navigation, 404s."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from bot.web.board.security import csrf_token, viewer
from domain.board.scope import Scope
from domain.wording import duration
from storage.models import ReviewStatus, VisitStatus

if TYPE_CHECKING:
    from bot.app import Application

BASE = "/board"
BOT_KEY: web.AppKey[Application] = web.AppKey("board_bot", object)  # type: ignore[arg-type]

ROLE_LABELS = {"admin": "管理员", "manager": "主管", "rep": "销售", "product": "产品", "finance": "财务"}
REVIEW_STATUS = {
    ReviewStatus.DRAFT: "待填写",
    ReviewStatus.PENDING_REVIEW: "待审核",
    ReviewStatus.APPROVED: "已通过",
    ReviewStatus.COMMENTED: "已批注",
    ReviewStatus.WITHDRAWN: "已放弃",
}
VISIT_STATUS = {
    VisitStatus.PLANNED: "已计划",
    VisitStatus.APPROVED: "已批准",
    VisitStatus.DONE: "已完成",
    VisitStatus.CANCELLED: "已取消",
}


def bot_of(request: web.Request) -> Application:
    return request.app[BOT_KEY]


def navigation(scope: Scope) -> list[tuple[str, str, str]]:
    items: list[tuple[str, str, str]] = []
    if scope.sees_customers:
        items += [
            ("overview", "总览" if scope.sees_team else "我的数据", f"{BASE}/"),
            ("customers", "客户", f"{BASE}/customers"),
            ("reviews", "竞对审核" if scope.sees_team else "竞对分析", f"{BASE}/reviews"),
            ("trials", "试用反馈", f"{BASE}/trials"),
        ]
    if scope.sees_themes:
        items.append(("themes", "需求主题", f"{BASE}/themes"))
    if scope.sees_rebates:
        items.append(("rebates", "返利", f"{BASE}/rebates"))
    if scope.is_admin:
        items.append(("system", "系统", f"{BASE}/system"))
    return items


def home_of(scope: Scope) -> str:
    nav = navigation(scope)
    return nav[0][2] if nav else f"{BASE}/"


def role_label(scope: Scope) -> str:
    for role in ("admin", "manager", "rep", "product", "finance"):
        if role in scope.roles:
            return ROLE_LABELS[role]
    return ""


async def require(request: web.Request) -> Scope:
    """The viewer, or the sign-in page (401): nothing is visible without a session."""
    scope = await viewer(request, bot_of(request))
    if scope is None:
        raise message(
            request,
            "请先登录",
            ["登录已失效或尚未登录。"],
            status=401,
            login_help=True,
            auto_login=True,
        )
    return scope


def message(
    request: web.Request,
    title: str,
    lines: list[str],
    *,
    status: int = 200,
    login_help: bool = False,
    auto_login: bool = False,
) -> web.HTTPException:
    response = aiohttp_jinja2.render_template(
        "board/message.html",
        request,
        {
            "title": title,
            "lines": lines,
            "login_help": login_help,
            "auto_login": auto_login,
            "base": BASE,
            "nav": None,
        },
        status=status,
    )
    exc = web.HTTPException(text=response.text, content_type="text/html")
    exc.set_status(status)
    return exc


def not_found(request: web.Request) -> web.HTTPException:
    """The same answer for what does not exist and what the viewer may not see."""
    return message(request, "找不到页面", ["没有这个页面，或你没有查看权限。"], status=404)


async def page(
    request: web.Request, template: str, scope: Scope, page_key: str, title: str, **context: Any
) -> web.Response:
    session = await get_session(request)
    ctx = {
        "base": BASE,
        "scope": scope,
        "nav": navigation(scope),
        "page": page_key,
        "title": title,
        "role_label": role_label(scope),
        "csrf": csrf_token(session),
        "live": True,
        "charts": False,
        "flash": session.pop("flash", None),
        "review_status": REVIEW_STATUS,
        "visit_status": VISIT_STATUS,
        **context,
    }
    response = aiohttp_jinja2.render_template(f"board/{template}", request, ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


def filters(tz: ZoneInfo) -> dict[str, Any]:
    def dt(value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(tz).strftime("%m-%d %H:%M")

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.0f}%"

    def hours(value: float | None) -> str:
        if value is None or math.isinf(value):
            return "—"
        return duration(round(value * 60))  # 「5 小时 20 分钟」, 「3 天 5 小时」

    return {"dt": dt, "pct": pct, "hours": hours}
