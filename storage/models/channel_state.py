"""State a channel keeps about its own platform, in the main database (not in a side file), so every
instance sees it, ``status`` can count it, backups hold it and Alembic migrates it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class WeComCard(Base):
    """A template card sent, so a click can be mapped back to its question and the card updated."""

    __tablename__ = "wecom_cards"

    task_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[str] = mapped_column(String(200))
    userid: Mapped[str] = mapped_column(String(200))
    options: Mapped[list[Any]] = mapped_column(JSON)
    multi: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class WeComApproval(Base):
    """An approval callback acknowledged but not yet turned into an event (needs an API call)."""

    __tablename__ = "wecom_approvals"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sp_no: Mapped[str] = mapped_column(String(100))
    template_id: Mapped[str] = mapped_column(String(200))
    create_time: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|done|ignored|failed
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index(
            "ix_wecom_approvals_pending",
            "created_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )


class WeComDelivery(Base):
    """Which pieces of an outbox message WeCom accepted (``step`` = a piece's fingerprint; the empty
    step records that a send was attempted at all). A retry after a crash skips the pieces already
    delivered and turns on WeCom's duplicate check for the rest."""

    __tablename__ = "wecom_deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
