"""Actions on the board (POST, CSRF-checked): approve or comment a competitor analysis; rename a
demand theme (the theme book's own rename, audited as in chat's 主题改名).

They run the chat's own handler code (handlers/competitor.py) in one transaction, as a turn whose
event comes from the board: the same domain function, the same audit entry (source ``board:<id>``),
and the same message to the rep in chat. The replies meant for the reviewer become the page's notice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp_session import get_session

from bot.web.board.render import BASE, bot_of, message, not_found, require
from bot.web.board.security import check_csrf
from core.events import TextEvent
from core.messages import Message, render_text
from domain import theme_book
from domain.board import details
from handlers import competitor
from handlers.context import Turn
from storage.models import DemandCluster, User

MAX_COMMENT = 2000


@dataclass
class BoardTurn(Turn):
    """A turn started on the board: replies are collected for the page instead of sent to a chat."""

    replies: list[str] = field(default_factory=list)

    async def reply(self, message: Message | str) -> None:
        self.replies.append(message if isinstance(message, str) else render_text(message))


def refused(request: web.Request) -> web.HTTPException:
    return message(
        request,
        "操作未执行",
        ["页面已过期或请求不完整，什么都没有改动。请刷新页面后再试。"],
        status=403,
    )


async def review(request: web.Request) -> web.Response:
    scope = await require(request)
    raw = request.match_info.get("id", "")
    if not raw.isdigit() or len(raw) > 9:
        raise not_found(request)
    form = await request.post()
    if not await check_csrf(request, str(form.get("csrf", ""))):
        raise refused(request)
    action = str(form.get("action", ""))
    comment = str(form.get("comment", "")).strip()[:MAX_COMMENT]
    if action not in ("approve", "comment"):
        raise refused(request)
    bot = bot_of(request)
    flash = ""
    async with bot.db.transaction() as session:
        row = await details.review_row(session, scope, int(raw))
        if row is None:
            raise not_found(request)
        user = await session.get(User, scope.user.id)
        if user is None:
            raise not_found(request)
        event = TextEvent(
            channel="board",
            event_id=f"review-{row.id}-{secrets.token_hex(6)}",
            sender_id=str(user.id),
            sender_name=user.name,
            text=f"审核 {row.id} 通过" if action == "approve" else f"批注 {row.id} {comment}",
        )
        turn = BoardTurn(session=session, user=user, event=event, services=bot.services)
        if action == "comment" and not comment:
            flash = "请先填写批注意见。"
        elif await competitor.load_for_review(turn, str(row.id)) is not None:
            # Approving takes no comment, as in chat (「审核 12 通过」).
            approve = action == "approve"
            await competitor.decide(turn, row, approve=approve, comment="" if approve else comment)
        flash = flash or "\n".join(turn.replies)
    bot.outbox.wake()
    session_data = await get_session(request)
    session_data["flash"] = flash
    raise web.HTTPSeeOther(f"{BASE}/reviews#review-{row.id}")


async def rename_theme(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_themes:
        raise not_found(request)
    key = request.match_info.get("key", "")[:60]
    form = await request.post()
    if not await check_csrf(request, str(form.get("csrf", ""))):
        raise refused(request)
    bot = bot_of(request)
    async with bot.db.transaction() as session:
        row = await session.get(DemandCluster, key)
        if row is None or row.merged_into:
            raise not_found(request)
        try:
            await theme_book.rename(
                session,
                row,
                str(form.get("name", "")),
                actor_id=scope.user.id,
                now=bot.clock.now(),
                source=f"board:theme-{secrets.token_hex(6)}",
            )
            flash = f"已改名为「{row.label}」，之后意思相同的需求也会归到这个主题。"
        except theme_book.ThemeError as exc:
            flash = str(exc)
    session_data = await get_session(request)
    session_data["flash"] = flash
    raise web.HTTPSeeOther(f"{BASE}/themes/{key}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/reviews/{id}", review)
    app.router.add_post("/themes/{key}/rename", rename_theme)
