"""Chat commands of the manager loop: stale and zombie customers, the health metrics, demand themes,
and the rep's own 我的待跟进."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

from domain import digest_text as text
from domain.audience import manager_scopes, visible_to
from domain.clustering import Clusterer, load_book
from domain.demand_scan import cluster_counts, cluster_pending, cluster_samples
from domain.metrics import compute
from domain.staleness import (
    active_customer_counts,
    stale_counts,
    stale_customers,
    zombie_counts,
    zombie_customers,
)
from handlers.commands import Command
from handlers.context import Turn
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
    await turn.reply(text.stale_by_rep(groups, hours, most, "超时未跟进客户（按销售）"))


async def my_stale(turn: Turn, args: str) -> None:
    alerts = turn.services.settings.alerts
    hours = parse_hours(args, alerts.stale_hours)
    if hours is None or hours <= 0:
        await turn.reply("用法：我的待跟进 [小时数]，例如「我的待跟进 24」。")
        return
    by_stage = alerts.stale_hours_by_stage if not args.strip() else {}
    items = await stale_customers(turn.session, turn.now, hours, by_stage=by_stage, owner_ids={turn.user.id})
    await turn.reply(text.stale_for_rep(items, hours, 50))


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


async def metrics(turn: Turn, args: str) -> None:
    result = await compute(turn.session, turn.now, turn.services.settings.metrics)
    await turn.reply(text.metrics_text(result, turn.services.tz))


async def themes(turn: Turn, args: str) -> None:
    settings = turn.services.settings
    days = settings.alerts.demand_window_days
    await cluster_pending(turn.session, Clusterer(load_book(settings.themes.path)), turn.now)
    since = turn.now - timedelta(days=days)
    counts = await cluster_counts(turn.session, since, turn.now)
    if not counts:
        await turn.reply(f"近 {days} 天没有记录需求。")
        return
    threshold = settings.alerts.demand_threshold
    lines = [f"近 {days} 天的需求主题（≥{threshold} 次会推送产品部）："]
    for c in counts[:15]:
        samples = await cluster_samples(turn.session, c.key, since, turn.now)
        quote = f"  例：「{samples[0].text}」{samples[0].notes}" if samples else ""
        lines.append(f"· {c.label}：{c.count} 次{' 🔥' if c.count >= threshold else ''}\n{quote}")
    await turn.reply("\n".join(lines))


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
        Command(("需求主题",), themes, "近 7 天客户需求的主题和次数", MANAGERS | {"product"}, group="管理")
    )
    registry.command(
        Command(("我的待跟进",), my_stale, "我名下超时未更新的客户", frozenset({"rep", "manager"}))
    )
