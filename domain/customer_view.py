"""Everything a visitor should know about a customer, gathered for the visit brief and `客户 <名称>`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity.store import aliases_of
from domain.profiles import MIN_KEY_PERSONS, active_key_persons
from domain.quotes import QuoteView, load_views, render_quote
from storage.models import (
    CompetitorAnalysis,
    Customer,
    Demand,
    DemandStatus,
    KeyPerson,
    Order,
    ProgressUpdate,
    ReviewStatus,
    User,
)

REVIEWED_OR_PENDING = (ReviewStatus.PENDING_REVIEW, ReviewStatus.APPROVED, ReviewStatus.COMMENTED)


@dataclass(frozen=True)
class ContactView:
    person: KeyPerson
    days_since_contact: int | None
    stale: bool


@dataclass(frozen=True)
class TagView:
    tag: str
    basis: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class UpdateView:
    update: ProgressUpdate
    rep: str
    demand: Demand | None = None  # the demand a 需求确认 update was written with
    quote: QuoteView | None = None  # that demand's ledger quote

    @property
    def note(self) -> str:
        """The update's note; for a demand, its quote as the ledger shows it (with its corrections)
        rather than the copy taken when it was filed."""
        if self.demand is None:
            return self.update.note
        return render_quote(self.quote, self.demand.text)


@dataclass
class CustomerView:
    customer: Customer
    owner: str
    contacts: list[ContactView] = field(default_factory=list)
    tags: list[TagView] = field(default_factory=list)
    updates: list[UpdateView] = field(default_factory=list)
    demands: list[Demand] = field(default_factory=list)
    quotes: dict[int, QuoteView] = field(default_factory=dict)  # the demands' ledger quotes by id
    competitors: list[CompetitorAnalysis] = field(default_factory=list)
    missing_key_persons: int = 0
    orders: list[Order] = field(default_factory=list)  # latest signed orders, newest first
    stage_label: str = ""
    aliases: list[str] = field(default_factory=list)


def contact_view(person: KeyPerson, today: date, stale_days: int) -> ContactView:
    if person.last_contact_on is None:
        return ContactView(person, None, True)
    days = (today - person.last_contact_on).days
    return ContactView(person, days, days > stale_days)


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows}


async def gather(
    session: AsyncSession,
    customer: Customer,
    *,
    today: date,
    stale_days: int,
    updates: int = 3,
    demands: int = 5,
    competitors: int = 2,
    orders: int = 3,
    stage_labels: dict[str, str] | None = None,
) -> CustomerView:
    """The profile, decision chain (stale contacts flagged), tags, latest updates, open demands and
    the latest competitor notes of one customer."""
    update_rows = list(
        (
            await session.execute(
                select(ProgressUpdate)
                .where(ProgressUpdate.customer_id == customer.id, ProgressUpdate.valid.is_(True))
                .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
                .limit(updates)
            )
        ).scalars()
    )
    demand_rows = list(
        (
            await session.execute(
                select(Demand)
                .where(Demand.customer_id == customer.id, Demand.status == DemandStatus.OPEN)
                .order_by(Demand.created_at.desc(), Demand.id.desc())
                .limit(demands)
            )
        ).scalars()
    )
    competitor_rows = list(
        (
            await session.execute(
                select(CompetitorAnalysis)
                .where(
                    CompetitorAnalysis.customer_id == customer.id,
                    CompetitorAnalysis.status.in_(REVIEWED_OR_PENDING),
                )
                .order_by(CompetitorAnalysis.created_at.desc(), CompetitorAnalysis.id.desc())
                .limit(competitors)
            )
        ).scalars()
    )
    order_rows = list(
        (
            await session.execute(
                select(Order)
                .where(Order.customer_id == customer.id, Order.signed.is_(True))
                .order_by(Order.order_date.desc(), Order.id.desc())
                .limit(orders)
            )
        ).scalars()
    )
    filed = await _demands_of_updates(session, customer.id, update_rows)
    people = {u.rep_id for u in update_rows} | {t.author_id for t in customer.tags if t.author_id}
    if customer.owner_id:
        people.add(customer.owner_id)
    names = await _names(session, people)

    # One line per tag: the latest basis wins, earlier ones remain in the audit trail.
    latest: OrderedDict[str, TagView] = OrderedDict()
    for tag in sorted(customer.tags, key=lambda t: (t.created_at, t.id)):
        latest.pop(tag.tag, None)
        latest[tag.tag] = TagView(tag.tag, tag.basis, names.get(tag.author_id or 0, ""), tag.created_at)

    contacts = [contact_view(p, today, stale_days) for p in active_key_persons(customer)]
    quotes = await load_views(session, [*(d.quote_id for d in demand_rows), *map(_quote_of, filed.values())])
    return CustomerView(
        customer=customer,
        owner=names.get(customer.owner_id or 0, ""),
        contacts=contacts,
        tags=list(latest.values()),
        updates=[
            UpdateView(u, names.get(u.rep_id, ""), filed.get(u.id), quotes.get(_quote_of(filed.get(u.id))))
            for u in update_rows
        ],
        demands=demand_rows,
        quotes=quotes,
        competitors=competitor_rows,
        missing_key_persons=max(0, MIN_KEY_PERSONS - len(contacts)),
        orders=order_rows,
        stage_label=(stage_labels or {}).get(customer.stage, customer.stage),
        aliases=await aliases_of(session, customer.id),
    )


def _quote_of(demand: Demand | None) -> int:
    return (demand.quote_id or 0) if demand is not None else 0


async def _demands_of_updates(
    session: AsyncSession, customer_id: int, updates: list[ProgressUpdate]
) -> dict[int, Demand]:
    """The demand each 需求确认 update was written with, by update id. Both rows are written in the same
    turn (same customer, rep and time), so they are matched on those; the update keeps only a copy of
    the quote's text, which is not what people should read once the quote is corrected."""
    wanted = [u for u in updates if u.kind == "demand"]
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(Demand).where(
                Demand.customer_id == customer_id,
                Demand.created_at.in_({u.created_at for u in wanted}),
            )
        )
    ).scalars()
    by_key = {(d.rep_id, d.created_at): d for d in rows}
    found = {u.id: by_key.get((u.rep_id, u.created_at)) for u in wanted}
    return {uid: d for uid, d in found.items() if d is not None}
