"""`看板`: a one-time link that opens the supervisor's board (bot/web/board) in a browser."""

from __future__ import annotations

from datetime import timedelta

from domain.board import links
from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry

# `看板 客户` opens that page after signing in.
PAGES = {
    "": "/board/",
    "总览": "/board/",
    "客户": "/board/customers",
    "待跟": "/board/customers?stale=1",
    "审核": "/board/reviews",
    "竞对": "/board/reviews",
    "主题": "/board/themes",
    "需求": "/board/themes",
    "试用": "/board/trials",
    "返利": "/board/rebates",
    "系统": "/board/system",
}
BASE_URL_KEY = "board_base_url"  # set by the application once the web server listens


def board_base_url(turn: Turn) -> str:
    """Where phones reach the web server: ``web.public_url``, else the address it listens on."""
    settings = turn.services.settings
    if settings.web.public_url:
        return settings.web.public_url.rstrip("/")
    return str(turn.services.extras.get(BASE_URL_KEY, "")).rstrip("/")


def board_line(turn: Turn, path: str, label: str) -> str:
    """A line linking a board page (signing in there happens through the platform), or "" when off."""
    base = board_base_url(turn) if turn.services.settings.web.listen else ""
    return f"\n{label}：{base}{path}" if base else ""


async def board_command(turn: Turn, args: str) -> None:
    base = board_base_url(turn)
    if not turn.services.settings.web.listen or not base:
        await turn.reply("看板还没有开启，请联系管理员开启。")
        return
    target = PAGES.get(args.strip())
    if target is None:
        await turn.reply("可以打开的页面：" + "、".join(k for k in PAGES if k) + "。例如「看板 客户」。")
        return
    minutes = turn.services.settings.board.link_minutes
    token = await links.issue(
        turn.session, now=turn.now, user_id=turn.user.id, ttl=timedelta(minutes=minutes), next_path=target
    )
    turn.audit("board.link", "user", turn.user.id)
    await turn.reply(
        f"销售看板登录链接（{minutes} 分钟内有效，只能用一次，请勿转发）：\n{base}/board/login?t={token}"
    )


def setup(registry: Registry) -> None:
    registry.command(
        Command(
            ("看板", "仪表盘"),
            board_command,
            "打开销售看板（网页）：看板 [客户/审核/主题/返利]",
            in_form=True,
        )
    )
