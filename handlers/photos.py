"""Visit photos: keep the original (already content-addressed), read EXIF, store a stamped copy."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from domain.fonts import FontMissing, find_cjk_font
from domain.photos import NotAnImage, PhotoMeta, read_meta, stamp
from handlers.context import Turn
from storage.models import Customer, MediaFile, Photo, Visit

log = logging.getLogger(__name__)


def stamp_lines(turn: Turn, customer: Customer, meta: PhotoMeta) -> list[str]:
    fmt = "%Y-%m-%d %H:%M"
    if meta.taken_at is not None:
        when = f"拍摄时间 {meta.taken_at.astimezone(turn.services.tz).strftime(fmt)}"
    else:
        when = f"上传时间 {turn.local(turn.now).strftime(fmt)}"
    if meta.gps_lat is not None and meta.gps_lon is not None:
        where = f"位置 {meta.gps_lat:.5f}, {meta.gps_lon:.5f}"
    else:
        where = f"地点 {customer.region or '未知'}"
    return [f"客户 {customer.name}", when, where, f"拜访人 {turn.user.name}"]


async def store_visit_photo(
    turn: Turn, *, media_id: int, visit: Visit | None, customer: Customer
) -> Photo | None:
    media = await turn.session.get(MediaFile, media_id)
    if media is None:
        return None
    data = await asyncio.to_thread(Path(media.path).read_bytes)
    try:
        meta = await asyncio.to_thread(read_meta, data, turn.services.tz)
    except NotAnImage:
        log.warning("photo %s is not a readable image", media.sha256)
        meta = PhotoMeta(None, None, None, 0, 0)
    stamped_id = None
    try:
        font = find_cjk_font(turn.services.settings.reports.font_path)
        stamped = await asyncio.to_thread(stamp, data, stamp_lines(turn, customer, meta), font)
    except (FontMissing, NotAnImage) as exc:
        log.warning("photo %s kept without a stamped copy: %s", media.sha256, exc)
    else:
        copy = await turn.services.files.record(
            turn.session,
            now=turn.now,
            data=stamped,
            kind="photo",
            ext="jpg",
            mime="image/jpeg",
            original_name=f"stamped-{media.sha256[:12]}.jpg",
            channel=media.channel,
        )
        stamped_id = copy.id
    photo = Photo(
        media_id=media.id,
        stamped_media_id=stamped_id,
        visit_id=visit.id if visit else None,
        customer_id=customer.id,
        rep_id=turn.user.id,
        taken_at=meta.taken_at,
        gps_lat=meta.gps_lat,
        gps_lon=meta.gps_lon,
        created_at=turn.now,
    )
    turn.session.add(photo)
    await turn.session.flush()
    turn.audit(
        "photo.add",
        "photo",
        photo.id,
        after={
            "sha256": media.sha256,
            "visit_id": photo.visit_id,
            "taken_at": meta.taken_at,
            "gps": [meta.gps_lat, meta.gps_lon] if meta.gps_lat is not None else None,
            "stamped_media_id": stamped_id,
        },
    )
    return photo


def describe(photo: Photo) -> str:
    parts = ["照片已保存"]
    if photo.stamped_media_id:
        parts.append("已加水印")
    if photo.taken_at is not None:
        parts.append("含拍摄时间")
    if photo.gps_lat is not None:
        parts.append("含位置")
    return "、".join(parts)
