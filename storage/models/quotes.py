"""The verbatim-quote ledger: append-only, hash-chained; corrections are separate annotations.

Nothing edits or deletes a quote. The ORM refuses it here (flushes of changed or deleted ``Quote`` objects
and ORM ``update()``/``delete()`` statements); the database refuses it too (migration 0002's triggers), so
raw SQL fails as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from storage.base import Base
from storage.types import UTCDateTime


class QuoteImmutableError(Exception):
    """A quote cannot be changed or deleted; add a QuoteAnnotation instead."""


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    audio_sha256: Mapped[str] = mapped_column(String(64))
    audio_path: Mapped[str] = mapped_column(String(500))
    audio_format: Mapped[str] = mapped_column(String(20), default="")
    transcript: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10))
    duration_s: Mapped[float] = mapped_column(Float)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    platform_recognition: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class QuoteAnnotation(Base):
    """A correction (``kind`` correction, by a rep) or a flag (``doubt``, by the system) about a quote.

    Annotations are a second append-only hash chain (migration 0009): ``hash`` covers ``seq``,
    ``prev_hash``, the time, the quote and its hash, the author, the kind and the text."""

    __tablename__ = "quote_annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seq: Mapped[int | None] = mapped_column(unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="correction", server_default="correction")
    quote_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)


@event.listens_for(Quote, "before_update")
@event.listens_for(QuoteAnnotation, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: Quote | QuoteAnnotation) -> None:
    raise QuoteImmutableError(
        f"{type(target).__name__} {target.id} cannot be changed; add a quote annotation instead"
    )


@event.listens_for(Quote, "before_delete")
@event.listens_for(QuoteAnnotation, "before_delete")
def _refuse_delete(mapper: Any, connection: Any, target: Quote | QuoteAnnotation) -> None:
    raise QuoteImmutableError(f"{type(target).__name__} {target.id} cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper in (
        Quote.__mapper__,
        QuoteAnnotation.__mapper__,
    ):
        raise QuoteImmutableError("quotes cannot be changed or deleted; add a quote annotation instead")
