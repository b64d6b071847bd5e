"""Demands in the database: assign clusters to new rows, count clusters in a trailing window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import theme_book
from domain.clustering import Clusterer, DemandItem, KnownCluster
from domain.quotes import load_views, render_quote, shown_text
from storage.models import Customer, Demand, DemandCluster, User
from storage.upsert import insert_ignore


@dataclass(frozen=True)
class ClusterCount:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class DemandSample:
    id: int
    text: str  # the quote's text from the ledger (the demand's copy when it has no quote)
    rep: str
    customer: str
    created_at: datetime
    scenario: str = ""
    label: str = ""
    shown: str = ""  # the quote as :func:`domain.quotes.render_quote` shows it, in 「」

    def line(self, *, scenario: bool = True) -> str:
        """The quote as rendered — 销售 · 客户 · 场景, as alerts and theme lists show a quote (``scenario``
        False: without 场景, for a list whose heading names it)."""
        named = f" · 场景：{self.scenario}" if scenario and self.scenario else ""
        return f"{self.shown or f'「{self.text}」'}— {self.rep} · {self.customer}{named}"


async def _known(session: AsyncSession, now: datetime, skip: set[str]) -> list[KnownCluster]:
    since = now - timedelta(days=theme_book.KNOWN_CLUSTER_DAYS)
    stmt = (
        select(Demand.cluster_key, Demand.cluster_label, Demand.text)
        .where(Demand.cluster_key.like("d-%"), Demand.created_at >= since)
        .order_by(Demand.id.desc())
    )
    if skip:
        stmt = stmt.where(Demand.cluster_key.not_in(sorted(skip)))
    texts: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}
    for key, label, text in (await session.execute(stmt)).all():
        labels[key] = label
        if len(texts[key]) < theme_book.KNOWN_MEMBERS:
            texts[key].append(text)
    return [KnownCluster(k, labels[k], tuple(v)) for k, v in texts.items()]


async def _recent_texts(session: AsyncSession, now: datetime) -> list[str]:
    """Texts of the demands of the last KNOWN_CLUSTER_DAYS (at most 2,000, newest first): what the
    dictionary's fit is measured on."""
    stmt = (
        select(Demand.text)
        .where(Demand.created_at >= now - timedelta(days=theme_book.KNOWN_CLUSTER_DAYS), Demand.text != "")
        .order_by(Demand.id.desc())
        .limit(2000)
    )
    return list((await session.execute(stmt)).scalars())


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
    await theme_book.seed(session, clusterer.book, now)
    book = await theme_book.view(session, clusterer.book, now)
    kept = {k.key for k in book.kept}
    known = [*book.kept, *await _known(session, now, kept | set(book.merged))]
    recent = await _recent_texts(session, now)
    assignments = Clusterer(book.book, semantic=clusterer.semantic).cluster(
        items, known=known, recent=[*recent, *(i.text for i in items)]
    )
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    pulled: set[str] = set()  # merged clusters that pulled a demand: alive for another while
    for (demand_id, _, _), a in zip(rows, assignments, strict=True):
        key = book.resolve(a.key)
        if key != a.key:
            pulled.add(a.key)
        by_key[(key, book.label(key, a.label))].append(demand_id)
        if a.kind == "discovered" and key == a.key and key not in book.labels:
            await insert_ignore(
                session,
                DemandCluster,
                {
                    "key": a.key,
                    "label": a.label,
                    "kind": "discovered",
                    "created_at": now,
                    "examples": [],
                    "keywords": [],
                    "merged_into": "",
                },
            )
    for (key, label), ids in by_key.items():
        await session.execute(
            update(Demand).where(Demand.id.in_(ids)).values(cluster_key=key, cluster_label=label[:100])
        )
    if pulled:
        await session.execute(
            update(DemandCluster).where(DemandCluster.key.in_(sorted(pulled))).values(updated_at=now)
        )
    return len(rows)


async def cluster_counts(
    session: AsyncSession, since: datetime, until: datetime, rep_ids: set[int] | None = None
) -> list[ClusterCount]:
    """Demands per cluster created in [since, until) (by ``rep_ids``; None = all), most frequent first."""
    stmt = (
        select(Demand.cluster_key, func.max(Demand.cluster_label), func.count())
        .where(Demand.created_at >= since, Demand.created_at < until, Demand.cluster_key != "")
        .group_by(Demand.cluster_key)
    )
    if rep_ids is not None:
        stmt = stmt.where(Demand.rep_id.in_(rep_ids))
    counts = [ClusterCount(k, label or k, int(n)) for k, label, n in (await session.execute(stmt)).all()]
    counts.sort(key=lambda c: (-c.count, c.key))
    return counts


