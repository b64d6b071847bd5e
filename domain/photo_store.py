"""Visit photos kept: the row linking the original, its stamped copy, the visit and what EXIF said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.photos import PhotoMeta
from storage.models import Photo


async def record_photo(
    session: AsyncSession,
    *,
    now: datetime,
    media_id: int,
    stamped_media_id: int | None,
    visit_id: int | None,
    customer_id: int,
    rep_id: int,
    meta: PhotoMeta,
    phash: str | None,
    reused_photo_id: int | None,
) -> Photo:
    """One photo of a customer (of a visit, when ``visit_id``); ``reused_photo_id`` marks a picture
    used before for another visit (:func:`domain.photo_reuse.find_earlier`)."""
    photo = Photo(
        media_id=media_id,
        stamped_media_id=stamped_media_id,
        visit_id=visit_id,
        customer_id=customer_id,
        rep_id=rep_id,
        taken_at=meta.taken_at,
        gps_lat=meta.gps_lat,
        gps_lon=meta.gps_lon,
        created_at=now,
        phash=phash,
        reused_photo_id=reused_photo_id,
    )
    session.add(photo)
    await session.flush()
    return photo
