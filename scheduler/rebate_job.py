"""The nightly rebate run: import ERP orders, compute the quarter to date, tell finance."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain import orders as erp
from domain.rebate_formula import FormulaError, parse_formula
from domain.rebates import RebateRun, finance_summary, period_of, run_period
from domain.stages import load_stages
from scheduler.board_job import board_url
from scheduler.context import AppLike, postman, tz
from scheduler.service import RunContext

log = logging.getLogger(__name__)


async def load_orders(app: AppLike) -> tuple[list[erp.OrderRow], list[str]] | None:
    """Rows from the ERP query or the drop folder, with the problems of the rows that did not parse;
    None when neither is configured/present."""
    settings = app.settings.rebates
    url = settings.erp_url.get_secret_value()
    try:
        if url:
            if not settings.erp_query.strip():
                raise erp.OrderProblems(["rebates.erp_url is set but rebates.erp_query is empty"])
            return await erp.read_sql(url, settings.erp_query), []
        folder = Path(settings.orders_dir)
        if not await asyncio.to_thread(folder.is_dir):
            return None
        return await asyncio.to_thread(erp.read_folder, folder), []
    except erp.OrderProblems as exc:
        return exc.rows, exc.problems


async def import_into(
    app: AppLike,
    session: AsyncSession,
    rows: list[erp.OrderRow],
    now: datetime,
    *,
    problems: list[str] | None = None,
    source: str,
) -> erp.ImportResult:
    """Orders through the one import path (stored, and each signed one recorded as a deal)."""
    return await erp.import_orders(
        session,
        rows,
        now=now,
        stages=load_stages(app.settings.forms.path),
        tz=tz(app),
        source=source,
        problems=problems or [],
    )


async def import_and_run(
    app: AppLike,
    rows: list[erp.OrderRow] | None,
    period_key: str | None,
    now: datetime,
    *,
    problems: list[str] | None = None,
    source: str = "rebates",
) -> RebateRun:
    """All or nothing: orders are imported and the quarter recomputed in one transaction."""
    from domain.rebates import parse_period

    formula = parse_formula(app.settings.rebates.formula)
    period = (
        parse_period(period_key)
        if period_key
        else period_of((now.astimezone(tz(app)) - timedelta(days=1)).date())
    )
    async with app.db.transaction() as session:
        if rows or problems:
            await import_into(app, session, rows or [], now, problems=problems, source=source)
        return await run_period(session, period, formula, app.settings.rebates.quarterly_targets, now)


async def rebate_job(app: AppLike, ctx: RunContext) -> None:
    local = ctx.scheduled_for.astimezone(tz(app))
    period = period_of((local - timedelta(days=1)).date())
    try:
        loaded = await load_orders(app)
        if loaded is None:
            log.info("no ERP source configured or no orders folder; nightly rebates skipped")
            return
        rows, problems = loaded
        run = await import_and_run(
            app, rows, period.key, ctx.now, problems=problems, source=f"job:rebates:{ctx.period}"
        )
    except (erp.OrderProblems, FormulaError) as exc:
        problems = exc.problems if isinstance(exc, erp.OrderProblems) else [str(exc)]
        body = "\n".join(
            [
                "本次返利没有计算（订单数据未导入，已有结果不变），请修正后重新运行：",
                *(f"· {p}" for p in problems[:10]),
            ]
            + ([f"  …共 {len(problems)} 个问题"] if len(problems) > 10 else [])
        )
        async with app.db.transaction() as session:
            await postman(app, session, ctx.now, f"rebates:{ctx.period}").to_route(
                "finance", "❌ 返利计算失败", body
            )
        raise RuntimeError(f"rebate run for {period.key} failed: {problems[0]}") from exc
    as_of = f"{(local - timedelta(days=1)).date().isoformat()}"
    async with app.db.transaction() as session:
        post = postman(app, session, ctx.now, f"rebates:{ctx.period}")
        text = finance_summary(run, as_of, details_url=board_url(app, f"/board/rebates?period={period.key}"))
        await post.to_route("finance", text.splitlines()[0], "\n".join(text.splitlines()[1:]))
