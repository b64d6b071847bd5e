"""A feature module whose periodic job has a crontab that can never run (minute 61)."""

from __future__ import annotations

from domain.jobs import AppLike, RunContext
from handlers.registry import Registry


async def hourly_check(app: AppLike, ctx: RunContext) -> None:
    raise AssertionError("never scheduled: the start fails first")


def setup(registry: Registry) -> None:
    registry.job("hourly-check", "61 * * * *", hourly_check)
