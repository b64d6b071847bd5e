"""Writing a validated import: every customer audited, in the caller's one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, profiles
from domain.customer_import.plan import CustomerRow
from domain.identity.store import AliasRefused, add_alias
from storage.models import Customer


async def apply(
    session: AsyncSession,
    *,
    now: datetime,
    rows: list[CustomerRow],
    source: str,
    existing_aliases: Sequence[tuple[int, int, str]] = (),
) -> list[Customer]:
    """Create the rows' customers with their aliases; add ``existing_aliases`` (line, customer id,
    alias) to customers already in the database. The plan checked every alias: one taken meanwhile
    raises ValueError naming its line (the caller's transaction then writes nothing)."""
    created = []
    for row in rows:
        customer = await profiles.create_customer(
            session,
            now=now,
            name=row.name,
            owner_id=row.owner.id if row.owner else None,
            kind=row.kind,
            grade=row.grade,
            region=row.region,
            shared=row.shared,
            key_persons=row.key_persons,
        )
        customer.preferences = row.preferences
        audit.record(
            session,
            now=now,
            actor_id=None,
            action="customer.import",
            entity_type="customer",
            entity_id=customer.id,
            after={
                "name": customer.name,
                "owner_id": customer.owner_id,
                "line": row.line,
                "key_persons": [p.name for p in row.key_persons],
                "profile_complete": customer.profile_complete,
            },
            source_event=source,
        )
        created.append(customer)
        for alias in row.aliases:
            await _alias(session, now, customer, alias, row.line)
    for line, customer_id, alias in existing_aliases:
        owner = await session.get(Customer, customer_id)
        if owner is not None:
            await _alias(session, now, owner, alias, line)
    return created


async def _alias(session: AsyncSession, now: datetime, customer: Customer, alias: str, line: int) -> None:
    try:
        await add_alias(session, customer=customer, alias=alias, now=now, user=None, source="import")
    except AliasRefused as exc:
        raise ValueError(f"line {line}: {exc.reason}") from None
