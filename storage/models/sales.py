"""Demands, competitor analyses and trial feedback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.types import JSONList, UTCDateTime


class Demand(Base):
    """A demand confirmation: the customer's words, the scenario, what they tried and why it failed."""

    __tablename__ = "demands"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    scenario: Mapped[str] = mapped_column(String(40), default="")
    tried_solutions: Mapped[str] = mapped_column(Text, default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | addressed
    cluster_key: Mapped[str] = mapped_column(String(60), default="", index=True)
    cluster_label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the demand was counted in a theme alert: a quote is never alerted twice.
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_demands_cluster_created", "cluster_key", "created_at"),)


class DemandCluster(Base):
    """The theme book: seeded themes (config/themes.toml), themes the product department kept, and
    clusters discovered among demands no theme covers.

    ``kind``: ``theme`` (seeded from the TOML dictionary), ``kept`` (named in chat: its ``examples``
    and ``keywords`` pull later demands that mean the same) or ``discovered``. A merged theme keeps its
    row with ``merged_into`` set, so demands later assigned to it land in the theme it was merged into.
    """

    __tablename__ = "demand_clusters"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="discovered")  # theme | kept | discovered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    examples: Mapped[list[str]] = mapped_column(JSONList, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSONList, default=list)
    merged_into: Mapped[str] = mapped_column(String(60), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CompetitorAnalysis(Base):
    __tablename__ = "competitor_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    trigger: Mapped[str] = mapped_column(String(16), default="rep")  # rep | quote
    trigger_text: Mapped[str] = mapped_column(Text, default="")
    competitor: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[str] = mapped_column(String(100), default="")
    delivery_cycle: Mapped[str] = mapped_column(String(100), default="")
    weaknesses: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(
        String(20), default="draft"
    )  # draft | pending_review | approved | commented
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrialFeedback(Base):
    __tablename__ = "trial_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_code: Mapped[str] = mapped_column(String(100))
    pain_points: Mapped[list[str]] = mapped_column(JSONList, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    pdf_media_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
