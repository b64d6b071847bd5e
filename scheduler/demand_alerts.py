"""The demand-frequency scan: cluster new demands, alert product when a cluster is frequent.

A cluster with ≥ alerts.demand_threshold demands in the trailing alerts.demand_window_days is sent to
the product group once per ISO week (local time), and again each time its count doubles (×2, ×4, …)
against the week's first alert. ``alert_log`` rows (unique kind/key/period) make each alert happen once.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clustering import Clusterer, load_book
from domain.demand_scan import ClusterCount, cluster_counts, cluster_pending, cluster_samples
from scheduler.context import AppLike, Postman, postman, tz
from scheduler.service import RunContext
from storage.models import AlertLog
from storage.upsert import insert_ignore

SAMPLE_QUOTES = 5


async def _level(session: AsyncSession, key: str, week: str, count: int) -> str | None:
    """The AlertLog period to alert under now, or None when this week's alerts already cover ``count``."""
    rows = list(
        (
            await session.execute(
                select(AlertLog).where(
                    AlertLog.kind == "demand_frequency", AlertLog.key == key, AlertLog.period.like(f"{week}%")
                )
            )
        ).scalars()
    )
    if not rows:
        return week
    base = (
        min(int(r.payload.get("count", count)) for r in rows if r.period == week)
        if any(r.period == week for r in rows)
        else count
    )
    level = int(math.log2(count / base)) if count >= base else 0
    return f"{week}/x{2**level}" if level >= 1 else None


async def _send(
    post: Postman, session: AsyncSession, cluster: ClusterCount, app: AppLike, since_days: int
) -> None:
    now = post.now
    samples = await cluster_samples(session, cluster.key, now - timedelta(days=since_days), now)
    quotes = [f"「{s.text}」{s.notes}— {s.rep} · {s.customer}" for s in samples[:SAMPLE_QUOTES]]
    reps = Counter(s.rep for s in samples)
    customers = list(dict.fromkeys(s.customer for s in samples))
    body = [
        f"近 {since_days} 天出现 {cluster.count} 次（预警阈值 {app.settings.alerts.demand_threshold} 次）。",
        "客户原话：",
        *quotes,
        "涉及销售：" + "、".join(f"{name}（{n}）" for name, n in reps.most_common()),
        f"涉及客户（{len(customers)} 家）："
        + "、".join(customers[:15])
        + ("…" if len(customers) > 15 else ""),
    ]
    await post.to_route("product", f"📈 需求主题预警：{cluster.label}", "\n".join(body), cluster.key)


async def demand_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    clusterer = Clusterer(load_book(app.settings.themes.path))
    local = ctx.now.astimezone(tz(app))
    iso = local.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    async with app.db.transaction() as session:
        await cluster_pending(session, clusterer, ctx.now)
        counts = await cluster_counts(session, ctx.now - timedelta(days=alerts.demand_window_days), ctx.now)
        for cluster in counts:
            if cluster.count < alerts.demand_threshold:
                break
            period = await _level(session, cluster.key, week, cluster.count)
            if period is None:
                continue
            logged = await insert_ignore(
                session,
                AlertLog,
                {
                    "kind": "demand_frequency",
                    "key": cluster.key,
                    "period": period,
                    "target": alerts.routes.get("product", ""),
                    "payload": {"count": cluster.count, "label": cluster.label},
                    "created_at": ctx.now,
                },
            )
            if logged:
                post = postman(app, session, ctx.now, f"demand:{period}")
                await _send(post, session, cluster, app, alerts.demand_window_days)
