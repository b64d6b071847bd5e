"""A visit photo seen before: the same file, or a near-identical copy (re-encoded, resized)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.photos import SIMILAR_MAX_DISTANCE, hash_distance
from storage.models import Customer, Photo, Visit, VisitStatus


@dataclass(frozen=True)
class EarlierPhoto:
    """The earlier photo a new one matches, and where it was used."""

    photo_id: int
    exact: bool  # the very same file
    distance: int  # differing bits of the perceptual hash (0 for the same file)
    customer_name: str
    rep_id: int  # who used it then
    when: datetime  # the visit's time (its end, else its start), else when the photo was stored


async def find_earlier(
    session: AsyncSession, *, media_id: int, phash: str | None, visit_id: int | None = None
) -> EarlierPhoto | None:
    """The closest earlier photo: the same stored file first, else the nearest perceptual hash within
    SIMILAR_MAX_DISTANCE bits (the oldest on a tie). Photos of ``visit_id`` itself do not count: a
    second picture of the same visit is not a reuse. Photos are few enough per company to compare
    every hash in Python (one indexed query, 64-bit XORs)."""
    query = select(Photo.id, Photo.media_id, Photo.phash, Photo.visit_id).order_by(Photo.created_at, Photo.id)
    best: tuple[int, int, bool] | None = None  # distance, photo id, exact
    for photo_id, other_media, other_hash, other_visit in (await session.execute(query)).all():
        if visit_id is not None and other_visit == visit_id:
            continue
        if other_media == media_id:
            best = (0, photo_id, True)
            break
        if phash and other_hash:
            d = hash_distance(phash, other_hash)
            if d <= SIMILAR_MAX_DISTANCE and (best is None or d < best[0]):
                best = (d, photo_id, False)
    if best is None:
        return None
    distance, photo_id, exact = best
    photo = await session.get(Photo, photo_id)
    if photo is None:  # removed in between: nothing to point at
        return None
    visit = await session.get(Visit, photo.visit_id) if photo.visit_id else None
    customer = await session.get(Customer, photo.customer_id) if photo.customer_id else None
    when = visit_time(visit) if visit else None
    return EarlierPhoto(
        photo_id=photo.id,
        exact=exact,
        distance=distance,
        customer_name=customer.name if customer else (visit.customer_text if visit else ""),
        rep_id=photo.rep_id,
        when=when or photo.created_at,
    )


def visit_time(visit: Visit) -> datetime:
    """When a visit happened: its end (reported, else planned), else its planned start."""
    return visit.done_at or visit.planned_end or visit.planned_start or visit.created_at


async def recent_visit(
    session: AsyncSession, *, rep_id: int, now: datetime, within: timedelta
) -> Visit | None:
    """The rep's latest visit with a customer that happened (or is under way) in the last ``within``:
    the visit a photo sent outside any form most likely belongs to."""
    rows = await session.scalars(
        select(Visit).where(
            Visit.rep_id == rep_id,
            Visit.customer_id.is_not(None),
            Visit.status != VisitStatus.CANCELLED,
            or_(
                Visit.done_at >= now - within,
                Visit.planned_end >= now - within,
                Visit.planned_start >= now - within,
            ),
        )
    )
    candidates = [
        v for v in rows if now - within <= visit_time(v) and (v.planned_start or v.created_at) <= now
    ]
    return max(candidates, key=lambda v: (visit_time(v), v.id)) if candidates else None
