"""The demand-frequency scan: cluster new demands, alert product when a theme recurs.

A theme is alerted when it has ≥ alerts.demand_threshold demands in the trailing
alerts.demand_window_days **that no earlier alert counted**. The demands an alert counts are stamped
(``demands.alerted_at``) in the same transaction as the alert is queued, so the same quotes are never
alerted twice: a theme that keeps recurring is alerted again once five new quotes have come in.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.clustering import Clusterer, load_book
from domain.demand_scan import (
    ClusterCount,
    DemandSample,
    cluster_pending,
    cluster_samples,
    mark_alerted,
    unalerted_counts,
)
from scheduler.context import AppLike, Postman, postman
from scheduler.service import RunContext
from storage.models import AlertLog
from storage.upsert import insert_ignore

SAMPLE_QUOTES = 5


def alert_body(cluster: ClusterCount, samples: list[DemandSample], days: int, threshold: int) -> str:
    reps = Counter(s.rep for s in samples)
    customers = list(dict.fromkeys(s.customer for s in samples))
    more = f"（另有 {len(samples) - SAMPLE_QUOTES} 条）" if len(samples) > SAMPLE_QUOTES else ""
    return "\n".join(
        [
            f"近 {days} 天新出现 {len(samples)} 次（预警阈值 {threshold} 次，之前预警过的不重复计算）。",
            "客户原话：",
            *[s.line() for s in samples[:SAMPLE_QUOTES]],
            *([more] if more else []),
            "涉及销售：" + "、".join(f"{name}（{n}）" for name, n in reps.most_common()),
            f"涉及客户（{len(customers)} 家）："
            + "、".join(customers[:15])
            + ("…" if len(customers) > 15 else ""),
        ]
    )


async def _send(post: Postman, session: AsyncSession, cluster: ClusterCount, app: AppLike) -> None:
    alerts = app.settings.alerts
    days = alerts.demand_window_days
    samples = await cluster_samples(
        session, cluster.key, post.now - timedelta(days=days), post.now, unalerted=True
    )
    if len(samples) < alerts.demand_threshold:  # pragma: no cover - counted in the same transaction
        return
    ids = [s.id for s in samples]
    logged = await insert_ignore(
        session,
        AlertLog,
        {
            "kind": "demand_frequency",
            "key": cluster.key,
            "period": f"#{max(ids)}",  # the newest demand counted: one alert per batch of new quotes
            "target": alerts.routes.get("product", ""),
            "payload": {"count": len(ids), "label": cluster.label, "demand_ids": ids},
            "created_at": post.now,
        },
    )
    if not logged:  # pragma: no cover - the demands are stamped with the alert, so no batch repeats
        return
    await mark_alerted(session, ids, post.now)
    body = alert_body(cluster, samples, days, alerts.demand_threshold)
    await post.to_route("product", f"📈 需求主题预警：{cluster.label}", body, cluster.key)


async def demand_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    clusterer = Clusterer(load_book(app.settings.themes.path))
    async with app.db.transaction() as session:
        await cluster_pending(session, clusterer, ctx.now)
        counts = await unalerted_counts(session, ctx.now - timedelta(days=alerts.demand_window_days), ctx.now)
        for cluster in counts:
            if cluster.count < alerts.demand_threshold:
                break
            post = postman(app, session, ctx.now, f"demand:{ctx.now:%Y%m%d%H%M}")
            await _send(post, session, cluster, app)
