"""Board sessions: encrypted, signed, expiring cookies (aiohttp-session + Fernet), CSRF tokens, and the
viewer of each request.

The key comes from ``board.session_secret``; when that is empty it is generated on first start and kept
in ``<data_dir>/board_session.key`` (mode 0600), so sessions survive a restart."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from cryptography.fernet import Fernet
from sqlalchemy import select

from config.settings import Settings
from domain.board.scope import Scope, scope_for
from storage.models import User, UserStatus

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

COOKIE = "actionflow_board"
KEY_FILE = "board_session.key"
SCOPE_KEY: web.RequestKey[Scope] = web.RequestKey("board_scope", Scope)


def session_key(settings: Settings) -> Fernet:
    configured = settings.board.session_secret.get_secret_value().strip()
    if configured:
        try:
            return Fernet(configured.encode())
        except ValueError as exc:
            raise RuntimeError(
                "board.session_secret must be 32 bytes in url-safe base64 (44 characters); "
                "leave it empty to have one generated"
            ) from exc
    path = Path(settings.app.data_dir) / KEY_FILE
    if path.exists():
        return Fernet(path.read_text().strip().encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.decode())
    log.info("board session key generated", extra={"path": str(path)})
    return Fernet(key)


def max_age_s(settings: Settings) -> int:
    return int(settings.board.session_hours * 3600)


async def open_session(request: web.Request, user: User, now: datetime) -> None:
    """A fresh session for ``user`` (a new cookie, so an old one cannot be fixed onto the login).
    It ends ``board.session_hours`` after ``now`` by the bot's clock; the cookie's own encrypted
    timestamp (Fernet TTL, wall clock) ends it too."""
    session = await new_session(request)
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(24)
    session["at"] = int(now.timestamp())


def csrf_token(session: Session) -> str:
    return str(session.get("csrf", ""))


async def check_csrf(request: web.Request, form_token: str) -> bool:
    session = await get_session(request)
    expected = csrf_token(session)
    return bool(expected) and bool(form_token) and hmac.compare_digest(expected, form_token)


async def viewer(request: web.Request, bot: Application) -> Scope | None:
    """The signed-in viewer's scope, or None (no session, expired, or the person is no longer active)."""
    cached = request.get(SCOPE_KEY)
    if cached is not None:
        return cached
    session = await get_session(request)
    uid = session.get("uid")
    started = session.get("at")
    if not isinstance(uid, int) or not isinstance(started, int):
        return None
    if bot.clock.now().timestamp() - started > max_age_s(bot.settings):
        session.invalidate()
        return None
    async with bot.db.read() as db:
        user = (await db.execute(select(User).where(User.id == uid))).scalar_one_or_none()
        if user is None or user.status != UserStatus.ACTIVE:
            session.invalidate()
            return None
        scope = await scope_for(db, user)
    request[SCOPE_KEY] = scope
    return scope


async def scope_for_user(bot: Application, user: User) -> Scope:
    async with bot.db.read() as db:
        fresh = (await db.execute(select(User).where(User.id == user.id))).scalar_one()
        return await scope_for(db, fresh)
