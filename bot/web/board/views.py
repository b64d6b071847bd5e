"""The board's pages (GET): overview, customers, a customer, reviews, themes, trials, rebates, system."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.web.board.actions import MAX_SPLIT_WORD
from bot.web.board.render import BASE, bot_of, not_found, page, require
from domain import health as health_report
from domain import theme_book
from domain.board import customers as customer_list
from domain.board import details, overview, snapshots
from domain.board.customers import CustomerFilters
from domain.board.scope import Scope, reps_in_scope
from domain.numerals import row_id, typed_number
from domain.profiles import MIN_KEY_PERSONS
from domain.rebate_formula import INPUT_WORDS, in_words
from storage.models import STAGES, JobRunStatus, ReviewStatus

HISTORY_DAYS = 30
THEME_WEEKS = 8
INPUT_LABELS = dict(INPUT_WORDS)  # the same words finance reads in the chat summary


def _local_midnight(bot: Any, now: datetime) -> datetime:
    local = now.astimezone(bot.services.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _kpi(label: str, value: str, target: str, detail: str, healthy: bool | None) -> dict[str, Any]:
    return {"label": label, "value": value, "target": target, "detail": detail, "healthy": healthy}


def _history_key(scope: Scope) -> tuple[str, str]:
    if scope.is_admin:
        return "all", ""
    if "manager" in scope.roles:
        return "team", scope.user.team
    return "rep", str(scope.user.id)


async def overview_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_customers:
        raise web.HTTPFound(_home_for_others(scope))
    bot = bot_of(request)
    settings = bot.settings
    now = bot.clock.now()
    window = timedelta(days=settings.metrics.window_days)
    midnight = _local_midnight(bot, now)
    async with bot.db.read() as session:
        reps = await reps_in_scope(session, scope)
        ids = [r.id for r in reps]
        latest = await overview.latest_update_by_rep(session, ids, now)
        by_rep = await overview.compliance_by_rep(session, ids, now - window, now)
        m = await overview.team_metrics(session, reps, now, settings.metrics, latest=latest, by_rep=by_rep)
        rows = await overview.rep_rows(
            session,
            reps,
            now,
            settings.metrics,
            yesterday=(midnight - timedelta(days=1), midnight),
            latest=latest,
            by_rep=by_rep,
        )
        funnel = await overview.funnel(session, scope, overview.stage_labels(settings.forms.path))
        kind, key = _history_key(scope)
        history = await snapshots.history(
            session, kind, key, since=(midnight - timedelta(days=HISTORY_DAYS)).date()
        )
        stale_count = await customer_list.count(
            session, scope, CustomerFilters(stale=True), now, settings.alerts
        )
    target = settings.metrics
    change = m.conversion_change
    kpis = [
        _kpi(
            "动作规范率",
            _pct(m.compliance),
            f"≥ {target.compliance_target * 100:.0f}%",
            f"按时完成 {m.compliance_on_time} / 应完成 {m.compliance_due}",
            None if m.compliance is None else m.compliance >= target.compliance_target,
        ),
        _kpi(
            "线索转化率",
            _pct(m.conversion),
            f"环比提升 ≥ {target.conversion_lift_target * 100:.0f}%",
            f"{m.leads} 条有效线索" + ("" if change is None else f"，环比 {change * 100:+.0f}%"),
            None if change is None else change >= target.conversion_lift_target,
        ),
        _kpi(
            "过程数据鲜度",
            "—" if m.freshness_hours is None else f"{m.freshness_hours:.1f} 小时",
            f"≤ {target.freshness_target_hours:g} 小时",
            f"{m.reps} 位销售的中位数",
            None if m.freshness_hours is None else m.freshness_hours <= target.freshness_target_hours,
        ),
    ]
    history_chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["动作规范率", "鲜度（小时）"], "bottom": 0},
        "grid": {"left": 40, "right": 40, "top": 20, "bottom": 40},
        "xAxis": {"type": "category", "data": [s.day.strftime("%m-%d") for s in history]},
        "yAxis": [
            {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
            {"type": "value", "min": 0},
        ],
        "series": [
            {
                "name": "动作规范率",
                "type": "line",
                "connectNulls": True,
                "data": [None if s.compliance is None else round(s.compliance * 100, 1) for s in history],
                "markLine": {
                    "silent": True,
                    "symbol": ["none", "none"],
                    "label": {"formatter": "目标 {c}%", "position": "insideEndTop"},
                    "lineStyle": {"type": "dashed"},
                    "data": [{"yAxis": round(target.compliance_target * 100)}],
                },
            },
            {
                "name": "鲜度（小时）",
                "type": "line",
                "yAxisIndex": 1,
                "connectNulls": True,
                "data": [None if s.freshness_hours is None else round(s.freshness_hours, 1) for s in history],
            },
        ],
    }
    funnel_chart = {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 70, "right": 30, "top": 10, "bottom": 20},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "inverse": True, "data": [label for _, label, _ in funnel]},
        "series": [
            {
                "type": "bar",
                "barMaxWidth": 22,
                "label": {"show": True, "position": "right"},
                "data": [n for _, _, n in funnel],
            }
        ],
    }
    return await page(
        request,
        "overview.html",
        scope,
        "overview",
        "团队总览" if scope.sees_team else "我的数据",
        now=now,
        kpis=kpis,
        reps=rows if scope.sees_team else [],
        show_team=scope.is_admin,
        funnel=funnel,
        funnel_chart=funnel_chart,
        history=history,
        history_chart=history_chart,
        history_days=HISTORY_DAYS,
        compliance_target=target.compliance_target,
        stale_hours=settings.alerts.stale_hours,
        stale_count=stale_count,
        charts=True,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _home_for_others(scope: Scope) -> str:
    if scope.sees_themes:
        return f"{BASE}/themes"
    if scope.sees_rebates:
        return f"{BASE}/rebates"
    raise web.HTTPForbidden(text="你的账号还没有可查看的看板页面，请联系管理员。")


def parse_filters(query: Any) -> CustomerFilters:
    def flag(name: str) -> bool:
        return str(query.get(name, "")) in ("1", "on", "true")

    owner = str(query.get("owner", ""))
    stage = str(query.get("stage", ""))
    return CustomerFilters(
        stale=flag("stale"),
        zombie=flag("zombie"),
        incomplete=flag("incomplete"),
        owner_id=row_id(owner),
        stage=stage if stage in STAGES else "",
        region=str(query.get("region", ""))[:100],
        q=str(query.get("q", "")).strip()[:50],
    )


def filter_query(f: CustomerFilters) -> str:
    from urllib.parse import urlencode

    pairs: list[tuple[str, str]] = []
    for name in ("stale", "zombie", "incomplete"):
        if getattr(f, name):
            pairs.append((name, "1"))
    if f.owner_id is not None:
        pairs.append(("owner", str(f.owner_id)))
    for name in ("stage", "region", "q"):
        if getattr(f, name):
            pairs.append((name, getattr(f, name)))
    return urlencode(pairs)


async def customers_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_customers:
        raise not_found(request)
    bot = bot_of(request)
    now = bot.clock.now()
    f = parse_filters(request.query)
    raw_page = request.query.get("page", "1")
    number = max(1, typed_number(raw_page) or 1)
    alerts = bot.settings.alerts
    async with bot.db.read() as session:
        total = await customer_list.count(session, scope, f, now, alerts)
        pages = max(1, math.ceil(total / customer_list.PAGE_SIZE))
        number = min(number, pages)
        rows = await customer_list.page(session, scope, f, now, alerts, number=number)
        owners = await customer_list.owners(session, scope)
        regions = await customer_list.regions(session, scope)
    return await page(
        request,
        "customers.html",
        scope,
        "customers",
        "客户",
        f=f,
        rows=rows,
        total=total,
        pages=pages,
        number=number,
        owners=owners,
        regions=regions,
        stages=list(overview.stage_labels(bot_of(request).settings.forms.path).items()),
        stage_labels=overview.stage_labels(bot_of(request).settings.forms.path),
        stale_hours=alerts.stale_hours,
        min_contacts=MIN_KEY_PERSONS,
        query=filter_query(f),
    )


def _int(request: web.Request, name: str) -> int:
    number = row_id(request.match_info.get(name, ""))
    if number is None:
        raise not_found(request)
    return number


async def customer_page(request: web.Request) -> web.Response:
    scope = await require(request)
    customer_id = _int(request, "id")
    bot = bot_of(request)
    today = bot.clock.now().astimezone(bot.services.tz).date()
    async with bot.db.read() as session:
        p = await details.customer_page(
            session, scope, customer_id, today=today, stale_days=bot.settings.alerts.key_person_stale_days
        )
    if p is None:
        raise not_found(request)
    return await page(
        request,
        "customer.html",
        scope,
        "customers",
        p.view.customer.name,
        p=p,
        stage_labels=overview.stage_labels(bot_of(request).settings.forms.path),
    )


async def reviews_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_customers:
        raise not_found(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        items = await details.reviews(session, scope)
    pending = sum(1 for it in items if it.row.status == ReviewStatus.PENDING_REVIEW)
    title = "竞对审核" if scope.sees_team else "竞对分析"
    return await page(request, "reviews.html", scope, "reviews", title, items=items, pending=pending)


async def themes_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_themes:
        raise not_found(request)
    bot = bot_of(request)
    now = bot.clock.now()
    async with bot.db.read() as session:
        themes = await details.themes(session, scope, now, weeks=THEME_WEEKS)
    week_labels = [
        (now - timedelta(weeks=THEME_WEEKS - 1 - i)).astimezone(bot.services.tz).strftime("%m-%d")
        for i in range(THEME_WEEKS)
    ]
    top = themes[:8]
    chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 30, "right": 10, "top": 20, "bottom": 50},
        "xAxis": {"type": "category", "data": week_labels},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [{"name": t.label, "type": "bar", "stack": "all", "data": t.weekly} for t in top],
    }
    return await page(
        request,
        "themes.html",
        scope,
        "themes",
        "需求主题",
        themes=themes,
        weeks=THEME_WEEKS,
        chart=chart,
        charts=True,
    )


async def theme_page(request: web.Request) -> web.Response:
    scope = await require(request)
    key = request.match_info.get("key", "")[:60]
    bot = bot_of(request)
    async with bot.db.read() as session:
        items = await details.theme_demands(session, scope, key)
        targets = await details.merge_targets(session, scope, key) if items else []
    if items is None:
        raise not_found(request)
    label = items[0].demand.cluster_label or key
    customers = sorted({it.customer for it in items if it.customer})
    reps = sorted({it.rep for it in items if it.rep})
    return await page(
        request,
        "theme.html",
        scope,
        "themes",
        label,
        items=items,
        customers=customers,
        reps=reps,
        theme_key=key,
        targets=targets,
        max_label=theme_book.MAX_LABEL,
        max_word=MAX_SPLIT_WORD,
    )


async def trials_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_customers:
        raise not_found(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        rows = await details.trials(session, scope)
    return await page(request, "trials.html", scope, "trials", "试用反馈", rows=rows)


async def rebates_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.sees_rebates:
        raise not_found(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        periods = await details.rebate_periods(session, scope)
        period = request.query.get("period", "")
        if period not in periods:
            period = periods[0] if periods else ""
        rows = await details.rebates(session, scope, period) or []
    keys: list[str] = []
    for r, _ in rows:
        keys += [k for k in r.inputs if k not in keys]
    total = sum((r.amount for r, _ in rows), start=0)
    return await page(
        request,
        "rebates.html",
        scope,
        "rebates",
        f"返利 {period}" if period else "返利",
        periods=periods,
        period=period,
        rows=rows,
        input_keys=keys,
        input_labels=INPUT_LABELS,
        total=total,
        formula=in_words(bot.settings.rebates.formula),
    )


async def system_page(request: web.Request) -> web.Response:
    scope = await require(request)
    if not scope.is_admin:
        raise not_found(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        h = await health_report.snapshot(session, bot.clock.now(), limit=20)
    return await page(
        request,
        "system.html",
        scope,
        "system",
        "系统状态",
        h=h,
        job_status={
            JobRunStatus.DONE: "成功",
            JobRunStatus.FAILED: "失败",
            JobRunStatus.RUNNING: "运行中",
            JobRunStatus.SKIPPED: "已跳过",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", overview_page)
    app.router.add_get("/customers", customers_page)
    app.router.add_get("/customers/{id}", customer_page)
    app.router.add_get("/reviews", reviews_page)
    app.router.add_get("/themes", themes_page)
    app.router.add_get("/themes/{key}", theme_page)
    app.router.add_get("/trials", trials_page)
    app.router.add_get("/rebates", rebates_page)
    app.router.add_get("/system", system_page)
