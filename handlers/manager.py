"""Chat commands of the manager loop: stale and zombie customers, the health metrics, demand themes,
and the rep's own 我的待跟进."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta

from domain import deadline_view, theme_book
from domain import digest_text as text
from domain.audience import manager_scopes, visible_to
from domain.clustering import Clusterer, load_book
from domain.demand_scan import (
    DemandSample,
    cluster_pending,
    cluster_samples,
    scenario_samples,
    scenario_span,
    scenarios_in_use,
)
from domain.metrics import compute
from domain.numerals import DIGIT, typed_number
from domain.staleness import (
    active_customer_counts,
    stale_counts,
    stale_customers,
    zombie_counts,
    zombie_customers,
)
from domain.themes import normalize_text
from domain.wording import days_ago, duration
from handlers.commands import Command
from handlers.context import Turn
from handlers.demand import scenario_options
from handlers.flowkit import stages_of
from handlers.registry import Registry

MANAGERS = frozenset({"manager", "admin"})
_HOURS = re.compile(r"^(\d+(?:\.\d+)?)\s*(小时|h|H|天|d|D)?$")


def parse_hours(args: str, default: float) -> float | None:
    """``72``, ``72小时``, ``3天`` → hours; empty → default; None when unreadable."""
    args = args.strip()
    if not args:
        return default
    m = _HOURS.match(args)
    if not m:
        return None
    value = float(m.group(1))
    return value * 24 if m.group(2) in ("天", "d", "D") else value


async def stale_by_rep(turn: Turn, args: str) -> None:
    alerts = turn.services.settings.alerts
    hours = parse_hours(args, alerts.stale_hours)
    if hours is None or hours <= 0:
        await turn.reply("用法：待跟进客户 [小时数]，例如「待跟进客户 72」或「待跟进客户 3天」。")
        return
    scopes = await manager_scopes(turn.session)
    owners = visible_to(scopes, turn.user)
    by_stage = alerts.stale_hours_by_stage if not args.strip() else {}
    most = alerts.digest_max_items
    totals = await stale_counts(turn.session, turn.now, hours, by_stage=by_stage, owner_ids=owners)
    items = await stale_customers(
        turn.session, turn.now, hours, by_stage=by_stage, owner_ids=owners, per_owner=most
    )
    grouped = defaultdict(list)
    for item in items:
        grouped[item.owner_id].append(item)
    order = sorted(totals, key=lambda o: (-totals[o], o or 0))
    groups = [(scopes.name(o), grouped[o], totals[o]) for o in order]
    await turn.reply(
        text.stale_by_rep(groups, hours, most, "超时未跟进客户（按销售）", stages_of(turn.services).labels)
    )


async def my_stale(turn: Turn, args: str) -> None:
    alerts = turn.services.settings.alerts
    hours = parse_hours(args, alerts.stale_hours)
    if hours is None or hours <= 0:
        await turn.reply("用法：我的待跟进 [小时数]，例如「我的待跟进 24」。")
        return
    by_stage = alerts.stale_hours_by_stage if not args.strip() else {}
    items = await stale_customers(turn.session, turn.now, hours, by_stage=by_stage, owner_ids={turn.user.id})
    reply = text.stale_for_rep(items, hours, 50, labels=stages_of(turn.services).labels)
    overdue = await deadline_view.overdue_for(turn.session, turn.user.id, turn.now)
    if overdue:
        about = await deadline_view.describe(turn.session, overdue)
        lines = [f"\n还有 {len(overdue)} 项逾期未完成："]
        for d in overdue[:10]:
            late = duration(int((turn.now - d.due_at).total_seconds() // 60))
            lines.append(f"· {deadline_view.what(d, about[d.id][0], turn.user.name)}，已逾期 {late}")
        reviews = any(d.kind == "competitor_review" for d in overdue)
        lines.append("回复「继续」接着填写" + ("，回复「审核」处理待审核的竞对分析。" if reviews else "。"))
        reply += "\n".join(lines)
    await turn.reply(reply)


async def zombies(turn: Turn, args: str) -> None:
    alerts = turn.services.settings.alerts
    scopes = await manager_scopes(turn.session)
    owners = visible_to(scopes, turn.user)
    most, days = alerts.digest_max_items, alerts.zombie_days
    totals = await zombie_counts(turn.session, turn.now, days, owner_ids=owners)
    items = await zombie_customers(turn.session, turn.now, days, owner_ids=owners, per_owner=most)
    counts = await active_customer_counts(turn.session, owner_ids=owners)
    grouped = defaultdict(list)
    for item in items:
        grouped[item.owner_id].append(item)
    groups = [
        (scopes.name(o), grouped.get(o, []), n, totals.get(o, 0))
        for o, n in sorted(counts.items(), key=lambda kv: (-totals.get(kv[0], 0), kv[0] or 0))
    ]
    if not counts:
        await turn.reply("你的团队还没有客户。")
        return
    await turn.reply(
        text.zombie_by_rep(groups, alerts.zombie_days, alerts.digest_max_items, "僵尸客户（按销售）")
    )


async def report_scope(turn: Turn) -> set[int] | None:
    """Whose data 健康指标 and 需求主题 cover (``security.manager_scope``): admins and the product
    team everyone; a manager their own team when the setting is ``team`` (the default)."""
    if turn.user.has_role("admin") or turn.user.has_role("product"):
        return None
    if turn.services.settings.security.manager_scope == "company":
        return None
    return visible_to(await manager_scopes(turn.session), turn.user)


def _scope_note(owners: set[int] | None) -> str:
    return "" if owners is None else "（你的团队）"


async def metrics(turn: Turn, args: str) -> None:
    owners = await report_scope(turn)
    result = await compute(turn.session, turn.now, turn.services.settings.metrics, owners)
    body = text.metrics_text(result, turn.services.tz)
    await turn.reply(f"{body}\n范围：你的团队" if owners is not None else body)


THEME_EDITORS = MANAGERS | {"product"}


async def _scenarios(turn: Turn) -> set[str]:
    """The scenarios 需求主题 lists quotes of: the demand form's options and any filed on a demand."""
    return {*scenario_options(turn.services.forms), *await scenarios_in_use(turn.session)}


