"""Actions on the board (POST, CSRF-checked): approve or comment a competitor analysis; rename, merge
or split a demand theme (the theme book's own functions, audited as in chat's 主题改名/合并/拆分).

They run the chat's own handler code (handlers/competitor.py) in one transaction, as a turn whose
event comes from the board: the same domain function, the same audit entry (source ``board:<id>``),
and the same message to the rep in chat. The replies meant for the reviewer become the page's notice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import NoReturn

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.board.render import BASE, bot_of, message, not_found, require
from bot.web.board.security import check_csrf
from core.events import TextEvent
from core.messages import Message, render_text
from domain import theme_book
from domain.board import details
from domain.board.scope import Scope
from domain.numerals import row_id
from handlers import competitor
from handlers.context import Turn
from handlers.demand import scenario_options
from storage.models import DemandCluster, User

MAX_COMMENT = 2000
# The theme book puts no limit on a split word (MAX_LABEL is for names); a word to find in quotes is
# short, and the page's field allows this many characters. A longer one is refused, not cut: a cut word
# would split by a different (shorter) word than the one asked for.
MAX_SPLIT_WORD = 20


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
    review_id = row_id(request.match_info.get("id", ""))
    if review_id is None:
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
        row = await details.review_row(session, scope, review_id)
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


async def _theme_form(request: web.Request) -> tuple[Scope, str, dict[str, str]]:
    """The checks every theme edit makes: who may edit themes, the theme key, the CSRF token.
    Returns the viewer's scope, the theme key and the form's text fields."""
    scope = await require(request)
    if not scope.sees_themes:
        raise not_found(request)
    key = request.match_info.get("key", "")[:60]
    form = await request.post()
    if not await check_csrf(request, str(form.get("csrf", ""))):
        raise refused(request)
    return scope, key, {name: value for name, value in form.items() if isinstance(value, str)}


async def _live_theme(request: web.Request, session: AsyncSession, key: str) -> DemandCluster:
    row = await session.get(DemandCluster, key)
    if row is None or row.merged_into:
        raise not_found(request)
    return row


async def _to_theme(request: web.Request, key: str, flash: str) -> NoReturn:
    session_data = await get_session(request)
    session_data["flash"] = flash
    raise web.HTTPSeeOther(f"{BASE}/themes/{key}")


def _event() -> str:
    return f"board:theme-{secrets.token_hex(6)}"


async def rename_theme(request: web.Request) -> web.Response:
    scope, key, form = await _theme_form(request)
    bot = bot_of(request)
    async with bot.db.transaction() as session:
        row = await _live_theme(request, session, key)
        try:
            await theme_book.rename(
                session,
                row,
                str(form.get("name", "")),
                actor_id=scope.user.id,
                now=bot.clock.now(),
                source=_event(),
                scenarios=scenario_options(bot.services.forms),
            )
            flash = f"已改名为「{row.label}」，以后意思相同的需求也会归到这个主题。"
        except theme_book.ThemeError as exc:
            flash = str(exc)
    await _to_theme(request, key, flash)


async def merge_theme(request: web.Request) -> web.Response:
    """合并到…: every quote of this theme moves into the chosen one (as 主题合并 in chat)."""
    scope, key, form = await _theme_form(request)
    target_key = str(form.get("target", ""))[:60]
    bot = bot_of(request)
    try:
        # A refused merge raises out of the transaction: it rolls back, nothing changes.
        async with bot.db.transaction() as session:
            row = await _live_theme(request, session, key)
            target = await session.get(DemandCluster, target_key) if target_key else None
            if target is None or target.merged_into:
                raise theme_book.ThemeError("请先选择要并入的主题。如果选的主题刚被合并，请刷新页面再选。")
            moved = await theme_book.merge(
                session, row, target, actor_id=scope.user.id, now=bot.clock.now(), event=_event()
            )
            flash = (
                f"已把「{row.label}」并入「{target.label}」，移过来 {moved} 条需求。"
                f"以后原属「{row.label}」的需求也会归到这里。"
            )
    except theme_book.ThemeError as exc:
        await _to_theme(request, key, str(exc))
    await _to_theme(request, target.key, flash)


async def split_theme(request: web.Request) -> web.Response:
    """拆分: the quotes that mention a word move to a new theme (as 主题拆分 in chat)."""
    scope, key, form = await _theme_form(request)
    word = " ".join(str(form.get("word", "")).split())
    name = str(form.get("name", ""))[:200]
    bot = bot_of(request)
    try:
        async with bot.db.transaction() as session:
            row = await _live_theme(request, session, key)
            if not word:
                raise theme_book.ThemeError("请填写用来拆分的关键词。")
            if len(word) > MAX_SPLIT_WORD:
                raise theme_book.ThemeError(f"关键词太长了，请控制在 {MAX_SPLIT_WORD} 个字以内。")
            new, moved = await theme_book.split(
                session,
                row,
                word,
                name,
                actor_id=scope.user.id,
                now=bot.clock.now(),
                source=_event(),
                scenarios=scenario_options(bot.services.forms),
            )
            flash = (
                f"已从「{row.label}」拆出「{new.label}」，移过来 {moved} 条需求。"
                f"以后提到「{word}」的需求也会归到这里。"
            )
    except theme_book.ThemeError as exc:
        await _to_theme(request, key, str(exc))
    await _to_theme(request, new.key, flash)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/reviews/{id}", review)
    app.router.add_post("/themes/{key}/rename", rename_theme)
    app.router.add_post("/themes/{key}/merge", merge_theme)
    app.router.add_post("/themes/{key}/split", split_theme)
