"""Outcomes recorded from real events: signed orders (imported or told in chat) and stage changes.

These are the only writers of ``customers.first_order_at``, ``last_deal_at`` and ``stage`` outside the
demo seeder, and what the zombie scan, lead conversion and the digest read:

* a signed order dated D sets ``first_order_at`` to the earliest and ``last_deal_at`` to the latest
  order moment seen, and moves a customer in a stage before the won stage (a lead or prospect) to the
  won stage; a customer already at or past it keeps its stage;
* a stage change sets ``stage``; a visit's core progress moves the stage forward only.

Every change is audited by the caller's actor and source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime, time, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.audit import snapshot
from domain.stages import Stages
from storage.models import Customer

OUTCOME_FIELDS = ("stage", "first_order_at", "last_deal_at")


@dataclass(frozen=True)
class Outcome:
    customer: Customer
    before: dict[str, object]
    after: dict[str, object]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def stage_moved(self) -> bool:
        return self.before.get("stage") != self.after.get("stage")


def order_moment(day: date_type, tz: tzinfo, now: datetime) -> datetime:
    """When an order dated ``day`` counts as signed: noon local time that day, never after ``now``."""
    moment = datetime.combine(day, time(12), tzinfo=tz)
    return min(moment, now)


def apply_deal(customer: Customer, when: datetime, stages: Stages, now: datetime) -> Outcome:
    """Record a signed deal at ``when`` on ``customer`` (no audit; see :func:`record_deal`)."""
    before = snapshot(customer, OUTCOME_FIELDS)
    if customer.first_order_at is None or when < customer.first_order_at:
        customer.first_order_at = when
    if customer.last_deal_at is None or when > customer.last_deal_at:
        customer.last_deal_at = when
    if stages.before_won(customer.stage):
        customer.stage = stages.won
    after = snapshot(customer, OUTCOME_FIELDS)
    if before != after:
        customer.updated_at = now
    return Outcome(customer, before, after)


def record_deal(
    session: AsyncSession,
    customer: Customer,
    *,
    when: datetime,
    stages: Stages,
    now: datetime,
    actor_id: int | None,
    source: str,
    details: dict[str, object] | None = None,
) -> Outcome:
    """Apply a signed deal and audit it (``deal.record``) when it changed anything or has details."""
    outcome = apply_deal(customer, when, stages, now)
    audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action="deal.record",
        entity_type="customer",
        entity_id=customer.id,
        before=outcome.before,
        after={**outcome.after, **(details or {})},
        source_event=source,
    )
    return outcome


def set_stage(
    session: AsyncSession,
    customer: Customer,
    stage: str,
    *,
    now: datetime,
    actor_id: int | None,
    source: str,
    reason: str = "",
) -> Outcome:
    """Set ``stage`` (audited as ``customer.stage``); nothing is written when it is already so."""
    before = snapshot(customer, ("stage",))
    if customer.stage != stage:
        customer.stage = stage
        customer.updated_at = now
        audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action="customer.stage",
            entity_type="customer",
            entity_id=customer.id,
            before=before,
            after={"stage": stage, **({"reason": reason} if reason else {})},
            source_event=source,
        )
    return Outcome(customer, before, snapshot(customer, ("stage",)))


def stage_for_progress(stages: Stages, customer: Customer, progress: str) -> str | None:
    """The stage a visit's core progress implies, when it is further along than the customer's."""
    target = stages.from_progress.get(progress)
    if target is None or stages.rank(target) <= stages.rank(customer.stage):
        return None
    return target
