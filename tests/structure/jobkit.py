"""A feature module that brings a periodic job, declared the way a feature declares one."""

from __future__ import annotations

from sqlalchemy import select

from core.messages import Text
from domain.jobs import AppLike, RunContext
from handlers.registry import MODULES, Registry
from storage.models import User

JOBKIT_MODULES = (*MODULES, "tests.structure.jobkit")
REMINDER = "周五了，记得在下班前填写本周周报。"


async def weekly_report_reminder(app: AppLike, ctx: RunContext) -> None:
    async with app.db.transaction() as session:
        users = (await session.execute(select(User).where(User.status == "active"))).scalars()
        for user in users:
            await app.services.notifier.to_user(
                session,
                now=ctx.now,
                user=user,
                message=Text(text=REMINDER),
                key=f"weekly:{ctx.period}:{user.id}",
            )


def setup(registry: Registry) -> None:
    registry.job("weekly-report-reminder", "0 17 * * 5", weekly_report_reminder)  # Fridays 17:00