LISTED = 15


async def _listed(turn: Turn, owners: set[int] | None = None) -> tuple[list[theme_book.ThemeRow], int]:
    """Cluster what is new, then the themes of the window in the order 需求主题 numbers them (counting
    the demands of ``owners``; None = everyone's)."""
    settings = turn.services.settings
    days = settings.alerts.demand_window_days
    await cluster_pending(turn.session, Clusterer(load_book(settings.themes.path)), turn.now)
    since = turn.now - timedelta(days=days)
    rows = await theme_book.themes_in_window(turn.session, since, turn.now, owners)
    return rows, days


async def _quotes(turn: Turn, title: str, samples: list[DemandSample], most: int = 10) -> None:
    lines = [title, *(f"· {s.line()}" for s in samples[:most])]
    if len(samples) > most:
        lines.append(f"……另有 {len(samples) - most} 条")
    await turn.reply("\n".join(lines))


SCENARIO_PAGE = 10  # quotes per page of 需求主题 <场景>


_PAGE = re.compile(rf"^(.*\S)\s+([{DIGIT}]+)$")


def _scenario_page(arg: str, scenarios: set[str]) -> tuple[str, int | None] | None:
    """``交付延迟`` → (交付延迟, 1), ``交付延迟 2`` → (交付延迟, 2), a page number longer than any page's →
    (交付延迟, None); None when ``arg`` names no scenario."""
    if arg in scenarios:
        return arg, 1
    m = _PAGE.match(arg)
    if m is None or m.group(1) not in scenarios:
        return None
    page = typed_number(m.group(2))
    return m.group(1), None if page is None else max(1, page)


def _day(when: datetime, turn: Turn) -> str:
    """「11月15日」 (with the year when it is not this year's), in the company's time zone."""
    local, today = when.astimezone(turn.services.tz), turn.now.astimezone(turn.services.tz)
    return (
        f"{local.year}年{local.month}月{local.day}日"
        if local.year != today.year
        else f"{local.month}月{local.day}日"
    )


