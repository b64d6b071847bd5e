"""Customer profiles and their decision chain: creation, key persons, completeness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.names import normalize
from domain.safe_text import clean_name, tidy_name
from storage.models import Customer, KeyPerson

MIN_KEY_PERSONS = 2
ROLE_GROUPS = ("采购科", "设备科", "临床科室", "院领导", "其他")


@dataclass(frozen=True)
class KeyPersonInput:
    role_group: str
    name: str
    title: str = ""
    last_contact_on: date | None = None
    phone: str = ""


def active_key_persons(customer: Customer) -> list[KeyPerson]:
    return [p for p in customer.key_persons if p.status == "active"]


def missing_key_persons(customer: Customer) -> int:
    """How many more key persons the decision chain needs (0 when complete)."""
    return max(0, MIN_KEY_PERSONS - len(active_key_persons(customer)))


async def create_customer(
    session: AsyncSession,
    *,
    now: datetime,
    name: str,
    owner_id: int | None,
    kind: str = "",
    grade: str = "",
    region: str = "",
    shared: bool = False,
    key_persons: list[KeyPersonInput] | tuple[KeyPersonInput, ...] = (),
) -> Customer:
    """A new lead with its decision chain; ``profile_complete`` says whether the chain has 2+ people."""
    name = clean_name(name)  # BadText: callers check first and answer with its reason
    customer = Customer(
        name=name,
        normalized_name=normalize(name),
        kind=kind,
        grade=grade,
        region=region,
        owner_id=owner_id,
        shared=shared,
        stage="lead",
        status="active",
        profile_complete=False,
        preferences="",
        is_valid_lead=True,
        lead_created_at=now,
        created_at=now,
        updated_at=now,
    )
    customer.key_persons = []
    customer.tags = []
    session.add(customer)
    await session.flush()
    for person in key_persons:
        await add_key_person(session, now=now, customer=customer, person=person)
    return customer


async def add_key_person(
    session: AsyncSession, *, now: datetime, customer: Customer, person: KeyPersonInput
) -> KeyPerson:
    row = KeyPerson(
        customer_id=customer.id,
        role_group=person.role_group,
        name=tidy_name(person.name),
        title=person.title.strip(),
        phone=person.phone.strip(),
        last_contact_on=person.last_contact_on,
        status="active",
        created_at=now,
        updated_at=now,
    )
    customer.key_persons.append(row)
    session.add(row)
    customer.profile_complete = missing_key_persons(customer) == 0
    customer.updated_at = now
    await session.flush()
    return row


def key_person_snapshot(person: KeyPerson) -> dict[str, object]:
    return {
        "role_group": person.role_group,
        "name": person.name,
        "title": person.title,
        "last_contact_on": person.last_contact_on,
    }
