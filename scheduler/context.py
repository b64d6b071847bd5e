"""How scheduled jobs address people and groups (what they need from the application is
``domain.jobs.AppLike``, imported here for the jobs in this package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import Markdown
from domain.jobs import AppLike
from domain.notify import Notifier
from storage.models import User, UserStatus


@dataclass
class Postman:
    """Writes one job run's messages into the outbox, in the run's transaction, with keys that make a
    re-run of the same period (a restart, a second instance) send nothing twice."""

    session: AsyncSession
    notifier: Notifier
    now: datetime
    routes: dict[str, str]
    prefix: str
    sent: int = 0

    @staticmethod
    def message(title: str, body: str) -> Markdown:
        return Markdown(title=title, text=f"{title}\n{body}" if body else title)

    async def to_user(self, user: User, title: str, body: str, key: str) -> bool:
        if user.status != UserStatus.ACTIVE:
            return False
        ok = await self.notifier.to_user(
            self.session,
            now=self.now,
            user=user,
            message=self.message(title, body),
            key=f"{self.prefix}:{key}",
        )
        self.sent += ok
        for hook in self.notifier.after_alert if ok else ():
            await hook(self.session, self.now, user)
        return ok

    async def to_route(self, audience: str, title: str, body: str, key: str = "") -> bool:
        group = self.routes.get(audience)
        if not group:
            return False
        if await self.notifier.address_group(self.session, group) is None:
            return False
        # True also when this run's message is already queued (a re-run of the period): the caller's
        # fallback (a direct message to each manager) is only for a route that cannot be reached.
        ok = await self.notifier.to_group(
            self.session,
            now=self.now,
            group=group,
            message=self.message(title, body),
            key=f"{self.prefix}:{audience}{':' + key if key else ''}",
        )
        self.sent += ok
        return True


def postman(app: AppLike, session: AsyncSession, now: datetime, prefix: str) -> Postman:
    return Postman(session, app.services.notifier, now, dict(app.settings.alerts.routes), prefix)


def tz(app: AppLike) -> ZoneInfo:
    return ZoneInfo(app.settings.app.timezone)
