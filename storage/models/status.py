"""The statuses of the tables that have one, as ``StrEnum``: a member equals its string value, so
``row.status == "active"`` and ``row.status == UserStatus.ACTIVE`` mean the same, and the database
refuses any other value (a CHECK constraint ``ck_<table>_status``, migration 0006)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Table

from storage.base import Base

# The tables constrained below; imported so they are on Base.metadata whatever the import order.
from storage.models import customers, org, runtime, sales, visits  # noqa: F401


class UserStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"  # an unknown sender waiting for an admin
    INACTIVE = "inactive"


class PendingStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class KeyPersonStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"
    LEFT = "left"


class VisitStatus(StrEnum):
    PLANNED = "planned"
    APPROVED = "approved"
    DONE = "done"
    CANCELLED = "cancelled"


class FormStatus(StrEnum):
    ACTIVE = "active"
    QUEUED = "queued"  # waits for the form in front of it
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class InboxStatus(StrEnum):
    RECEIVED = "received"
    DONE = "done"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class JobRunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # passed while demo data was created, or too late for a job with catch_up=False


class DemandStatus(StrEnum):
    OPEN = "open"
    ADDRESSED = "addressed"


class ReviewStatus(StrEnum):
    """A competitor analysis on its way to the supervisor."""

    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    COMMENTED = "commented"
    WITHDRAWN = "withdrawn"  # the rep gave the draft up (放弃); its deadline was cancelled


STATUSES: dict[str, type[StrEnum]] = {
    "users": UserStatus,
    "pending_senders": PendingStatus,
    "customers": CustomerStatus,
    "key_persons": KeyPersonStatus,
    "visits": VisitStatus,
    "conversation_states": FormStatus,
    "inbound_events": InboxStatus,
    "outbox": OutboxStatus,
    "deadlines": DeadlineStatus,
    "job_runs": JobRunStatus,
    "demands": DemandStatus,
    "competitor_analyses": ReviewStatus,
}


def status_check(enum: type[StrEnum]) -> str:
    return "status IN (" + ", ".join(f"'{member.value}'" for member in enum) + ")"


def _constrain() -> None:
    for table_name, enum in STATUSES.items():
        table = Base.metadata.tables[table_name]
        assert isinstance(table, Table)
        table.append_constraint(CheckConstraint(status_check(enum), name="status"))


_constrain()
