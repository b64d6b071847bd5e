"""Customers (accounts), their decision chain and personality tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base
from storage.types import UTCDateTime

STAGES = ("lead", "diagnosis", "proposal", "objection", "contract", "repurchase")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(
        String(40), default=""
    )  # 三甲医院 / 二级医院 / 民营医院 / 经销商 / 门店
    grade: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(20), default="lead")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | inactive
    profile_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    preferences: Mapped[str] = mapped_column(Text, default="")
    is_valid_lead: Mapped[bool] = mapped_column(Boolean, default=True)
    lead_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_deal_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    key_persons: Mapped[list[KeyPerson]] = relationship(
        back_populates="customer", order_by="KeyPerson.id", lazy="selectin"
    )
    tags: Mapped[list[PersonalityTag]] = relationship(
        back_populates="customer", order_by="PersonalityTag.id", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_customers_status_last_update", "status", "last_update_at"),
        # Zombie scans: per owner, by when the customer last had a deal (else became a lead, else
        # was created), active customers only.
        Index(
            "ix_customers_active_owner_deal_base",
            "owner_id",
            text("coalesce(last_deal_at, lead_created_at, created_at)"),
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )


class KeyPerson(Base):
    """A decision-chain contact. Replaced contacts stay, with ``status='replaced'``."""

    __tablename__ = "key_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    role_group: Mapped[str] = mapped_column(String(20))  # 采购科 / 设备科 / 临床科室 / 院领导 / 其他
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    last_contact_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | replaced | left
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("key_persons.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="key_persons")


class PersonalityTag(Base):
    __tablename__ = "personality_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(40))
    basis: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="tags")


class CustomerAlias(Base):
    """Another name the team uses for a customer (富阳 → 富阳区人民医院). One alias, one customer."""

    __tablename__ = "customer_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200))
    normalized: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | pick | import
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
