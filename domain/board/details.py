"""One customer's page, the reviews list, themes, trials, rebates, and who may open which file.

Every function takes the viewer's :class:`Scope` and returns None (the page answers 404) for what the
viewer may not see, so a guessed or copied URL shows nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.board.scope import Scope
from domain.customer_view import CustomerView, gather
from domain.quotes import QuoteView, load_views, render_quote
from storage.models import (
    CompetitorAnalysis,
    Customer,
    Demand,
    DemandCluster,
    MediaFile,
    Photo,
    Quote,
    RebateResult,
    ReviewStatus,
    TrialFeedback,
    User,
    Visit,
)


async def names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows}


async def visible_customer(session: AsyncSession, scope: Scope, customer_id: int) -> Customer | None:
    customer = await session.get(Customer, customer_id)
    if customer is None or not scope.sees_customer(customer):
        return None
    return customer


# -- one customer -----------------------------------------------------------------------------------
@dataclass
class VisitItem:
    visit: Visit
    rep: str
    photos: list[Photo] = field(default_factory=list)


@dataclass(frozen=True)
class QuoteItem:
    quote: Quote
    rep: str
    view: QuoteView  # the ledger's view, as chat reads it
    demand: Demand | None  # the demand filed with this quote (its scenario, its copy of the text)

    @property
    def shown(self) -> str:
        return render_quote(self.view, self.demand.text if self.demand is not None else None)

    @property
    def scenario(self) -> str:
        return self.demand.scenario if self.demand is not None else ""


@dataclass
class CustomerPage:
    view: CustomerView
    visits: list[VisitItem]
    loose_photos: list[Photo]
    quotes: list[QuoteItem]
    competitors: list[tuple[CompetitorAnalysis, str]]
    trials: list[tuple[TrialFeedback, str]]


async def customer_page(
    session: AsyncSession, scope: Scope, customer_id: int, *, today: date, stale_days: int, limit: int = 30
) -> CustomerPage | None:
    customer = await visible_customer(session, scope, customer_id)
    if customer is None:
        return None
    view = await gather(
        session, customer, today=today, stale_days=stale_days, updates=limit, competitors=limit
    )
    visits = list(
        (
            await session.execute(
                select(Visit)
                .where(Visit.customer_id == customer.id)
                .order_by(
                    func.coalesce(Visit.done_at, Visit.planned_start, Visit.created_at).desc(),
                    Visit.id.desc(),
                )
                .limit(limit)
            )
        ).scalars()
    )
    photos = list(
        (
            await session.execute(
                select(Photo).where(Photo.customer_id == customer.id).order_by(Photo.created_at, Photo.id)
            )
        ).scalars()
    )
    quotes = list(
        (
            await session.execute(
                select(Quote)
                .where(Quote.customer_id == customer.id)
                .order_by(Quote.created_at.desc())
                .limit(limit)
            )
        ).scalars()
    )
    views = await load_views(session, (q.id for q in quotes))
    filed = await _demands_of_quotes(session, [q.id for q in quotes])
    analyses = list(
        (
            await session.execute(
                select(CompetitorAnalysis)
                .where(
                    CompetitorAnalysis.customer_id == customer.id,
                    CompetitorAnalysis.status != ReviewStatus.DRAFT,
                )
                .order_by(CompetitorAnalysis.created_at.desc())
                .limit(limit)
            )
        ).scalars()
    )
    trials = list(
        (
            await session.execute(
                select(TrialFeedback)
                .where(TrialFeedback.customer_id == customer.id)
                .order_by(TrialFeedback.created_at.desc())
                .limit(limit)
            )
        ).scalars()
    )
    people = {v.rep_id for v in visits} | {q.rep_id for q in quotes} | {a.rep_id for a in analyses}
    people |= {t.rep_id for t in trials}
    who = await names(session, people)
    by_visit: dict[int | None, list[Photo]] = defaultdict(list)
    for p in photos:
        by_visit[p.visit_id].append(p)
    visit_ids = {v.id for v in visits}
    return CustomerPage(
        view=view,
        visits=[VisitItem(v, who.get(v.rep_id, ""), by_visit.get(v.id, [])) for v in visits],
        loose_photos=[p for p in photos if p.visit_id not in visit_ids],
        quotes=[QuoteItem(q, who.get(q.rep_id, ""), views[q.id], filed.get(q.id)) for q in quotes],
        competitors=[(a, who.get(a.rep_id, "")) for a in analyses],
        trials=[(t, who.get(t.rep_id, "")) for t in trials],
    )


async def _demands_of_quotes(session: AsyncSession, quote_ids: list[int]) -> dict[int, Demand]:
    if not quote_ids:
        return {}
    rows = await session.execute(select(Demand).where(Demand.quote_id.in_(quote_ids)).order_by(Demand.id))
    return {int(d.quote_id or 0): d for d in rows.scalars()}


# -- reviews --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewItem:
    row: CompetitorAnalysis
    customer: str
    customer_id: int | None
    rep: str
    may_review: bool


async def reviews(session: AsyncSession, scope: Scope, *, limit: int = 100) -> list[ReviewItem]:
    """Submitted competitor analyses of the viewer's reps: pending first, then the newest."""
    if not scope.sees_customers:
        return []
    stmt = select(CompetitorAnalysis).where(CompetitorAnalysis.status != ReviewStatus.DRAFT)
    if scope.owner_ids is not None:
        stmt = stmt.where(CompetitorAnalysis.rep_id.in_(scope.owner_ids))
    pending_first = (CompetitorAnalysis.status != ReviewStatus.PENDING_REVIEW).asc()
    stmt = stmt.order_by(pending_first, CompetitorAnalysis.created_at.desc(), CompetitorAnalysis.id.desc())
    rows = list((await session.execute(stmt.limit(limit))).scalars())
    who = await names(session, {r.rep_id for r in rows})
    customers = await _customer_names(session, {r.customer_id for r in rows if r.customer_id})
    return [
        ReviewItem(
            r,
            customers.get(r.customer_id or 0, "未关联客户"),
            r.customer_id,
            who.get(r.rep_id, ""),
            reviewer_of(scope, r.rep_id),
        )
        for r in rows
    ]