async def _scenario_quotes(
    turn: Turn,
    scenario: str,
    page: int | None,
    *,
    owners: set[int] | None,
    days: int,
    rows: list[theme_book.ThemeRow],
) -> None:
    """需求主题 <场景> [页]: the quotes filed under a scenario, of any age, newest first, a page at a time;
    how many there are, how many of the trailing window, and how far back they reach. ``page`` None: a
    number longer than any page's. A theme of the same name (named before such names were refused) is
    pointed to in every answer."""
    named = [n for n, row in enumerate(rows, 1) if normalize_text(row.label) == normalize_text(scenario)]
    also = f"另有主题也叫「{scenario}」，请发「需求主题 {named[0]}」查看。" if named else ""
    team = "你的团队中" if owners is not None else ""
    whose = f"{team}，" if team else ""
    span = await scenario_span(turn.session, scenario, turn.now - timedelta(days=days), turn.now, owners)
    if span.oldest is None:
        await turn.reply("\n".join(filter(None, [f"{team}还没有场景为「{scenario}」的需求。", also])))
        return
    pages = -(-span.total // SCENARIO_PAGE)
    if page is None or page > pages:
        last = f"需求主题 {scenario} {pages}" if pages > 1 else f"需求主题 {scenario}"
        where = (
            f"只有 {pages} 页，请发「{last}」查看最后一页" if pages > 1 else f"只有 1 页，请发「{last}」查看"
        )
        await turn.reply(
            "\n".join(filter(None, [f"{whose}场景为「{scenario}」的需求共 {span.total} 条，{where}。", also]))
        )
        return
    first = (page - 1) * SCENARIO_PAGE
    samples = await scenario_samples(
        turn.session, scenario, turn.now, owners, limit=SCENARIO_PAGE, offset=first
    )
    local_days = (
        turn.now.astimezone(turn.services.tz).date() - span.oldest.astimezone(turn.services.tz).date()
    ).days
    lines = [
        f"{whose}场景为「{scenario}」的需求共 {span.total} 条（近 {days} 天 {span.recent} 条），"
        f"最早一条在 {_day(span.oldest, turn)}（{days_ago(local_days)}）。"
    ]
    if span.total > SCENARIO_PAGE:
        lines.append(f"第 {first + 1}–{first + len(samples)} 条，新的在前：")
    lines += [f"· {_day(s.created_at, turn)} {s.line(scenario=False)}" for s in samples]
    left = span.total - first - len(samples)
    if left > 0:
        lines.append(f"还有 {left} 条更早的，发「需求主题 {scenario} {page + 1}」看下一页。")
    if also:
        lines.append(also)
    await turn.reply("\n".join(lines))


async def themes(turn: Turn, args: str) -> None:
    """需求主题: the themes with counts; 需求主题 <场景> [页] or <主题/编号>: the quotes filed under it (a
    scenario's of any age, a theme's of the window). A team manager sees their team's demands
    (``security.manager_scope``). A scenario's name is looked up before a theme's; a theme cannot be
    given one (``theme_book.rename``)."""
    owners = await report_scope(turn)
    rows, days = await _listed(turn, owners)
    since = turn.now - timedelta(days=days)
    arg = args.strip()
    scenario = _scenario_page(arg, await _scenarios(turn)) if arg else None
    if scenario is not None:
        name, page = scenario
        await _scenario_quotes(turn, name, page, owners=owners, days=days, rows=rows)
        return
    if arg:
        try:
            theme = await theme_book.find(turn.session, arg, rows)
        except theme_book.ThemeError as exc:
            await turn.reply(str(exc))
            return
        samples = await cluster_samples(turn.session, theme.key, since, turn.now, owners)
        if not samples:
            await turn.reply(f"「{theme.label}」近 {days} 天没有新的需求。")
            return
        await _quotes(turn, f"「{theme.label}」近 {days} 天的需求（{len(samples)} 条）：", samples)
        return
    if not rows:
        await turn.reply(f"近 {days} 天{_scope_note(owners)}没有记录需求。")
        return
    threshold = turn.services.settings.alerts.demand_threshold
    lines = [f"近 {days} 天{_scope_note(owners)}的需求主题（满 {threshold} 次推送给产品部）："]
    for n, row in enumerate(rows[:LISTED], 1):
        samples = await cluster_samples(turn.session, row.key, since, turn.now, owners)
        found = "（自动发现，可改名保留）" if row.kind == "discovered" else ""
        hot = " 🔥" if row.count >= threshold else ""
        quote = f"\n  例：{samples[0].line()}" if samples else ""
        lines.append(f"{n}. {row.label}：{row.count} 次{hot}{found}{quote}")
    if len(rows) > LISTED:
        lines.append(f"……另有 {len(rows) - LISTED} 个主题")
    lines.append(
        "改名：主题改名 <编号> <新名称>；合并：主题合并 <编号> <并入编号>；"
        "拆分：主题拆分 <编号> <关键词> <新名称>。"
    )
    await turn.reply("\n".join(lines))


async def rename_theme(turn: Turn, args: str) -> None:
    parts = args.split(maxsplit=1)
    if len(parts) < 2:
        await turn.reply("用法：主题改名 <编号或名称> <新名称>，例如「主题改名 3 学术会议支持」。")
        return
    rows, _ = await _listed(turn, await report_scope(turn))  # numbered as 需求主题 showed them
    try:
        row = await theme_book.find(turn.session, parts[0], rows)
        old = row.label
        await theme_book.rename(
            turn.session,
            row,
            parts[1],
            actor_id=turn.user.id,
            now=turn.now,
            source=turn.source,
            scenarios=scenario_options(turn.services.forms),
        )
    except theme_book.ThemeError as exc:
        await turn.reply(str(exc))
        return
    await turn.reply(f"已把「{old}」改名为「{row.label}」。以后意思相近的需求会归到这个主题。")


async def merge_themes(turn: Turn, args: str) -> None:
    parts = args.split()
    if len(parts) != 2:
        await turn.reply("用法：主题合并 <被合并的主题> <保留的主题>（编号或名称），例如「主题合并 4 2」。")
        return
    rows, _ = await _listed(turn, await report_scope(turn))  # numbered as 需求主题 showed them
    try:
        source = await theme_book.find(turn.session, parts[0], rows)
        target = await theme_book.find(turn.session, parts[1], rows)
        moved = await theme_book.merge(
            turn.session, source, target, actor_id=turn.user.id, now=turn.now, event=turn.source
        )
    except theme_book.ThemeError as exc:
        await turn.reply(str(exc))
        return
    await turn.reply(f"已把「{source.label}」并入「{target.label}」，移过去 {moved} 条需求。")


async def split_theme(turn: Turn, args: str) -> None:
    parts = args.split(maxsplit=2)
    if len(parts) < 3:
        await turn.reply(
            "用法：主题拆分 <编号或名称> <关键词> <新主题名称>，例如「主题拆分 2 试用 试用申请」。"
        )
        return
    rows, _ = await _listed(turn, await report_scope(turn))  # numbered as 需求主题 showed them
    try:
        row = await theme_book.find(turn.session, parts[0], rows)
        new, moved = await theme_book.split(
            turn.session,
            row,
            parts[1],
            parts[2],
            actor_id=turn.user.id,
            now=turn.now,
            source=turn.source,
            scenarios=scenario_options(turn.services.forms),
        )
    except theme_book.ThemeError as exc:
        await turn.reply(str(exc))
        return
    await turn.reply(
        f"已从「{row.label}」拆出「{new.label}」（{moved} 条）。以后提到「{parts[1]}」的需求会归到新主题。"
    )


def setup(registry: Registry) -> None:
    registry.command(
        Command(
            ("待跟进客户", "超时客户"),
            stale_by_rep,
            "超时未更新的客户（按销售，可加小时数）",
            MANAGERS,
            group="管理",
        )
    )
    registry.command(
        Command(("僵尸客户",), zombies, "90 天无成交的客户及占比（按销售）", MANAGERS, group="管理")
    )
    registry.command(
        Command(("健康指标", "指标"), metrics, "动作规范率、线索转化率、过程数据鲜度", MANAGERS, group="管理")
    )
    registry.command(
        Command(
            ("需求主题",),
            themes,
            "近 7 天客户需求的主题和次数（可加场景或主题）",
            THEME_EDITORS,
            group="管理",
        )
    )
    registry.command(
        Command(
            ("主题改名",), rename_theme, "给需求主题改名（自动发现的会保留下来）", THEME_EDITORS, group="管理"
        )
    )
    registry.command(
        Command(("主题合并",), merge_themes, "把一个需求主题并入另一个", THEME_EDITORS, group="管理")
    )
    registry.command(
        Command(("主题拆分",), split_theme, "按关键词从主题里拆出新主题", THEME_EDITORS, group="管理")
    )
    registry.command(
        Command(("我的待跟进",), my_stale, "我名下超时未更新的客户", frozenset({"rep", "manager"}))
    )
