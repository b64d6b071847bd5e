"""The board's own tables: daily metric snapshots and one-time login links."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.types import UTCDateTime


class MetricSnapshot(Base):
    """The three health metrics of one day for one scope.

    ``scope`` is ``all`` (key ""), ``team`` (key: the team name) or ``rep`` (key: the user id). Written
    once a day by the ``board-snapshot`` job; the board draws the daily history from here."""

    __tablename__ = "metric_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    compliance: Mapped[float | None] = mapped_column(Float)
    compliance_due: Mapped[int] = mapped_column(Integer, default=0)
    conversion: Mapped[float | None] = mapped_column(Float)
    leads: Mapped[int] = mapped_column(Integer, default=0)
    freshness_hours: Mapped[float | None] = mapped_column(Float)
    valid_updates: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BoardLink(Base):
    """A one-time login link (``看板``): only the SHA-256 of the token is stored."""

    __tablename__ = "board_links"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    next_path: Mapped[str] = mapped_column(String(300), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
