"""Writing a validated import: every customer audited, in the caller's one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, profiles
from domain.customer_import.plan import CustomerRow
from storage.models import Customer


async def apply(
    session: AsyncSession, *, now: datetime, rows: list[CustomerRow], source: str
) -> list[Customer]:
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
    return created