def reviewer_of(scope: Scope, rep_id: int) -> bool:
    """``domain.competitors.may_review`` without a query per row: admins, and managers above the rep
    (a manager's owner ids are everyone below them in the supervisor chain, and themselves)."""
    if scope.is_admin:
        return True
    return (
        "manager" in scope.roles
        and scope.owner_ids is not None
        and rep_id in scope.owner_ids
        and (rep_id != scope.user.id)
    )


async def review_row(session: AsyncSession, scope: Scope, analysis_id: int) -> CompetitorAnalysis | None:
    row = await session.get(CompetitorAnalysis, analysis_id)
    if row is None or row.status == ReviewStatus.DRAFT or not scope.sees_owner(row.rep_id):
        return None
    return row


async def _customer_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {cid: name for cid, name in rows}


# -- demand themes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThemeSummary:
    key: str
    label: str
    total: int
    weekly: list[int]  # oldest first, one per week ending now


@dataclass(frozen=True)
class ThemeDemand:
    demand: Demand
    customer: str
    rep: str
    quote: QuoteView | None  # the demand's ledger quote, as chat reads it

    @property
    def shown(self) -> str:
        return render_quote(self.quote, self.demand.text)


async def themes(session: AsyncSession, scope: Scope, now: datetime, *, weeks: int = 8) -> list[ThemeSummary]:
    if not scope.sees_themes:
        return []
    since = now - timedelta(weeks=weeks)
    rows = await session.execute(
        select(Demand.cluster_key, Demand.cluster_label, Demand.created_at).where(
            Demand.cluster_key != "", Demand.created_at > since, Demand.created_at <= now
        )
    )
    counts: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for key, label, raw_created in rows.all():
        created = raw_created if raw_created.tzinfo else raw_created.replace(tzinfo=now.tzinfo)
        index = weeks - 1 - min(weeks - 1, int((now - created).total_seconds() // (7 * 86400)))
        counts.setdefault(key, [0] * weeks)[index] += 1
        labels[key] = label or key
    totals = await session.execute(
        select(Demand.cluster_key, func.max(Demand.cluster_label), func.count())
        .where(Demand.cluster_key != "")
        .group_by(Demand.cluster_key)
    )
    out = [
        ThemeSummary(key, labels.get(key) or label or key, int(n), counts.get(key, [0] * weeks))
        for key, label, n in totals.all()
    ]
    out.sort(key=lambda t: (-sum(t.weekly), -t.total, t.key))
    return out


async def theme_demands(
    session: AsyncSession, scope: Scope, key: str, *, limit: int = 200
) -> list[ThemeDemand] | None:
    if not scope.sees_themes:
        return None
    rows = list(
        (
            await session.execute(
                select(Demand)
                .where(Demand.cluster_key == key)
                .order_by(Demand.created_at.desc())
                .limit(limit)
            )
        ).scalars()
    )
    if not rows:
        return None
    who = await names(session, {d.rep_id for d in rows})
    customers = await _customer_names(session, {d.customer_id for d in rows if d.customer_id})
    quotes = await load_views(session, (d.quote_id for d in rows))
    return [
        ThemeDemand(
            d, customers.get(d.customer_id or 0, ""), who.get(d.rep_id, ""), quotes.get(d.quote_id or 0)
        )
        for d in rows
    ]


@dataclass(frozen=True)
class MergeTarget:
    key: str
    label: str
    total: int  # demands in the theme, all time


MAX_DISCOVERED_TARGETS = 200  # discovered clusters offered as merge targets, the largest first


async def merge_targets(session: AsyncSession, scope: Scope, key: str) -> list[MergeTarget]:
    """The live themes (not merged ones) that ``key`` could be merged into, most demands first: every
    dictionary and kept theme, and the :data:`MAX_DISCOVERED_TARGETS` largest discovered clusters that
    have demands (scans keep adding discovered clusters; empty or small ones are not worth a choice).

    Demands are counted only for those themes, through the ``cluster_key`` index."""
    if not scope.sees_themes:
        return []
    live = (DemandCluster.merged_into == "", DemandCluster.key != key)
    total = func.count(Demand.id)
    named = await session.execute(
        select(DemandCluster.key, DemandCluster.label, total)
        .outerjoin(Demand, Demand.cluster_key == DemandCluster.key)
        .where(*live, DemandCluster.kind.in_(("theme", "kept")))
        .group_by(DemandCluster.key, DemandCluster.label)
    )
    discovered = await session.execute(
        select(DemandCluster.key, DemandCluster.label, total)
        .join(Demand, Demand.cluster_key == DemandCluster.key)
        .where(*live, DemandCluster.kind.not_in(("theme", "kept")))
        .group_by(DemandCluster.key, DemandCluster.label)
        .order_by(total.desc(), DemandCluster.key)  # not by label: collations differ by backend
        .limit(MAX_DISCOVERED_TARGETS)
    )
    out = [MergeTarget(k, label or k, int(n)) for k, label, n in [*named.all(), *discovered.all()]]
    out.sort(key=lambda t: (-t.total, t.label, t.key))
    return out


# -- trial feedback --------------------------------------------------------------------------------
async def trials(
    session: AsyncSession, scope: Scope, *, limit: int = 200
) -> list[tuple[TrialFeedback, str, str, str]]:
    """(feedback, customer, region, rep) of the viewer's customers, newest first."""
    if not scope.sees_customers:
        return []
    stmt = (
        select(TrialFeedback, Customer.name, Customer.region, User.name)
        .join(Customer, Customer.id == TrialFeedback.customer_id)
        .join(User, User.id == TrialFeedback.rep_id)
        .where(scope.customer_filter())
        .order_by(TrialFeedback.created_at.desc(), TrialFeedback.id.desc())
        .limit(limit)
    )
    return [(t, c, r, u) for t, c, r, u in (await session.execute(stmt)).all()]


# -- rebates ---------------------------------------------------------------------------------------
async def rebate_periods(session: AsyncSession, scope: Scope) -> list[str]:
    if not scope.sees_rebates:
        return []
    rows = await session.execute(select(RebateResult.period).distinct().order_by(RebateResult.period.desc()))
    return [p for (p,) in rows.all()]


async def rebates(session: AsyncSession, scope: Scope, period: str) -> list[tuple[RebateResult, str]] | None:
    if not scope.sees_rebates:
        return None
    rows = await session.execute(
        select(RebateResult, Customer.name)
        .join(Customer, Customer.id == RebateResult.customer_id)
        .where(RebateResult.period == period)
        .order_by(RebateResult.amount.desc(), Customer.name)
    )
    return [(r, name) for r, name in rows.all()]


# -- files: only through something the viewer sees ---------------------------------------------------
@dataclass(frozen=True)
class ServedFile:
    path: Path
    mime: str
    name: str


def _file(media: MediaFile | None) -> ServedFile | None:
    if media is None:
        return None
    return ServedFile(Path(media.path), media.mime or "application/octet-stream", media.original_name)


async def photo_file(
    session: AsyncSession, scope: Scope, photo_id: int, *, stamped: bool = True
) -> ServedFile | None:
    photo = await session.get(Photo, photo_id)
    if photo is None:
        return None
    if photo.customer_id is not None:
        if await visible_customer(session, scope, photo.customer_id) is None:
            return None
    elif not scope.sees_owner(photo.rep_id):
        return None
    media_id = photo.stamped_media_id if stamped and photo.stamped_media_id else photo.media_id
    return _file(await session.get(MediaFile, media_id))


AUDIO_MIME = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "amr": "audio/amr",
    "m4a": "audio/mp4",
}


async def quote_audio(session: AsyncSession, scope: Scope, quote_id: int) -> ServedFile | None:
    """A quote's audio: through its customer, or for product people through a demand theme."""
    quote = await session.get(Quote, quote_id)
    if quote is None:
        return None
    allowed = False
    if quote.customer_id is not None:
        allowed = await visible_customer(session, scope, quote.customer_id) is not None
    elif scope.sees_owner(quote.rep_id):
        allowed = True
    if not allowed and scope.sees_themes:
        linked = await session.scalar(
            select(func.count()).where(Demand.quote_id == quote.id, Demand.cluster_key != "")
        )
        allowed = bool(linked)
    if not allowed:
        return None
    ext = (quote.audio_format or Path(quote.audio_path).suffix.lstrip(".")).lower()
    return ServedFile(
        Path(quote.audio_path), AUDIO_MIME.get(ext, "application/octet-stream"), f"quote-{quote.seq}.{ext}"
    )


async def trial_pdf(session: AsyncSession, scope: Scope, trial_id: int) -> ServedFile | None:
    trial = await session.get(TrialFeedback, trial_id)
    if trial is None or trial.pdf_media_id is None:
        return None
    if trial.customer_id is None:
        if not scope.sees_owner(trial.rep_id):
            return None
    elif await visible_customer(session, scope, trial.customer_id) is None:
        return None
    served = _file(await session.get(MediaFile, trial.pdf_media_id))
    if served is None:
        return None
    return ServedFile(served.path, "application/pdf", served.name or f"trial-{trial.id}.pdf")
