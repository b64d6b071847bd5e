"""Customer profiles and their decision chain: creation, key persons, completeness, personality tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.names import normalize
from domain.safe_text import clean_name, tidy_name
from storage.models import Customer, CustomerStatus, KeyPerson, KeyPersonStatus, PersonalityTag

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
    return [p for p in customer.key_persons if p.status == KeyPersonStatus.ACTIVE]


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
        status=CustomerStatus.ACTIVE,
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


def same_person(customer: Customer, name: str) -> KeyPerson | None:
    """The customer's key person of that name (an active one first), if recorded."""
    wanted = normalize(name)
    found = [p for p in customer.key_persons if normalize(p.name) == wanted]
    found.sort(key=lambda p: (p.status != KeyPersonStatus.ACTIVE, -p.id))
    return found[0] if found else None


async def upsert_key_person(
    session: AsyncSession, *, now: datetime, customer: Customer, person: KeyPersonInput
) -> tuple[KeyPerson, bool]:
    """Add ``person`` to the chain, or update the entry of the same name (adding someone again
    refreshes their role, title, phone and contact date, and makes them active). Returns (row, created)."""
    row = same_person(customer, person.name)
    if row is not None:
        row.role_group = person.role_group or row.role_group
        row.title = person.title.strip() or row.title
        row.phone = person.phone.strip() or row.phone
        if person.last_contact_on and (
            row.last_contact_on is None or person.last_contact_on > row.last_contact_on
        ):
            row.last_contact_on = person.last_contact_on
        row.status, row.replaced_by_id, row.updated_at = KeyPersonStatus.ACTIVE, None, now
        customer.profile_complete = missing_key_persons(customer) == 0
        customer.updated_at = now
        await session.flush()
        return row, False
    row = KeyPerson(
        customer_id=customer.id,
        role_group=person.role_group,
        name=tidy_name(person.name),
        title=person.title.strip(),
        phone=person.phone.strip(),
        last_contact_on=person.last_contact_on,
        status=KeyPersonStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    customer.key_persons.append(row)
    session.add(row)
    customer.profile_complete = missing_key_persons(customer) == 0
    customer.updated_at = now
    await session.flush()
    return row, True


async def add_key_person(
    session: AsyncSession, *, now: datetime, customer: Customer, person: KeyPersonInput
) -> KeyPerson:
    row, _ = await upsert_key_person(session, now=now, customer=customer, person=person)
    return row


def mark_contacted(person: KeyPerson, day: date, now: datetime) -> bool:
    """Record a contact on ``day`` (never moves the date back). Returns whether it changed."""
    if person.last_contact_on is not None and person.last_contact_on >= day:
        return False
    person.last_contact_on, person.updated_at = day, now
    return True


def set_title(person: KeyPerson, title: str, now: datetime) -> None:
    person.title, person.updated_at = title.strip(), now


def set_phone(person: KeyPerson, phone: str, now: datetime) -> None:
    person.phone, person.updated_at = phone.strip(), now


def mark_replaced(person: KeyPerson, successor: KeyPerson, now: datetime) -> None:
    """``successor`` took over from ``person``, who leaves the active chain."""
    person.status, person.replaced_by_id, person.updated_at = KeyPersonStatus.REPLACED, successor.id, now


def mark_left(person: KeyPerson, now: datetime) -> None:
    """The person left; they leave the active chain."""
    person.status, person.updated_at = KeyPersonStatus.LEFT, now


def refresh_complete(customer: Customer) -> bool:
    """Recompute ``profile_complete`` after the chain changed; returns it."""
    customer.profile_complete = missing_key_persons(customer) == 0
    return customer.profile_complete


def key_person_snapshot(person: KeyPerson) -> dict[str, object]:
    return {
        "role_group": person.role_group,
        "name": person.name,
        "title": person.title,
        "last_contact_on": person.last_contact_on,
        "phone": person.phone,
        "status": person.status,
        "replaced_by_id": person.replaced_by_id,
    }


async def add_tag(
    session: AsyncSession, customer: Customer, *, tag: str, basis: str, author_id: int, now: datetime
) -> PersonalityTag:
    """One personality tag on the customer, with what it is based on (shown in every later brief)."""
    row = PersonalityTag(customer_id=customer.id, tag=tag, basis=basis, author_id=author_id, created_at=now)
    customer.tags.append(row)
    session.add(row)
    await session.flush()
    return row


def set_preferences(customer: Customer, preferences: str) -> None:
    """The decision makers' preferences (决策者偏好), shown in every later brief."""
    customer.preferences = preferences
