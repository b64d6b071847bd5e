"""Trial feedback (试用反馈): the product tried, the pain points, the notes, and the PDF report kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MediaFile, TrialFeedback


def notes_with_scan(notes: str, *, lot: str | None, expiry: str | None) -> str:
    """The rep's notes, plus the lot and expiry a scanned code carried (「（扫码信息：批号 …）」)."""
    notes = notes.strip()
    extra = "，".join(x for x in (f"批号 {lot}" if lot else "", f"有效期 {expiry}" if expiry else "") if x)
    return f"{notes}\n（扫码信息：{extra}）".strip() if extra else notes


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    rep_id: int,
    customer_id: int,
    product_code: str,
    pain_points: Sequence[str],
    notes: str,
) -> TrialFeedback:
    """One trial feedback, without its PDF yet (:func:`attach_report` once it is rendered)."""
    row = TrialFeedback(
        customer_id=customer_id,
        rep_id=rep_id,
        product_code=product_code,
        pain_points=list(pain_points),
        notes=notes,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


def attach_report(row: TrialFeedback, pdf: MediaFile) -> None:
    row.pdf_media_id = pdf.id
