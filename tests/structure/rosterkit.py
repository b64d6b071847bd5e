"""A feature module whose weekly job reads the roster: it notes who was active when it ran."""

from __future__ import annotations

from sqlalchemy import select

from domain.jobs import AppLike, RunContext
from handlers.registry import MODULES, Registry
from storage.models import User, UserStatus

ROSTERKIT_MODULES = (*MODULES, "tests.structure.rosterkit")
ROSTER_SEEN: list[tuple[str, list[str]]] = []  # (period, active names) per run; tests clear it


async def weekly_roster(app: AppLike, ctx: RunContext) -> None:
    async with app.db.read() as session:
        users = (await session.execute(select(User).where(User.status == UserStatus.ACTIVE))).scalars()
        ROSTER_SEEN.append((ctx.period, sorted(u.name for u in users)))


def setup(registry: Registry) -> None:
    registry.job("weekly-roster", "0 17 * * 5", weekly_roster)  # Fridays 17:00