def _samples_stmt(since: datetime | None, until: datetime) -> Any:
    """The sample rows created before ``until`` (and at or after ``since`` unless it is None)."""
    stmt = (
        select(
            Demand.id,
            Demand.text,
            User.name,
            Customer.name,
            Demand.created_at,
            Demand.scenario,
            Demand.cluster_label,
            Demand.quote_id,
        )
        .join(User, User.id == Demand.rep_id)
        .outerjoin(Customer, Customer.id == Demand.customer_id)
        .where(Demand.created_at < until)
        .order_by(Demand.created_at.desc(), Demand.id.desc())
    )
    return stmt if since is None else stmt.where(Demand.created_at >= since)


async def _samples(session: AsyncSession, rows: Sequence[Any]) -> list[DemandSample]:
    """The rows as samples, each quote's text read from (and checked against) the ledger."""
    views = await load_views(session, (r[7] for r in rows))
    samples = []
    for i, copy, rep, customer, created, scenario, label, quote_id in rows:
        view = views.get(quote_id or 0)
        text = shown_text(view, copy)[0]
        shown = render_quote(view, copy, marks="「」")
        who = customer or "（未关联客户）"
        samples.append(DemandSample(i, text, rep, who, created, scenario or "", label or "", shown))
    return samples


async def cluster_samples(
    session: AsyncSession,
    key: str,
    since: datetime,
    until: datetime,
    rep_ids: set[int] | None = None,
    *,
    unalerted: bool = False,
) -> list[DemandSample]:
    """The demands of one cluster in [since, until), newest first (by ``rep_ids``; None = all; only
    those no alert has counted yet when ``unalerted``)."""
    stmt = _samples_stmt(since, until).where(Demand.cluster_key == key)
    if rep_ids is not None:
        stmt = stmt.where(Demand.rep_id.in_(rep_ids))
    if unalerted:
        stmt = stmt.where(Demand.alerted_at.is_(None))
    return await _samples(session, (await session.execute(stmt)).all())


@dataclass(frozen=True)
class ScenarioSpan:
    """The demands filed under one scenario before a moment: how many, how many of them in the recent
    window, and when the oldest was filed (None when there is none)."""

    total: int
    recent: int
    oldest: datetime | None


def _scenario_filter(stmt: Any, scenario: str, rep_ids: set[int] | None) -> Any:
    stmt = stmt.where(Demand.scenario == scenario)
    return stmt if rep_ids is None else stmt.where(Demand.rep_id.in_(rep_ids))


async def scenario_span(
    session: AsyncSession, scenario: str, since: datetime, until: datetime, rep_ids: set[int] | None = None
) -> ScenarioSpan:
    """How far back the demands a rep filed under ``scenario`` reach (by ``rep_ids``; None = all): every
    one created before ``until``, and how many of them at or after ``since``."""
    recent = func.coalesce(func.sum(case((Demand.created_at >= since, 1), else_=0)), 0)
    stmt = select(func.count(), recent, func.min(Demand.created_at)).where(Demand.created_at < until)
    total, in_window, oldest = (await session.execute(_scenario_filter(stmt, scenario, rep_ids))).one()
    return ScenarioSpan(int(total), int(in_window), oldest)


async def scenario_samples(
    session: AsyncSession,
    scenario: str,
    until: datetime,
    rep_ids: set[int] | None = None,
    *,
    limit: int,
    offset: int = 0,
) -> list[DemandSample]:
    """The demands a rep filed under ``scenario`` before ``until``, of any age, newest first (by
    ``rep_ids``): ``limit`` of them after skipping ``offset``."""
    stmt = _scenario_filter(_samples_stmt(None, until), scenario, rep_ids).limit(limit).offset(offset)
    return await _samples(session, (await session.execute(stmt)).all())


async def scenarios_in_use(session: AsyncSession) -> set[str]:
    return {s for s in (await session.execute(select(Demand.scenario).distinct())).scalars() if s}


async def unalerted_counts(session: AsyncSession, since: datetime, until: datetime) -> list[ClusterCount]:
    """Per cluster, the demands in [since, until) that no earlier alert counted, most first."""
    stmt = (
        select(Demand.cluster_key, func.max(Demand.cluster_label), func.count())
        .where(
            Demand.created_at >= since,
            Demand.created_at < until,
            Demand.cluster_key != "",
            Demand.alerted_at.is_(None),
        )
        .group_by(Demand.cluster_key)
    )
    counts = [ClusterCount(k, label or k, int(n)) for k, label, n in (await session.execute(stmt)).all()]
    counts.sort(key=lambda c: (-c.count, c.key))
    return counts


async def mark_alerted(session: AsyncSession, ids: list[int], now: datetime) -> None:
    await session.execute(update(Demand).where(Demand.id.in_(ids)).values(alerted_at=now))
