"""ERP orders and nightly rebate results."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.types import JSONDict, UTCDateTime


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    order_date: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    signed: Mapped[bool] = mapped_column(Boolean, default=True)
    # The end hospital the goods are for (a dealer's customer); the customer itself when empty.
    hospital: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RebateResult(Base):
    __tablename__ = "rebate_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # 2026Q1
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    inputs: Mapped[dict[str, str]] = mapped_column(JSONDict)
    formula: Mapped[str] = mapped_column(String(500))
    formula_version: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("period", "customer_id"),)
