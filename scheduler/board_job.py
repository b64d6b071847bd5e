"""The board's daily snapshot of the health metrics (per team and rep), and links to board pages for
alerts and digests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.board import snapshots
from scheduler.context import AppLike
from scheduler.service import RunContext

SNAPSHOT_CRON = "5 0 * * *"  # 00:05 local: the day that just ended


def day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day before ``now``."""
    end = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


async def snapshot_job(app: AppLike, ctx: RunContext) -> None:
    start, end = day_bounds(ctx.scheduled_for, ZoneInfo(app.settings.app.timezone))
    async with app.db.transaction() as session:
        await snapshots.write_day(
            session, day=start.date(), day_start=start, as_of=end, settings=app.settings.metrics
        )


def board_url(app: AppLike, path: str) -> str | None:
    """The board page at ``path`` (e.g. ``/board/customers?stale=1``), or None when the board is off."""
    settings = app.settings
    if not settings.web.listen:
        return None
    web = getattr(app, "web", None)
    base = settings.web.public_url.rstrip("/") or str(getattr(web, "base_url", "") or "")
    return f"{base}{path}" if base else None


def with_board_link(app: AppLike, body: str, path: str) -> str:
    url = board_url(app, path)
    return f"{body}\n\n在看板中查看：{url}" if url else body
