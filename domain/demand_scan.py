"""Demands in the database: assign clusters to new rows, count clusters in a trailing window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clustering import Clusterer, DemandItem, KnownCluster
from domain.quotes import load_views, quote_notes, shown_text
from storage.models import Customer, Demand, DemandCluster, User
from storage.upsert import insert_ignore

KNOWN_CLUSTER_DAYS = 180  # discovered clusters whose members are this recent can be joined
KNOWN_MEMBERS = 20  # member texts per known cluster used to compare


@dataclass(frozen=True)
class ClusterCount:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class DemandSample:
    id: int
    text: str
    rep: str
    customer: str
    created_at: datetime
    # What follows the quote: 已被改动 / 销售更正 / 转写可能不准 from the ledger ("" when nothing).
    notes: str = ""


async def _known(session: AsyncSession, now: datetime) -> list[KnownCluster]:
    since = now - timedelta(days=KNOWN_CLUSTER_DAYS)
    stmt = (
        select(Demand.cluster_key, Demand.cluster_label, Demand.text)
        .where(Demand.cluster_key.like("d-%"), Demand.created_at >= since)
        .order_by(Demand.id.desc())
    )
    texts: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}
    for key, label, text in (await session.execute(stmt)).all():
        labels[key] = label
        if len(texts[key]) < KNOWN_MEMBERS:
            texts[key].append(text)
    return [KnownCluster(k, labels[k], tuple(v)) for k, v in texts.items()]


async def cluster_pending(session: AsyncSession, clusterer: Clusterer, now: datetime) -> int:
    """Give every demand without a cluster one (theme, known discovered cluster, or a new one)."""
    rows = list(
        (
            await session.execute(
                select(Demand.id, Demand.text, Demand.scenario).where(Demand.cluster_key == "")
            )
        ).all()
    )
    if not rows:
        return 0
    items = [DemandItem(str(i), text or "", scenario or "") for i, text, scenario in rows]
    known = await _known(session, now)
    assignments = clusterer.cluster(items, known=known)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (demand_id, _, _), a in zip(rows, assignments, strict=True):
        by_key[(a.key, a.label)].append(demand_id)
        if a.kind == "discovered":
            await insert_ignore(
                session,
                DemandCluster,
                {"key": a.key, "label": a.label, "kind": "discovered", "created_at": now},
            )
    for (key, label), ids in by_key.items():
        await session.execute(
            update(Demand).where(Demand.id.in_(ids)).values(cluster_key=key, cluster_label=label[:100])
        )
    return len(rows)


async def cluster_counts(session: AsyncSession, since: datetime, until: datetime) -> list[ClusterCount]:
    """Demands per cluster created in [since, until), most frequent first."""
    stmt = (
        select(Demand.cluster_key, func.max(Demand.cluster_label), func.count())
        .where(Demand.created_at >= since, Demand.created_at < until, Demand.cluster_key != "")
        .group_by(Demand.cluster_key)
    )
    counts = [ClusterCount(k, label or k, int(n)) for k, label, n in (await session.execute(stmt)).all()]
    counts.sort(key=lambda c: (-c.count, c.key))
    return counts


async def cluster_samples(
    session: AsyncSession, key: str, since: datetime, until: datetime
) -> list[DemandSample]:
    """The cluster's demands, newest first, with the quote's text read from the ledger."""
    stmt = (
        select(Demand.id, Demand.text, Demand.quote_id, User.name, Customer.name, Demand.created_at)
        .join(User, User.id == Demand.rep_id)
        .outerjoin(Customer, Customer.id == Demand.customer_id)
        .where(Demand.cluster_key == key, Demand.created_at >= since, Demand.created_at < until)
        .order_by(Demand.created_at.desc(), Demand.id.desc())
    )
    rows = (await session.execute(stmt)).all()
    views = await load_views(session, (r[2] for r in rows))
    samples: list[DemandSample] = []
    for i, copy, quote_id, rep, customer, created in rows:
        view = views.get(quote_id or 0)
        text, changed = shown_text(view, copy)
        notes = quote_notes(view, copy, changed=changed)
        samples.append(DemandSample(i, text, rep, customer or "（未关联客户）", created, notes))
    return samples
